"""The Lambda assets: the runtime dependencies as an arm64 CPython 3.12 layer, pyarrow as a second one (analytics),
and the services package alone.

Built into the repository's own .cache, as synth does, so that the stack tests find the layer already built.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib.metadata
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import aws_cdk as cdk  # the cdk extra, which `make test` installs
import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from infra import bundle
from services.manifests import ALL

ROOT = Path(__file__).resolve().parents[2]
EM_AARCH64 = 183
# The environment markers of Lambda's Python, which pip does not use: it reads the markers of the Python running it.
LAMBDA_MARKERS = {"python_version": bundle.RUNTIME_PYTHON, "python_full_version": f"{bundle.RUNTIME_PYTHON}.0",
                  "platform_machine": "aarch64", "sys_platform": "linux", "platform_system": "Linux", "os_name": "posix",
                  "implementation_name": "cpython", "platform_python_implementation": "CPython", "extra": ""}
HANDLER = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_]\w*")


@pytest.fixture(scope="module")
def layer() -> Path:
    return bundle.dependencies(ROOT)


@pytest.fixture(scope="module")
def packages(layer: Path) -> Path:
    return layer / "python"


@pytest.fixture(scope="module")
def code() -> Path:
    return bundle.code(ROOT)


@pytest.fixture(scope="module")
def analytics() -> Path:
    return bundle.analytics(ROOT) / "python"


def _size(tree: Path) -> int:
    return sum(path.stat().st_size for path in tree.rglob("*") if path.is_file())


def _elf_machine(path: Path) -> int:
    with path.open("rb") as file:
        header = file.read(20)
    assert header[:4] == b"\x7fELF", f"{path.name} is not an ELF file"
    return int.from_bytes(header[18:20], "little" if header[5] == 1 else "big")


def test_native_extensions_are_cpython_312_on_aarch64(packages: Path) -> None:
    extensions = sorted(packages.rglob("*.so"))
    assert {path.relative_to(packages).parts[0] for path in extensions} >= {"pydantic_core", "rpds"}
    assert {path.name: _elf_machine(path) for path in extensions} == {path.name: EM_AARCH64 for path in extensions}
    assert all(".cpython-312-aarch64-linux-gnu." in path.name or ".abi3." in path.name for path in extensions)


def test_the_layer_holds_the_runtime_dependencies_but_not_what_lambda_provides(packages: Path) -> None:
    for package in ("ocpp", "aws_lambda_powertools", "pydantic", "pydantic_core", "pydantic_settings"):
        assert (packages / package / "__init__.py").is_file(), package
    provided = [path.name for path in packages.iterdir() if canonicalize_name(path.name.split("-")[0]) in bundle.RUNTIME_PROVIDED]
    assert not provided
    assert not list(packages.rglob("__pycache__")) and not (packages / "bin").exists()
    assert sum(path.stat().st_size for path in packages.rglob("*") if path.is_file()) < 100 * 2**20


def test_every_requirement_holds_in_the_layer_for_lambdas_python(packages: Path) -> None:
    installed = {canonicalize_name(d.metadata["Name"]) for d in importlib.metadata.distributions(path=[str(packages)])}
    wanted = [Requirement(r) for r in bundle._requirements(ROOT)]
    for distribution in importlib.metadata.distributions(path=[str(packages)]):
        wanted += [Requirement(r) for r in distribution.requires or ()]
    needed = {canonicalize_name(r.name) for r in wanted if not r.marker or r.marker.evaluate(LAMBDA_MARKERS)}
    assert needed - installed - bundle.RUNTIME_PROVIDED == set()


def test_a_second_call_is_a_cache_hit_that_never_runs_pip(layer: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_pip(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a cache hit ran pip")

    monkeypatch.setattr(bundle, "_pip", no_pip)
    monkeypatch.setattr(subprocess, "run", no_pip)
    assert bundle.dependencies(ROOT) == layer


def _failing_pip(calls: list[list[str]]) -> Any:
    def pip(args: list[str]) -> subprocess.CompletedProcess[str]:
        calls.append(args)
        half = Path(args[args.index("--target") + 1])
        half.mkdir(parents=True)
        (half / "half_installed.py").write_text("")
        output = ("ERROR: Could not find a version that satisfies the requirement no-such-package>=1 (from versions: none)\n"
                  "ERROR: No matching distribution found for no-such-package>=1\n")
        return subprocess.CompletedProcess(args, 1, stdout=output)

    return pip


def test_a_failed_pip_names_the_requirement_and_leaves_no_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\ndependencies = ["Boto3>=1", "no-such-package>=1"]\n')
    calls: list[list[str]] = []
    monkeypatch.setattr(bundle, "_pip", _failing_pip(calls))
    with pytest.raises(bundle.BundleError, match=r"no-such-package>=1 as cp312 manylinux2014_aarch64") as error:
        bundle.dependencies(tmp_path)
    assert "No matching distribution found" in str(error.value)
    assert list((tmp_path / ".cache" / "lambda").iterdir()) == []
    [args] = calls
    assert "no-such-package>=1" in args and not [a for a in args if a.lower().startswith("boto3")]
    for option in (["--platform", "manylinux2014_aarch64"], ["--python-version", "3.12"], ["--implementation", "cp"]):
        assert args[args.index(option[0]):args.index(option[0]) + 2] == option
    assert "--only-binary=:all:" in args


def _handlers(value: object) -> set[str]:
    """Every "module:function" anywhere in a manifest, so that a field added later is covered too."""
    if isinstance(value, str):
        return {value} if HANDLER.fullmatch(value) else set()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        children: Any = [getattr(value, field.name) for field in dataclasses.fields(value)]
    elif isinstance(value, dict):
        children = value.values()
    elif isinstance(value, (list, tuple)):
        children = value
    else:
        return set()
    return set().union(*(_handlers(child) for child in children))


def test_code_holds_every_handler_module_and_only_the_services_package(code: Path) -> None:
    handlers = _handlers(ALL)
    assert {m.ocpp_ingress for m in ALL if m.ocpp_ingress} <= handlers
    modules = {handler.split(":")[0] for handler in handlers}
    missing = [m for m in modules if not (code / f"{m.replace('.', '/')}.py").is_file()
               and not (code / m.replace(".", "/") / "__init__.py").is_file()]
    assert not missing
    assert [path.name for path in code.iterdir()] == ["services"]
    junk = [p for p in code.rglob("*") if p.name in ("__pycache__", "tests") or p.suffix == ".pyc" or p.name.startswith("test_")]
    assert not junk


def test_the_code_asset_changes_with_the_code_only(code: Path, tmp_path: Path) -> None:
    shutil.copytree(ROOT / "services", tmp_path / "services")
    (tmp_path / "services" / "__pycache__").mkdir(exist_ok=True)
    (tmp_path / "services" / "__pycache__" / "stale.cpython-311.pyc").write_bytes(b"\0")
    copy = bundle.code(tmp_path)
    assert cdk.FileSystem.fingerprint(str(copy)) == cdk.FileSystem.fingerprint(str(code))
    (tmp_path / "services" / "new_module.py").write_text("VALUE = 1\n")
    changed = bundle.code(tmp_path)
    assert changed != copy and cdk.FileSystem.fingerprint(str(changed)) != cdk.FileSystem.fingerprint(str(code))


def _imported(source: Path) -> set[str]:
    tree = ast.parse(source.read_text(encoding="utf-8"))
    names = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    names |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module}
    return {name.split(".")[0] for name in names}


def test_the_analytics_layer_is_pyarrow_alone_for_lambda_stripped_of_what_the_exports_never_load(analytics: Path) -> None:
    assert {path.name.split("-")[0] for path in analytics.iterdir()} == {"pyarrow"}
    extensions = sorted(analytics.rglob("*.so*"))
    assert extensions and {_elf_machine(path) for path in extensions} == {EM_AARCH64}
    unused = [path.name for pattern in bundle.PYARROW_UNUSED for path in (analytics / "pyarrow").glob(pattern)]
    assert not unused and list((analytics / "pyarrow").glob("libparquet.so.*"))
    assert not list(analytics.rglob("__pycache__"))


def test_a_function_with_both_layers_fits_lambdas_250_mb(packages: Path, analytics: Path, code: Path) -> None:
    """Lambda refuses a function whose code and layers take more than 250 MB unzipped (docs/deploy.md)."""
    assert _size(packages) + _size(analytics) + _size(code) < 250 * 2**20 * 0.8  # a fifth spare, for upgrades


def test_the_exports_run_on_pyarrow_stripped_as_the_layer_is(tmp_path: Path) -> None:
    """The same stripping, of this machine's pyarrow: what the kernel and the compaction do still works."""
    import pyarrow

    shutil.copytree(Path(pyarrow.__file__).parent, tmp_path / "pyarrow", ignore=shutil.ignore_patterns("__pycache__"))
    bundle.strip_pyarrow(tmp_path / "pyarrow")
    script = """
import io, pyarrow as pa, pyarrow.compute as pc, pyarrow.parquet as pq
assert pa.__file__.startswith(%r)
table = pa.table({"k": ["a", None, "a"], "v": pa.array([1, 2, 3], pa.int64())})
buffer = io.BytesIO()
pq.write_table(table, buffer, compression="zstd")
read = pq.read_table(io.BytesIO(buffer.getvalue()))
last = read.group_by(["k"], use_threads=False).aggregate([("v", "last")]).column("v_last")
print(sorted(last.take(pc.sort_indices(last)).to_pylist()))
""" % str(tmp_path)
    result = subprocess.run([sys.executable, "-c", script], env={"PYTHONPATH": str(tmp_path)}, capture_output=True,
                            text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[2, 3]"


# Modules only local mode runs, and what they import beyond the layers: the DuckDB engine of the named queries answers
# where CSMS_ANALYTICS_ENGINE is duckdb, which `csms run` sets and the stack never does (Athena answers there).
LOCAL_ONLY = {Path("services/analytics/duck.py"): {"duckdb", "sqlglot"}}


def test_the_code_imports_only_what_lambda_will_have(code: Path, packages: Path, analytics: Path) -> None:
    in_layer = {path.name.split(".")[0] for layer in (packages, analytics) for path in layer.iterdir()
                if not path.name.endswith(".dist-info")}
    available = in_layer | set(sys.stdlib_module_names) | bundle.RUNTIME_PROVIDED | {"services"}
    imported = set().union(*(_imported(source) - LOCAL_ONLY.get(source.relative_to(code), set())
                             for source in code.rglob("*.py")))
    assert imported - available == set()
    assert all((code / module).exists() for module in LOCAL_ONLY)


def test_the_code_holds_the_packaged_data_lambda_reads(code: Path) -> None:
    data = Path("services/diagnostics/knowledge_base.json")
    assert (code / data).read_bytes() == (ROOT / data).read_bytes()
