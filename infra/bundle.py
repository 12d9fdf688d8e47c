"""Lambda packaging without Docker: a dependencies layer, an analytics layer and a code asset, built on this machine.

Lambda runs CPython 3.12 on arm64, which this machine need not be, so pip is asked for that platform's
wheels only: a dependency without one fails here, at synth, instead of at the first cold start. Both
directories are cached under .cache/lambda and named by what they hold, so synth and the tests pay for
pip once per change of the requirements, and a directory that exists is always a complete one.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Callable, Iterator

RUNTIME_PYTHON = "3.12"
PLATFORM = "manylinux2014_aarch64"
# pyarrow has built its aarch64 wheels for glibc 2.28 since release 21; Lambda's Python 3.12 (Amazon Linux 2023) has
# glibc 2.34, so the analytics layer takes those too.
ANALYTICS_PLATFORMS = (PLATFORM, "manylinux_2_28_aarch64")
# The Lambda Python runtime ships these: bundling them again only grows the layer and the cold start.
RUNTIME_PROVIDED = frozenset({"boto3", "botocore", "s3transfer"})
# Of the analytics extra, what functions run: pyarrow writes and reads the exports' Parquet (DuckDB and sqlglot run
# the named queries on one machine only; Athena runs them in AWS).
ANALYTICS_LAYER = frozenset({"pyarrow"})
# What pyarrow's wheel holds that the exports never load, by path under the package: Flight, the cloud and HDFS
# file systems (S3 is read through boto3), ORC, Substrait's Python module (its library the others link), Parquet
# encryption, C++ headers and sources, Cython sources, its tests, and the development names of libarrow_python
# (extensions load it by its soname, `.so.<version>`). Tests/infra/test_bundle.py proves the rest imports.
PYARROW_UNUSED = ("*flight*", "*_s3*", "_gcsfs*", "_azurefs*", "_hdfs*", "*orc*", "_substrait*", "*encryption*",
                  "_pyarrow_cpp_tests*", "include", "src", "tests", "*.pyx", "*.pxd", "*.pxi", "*.h", "*.cc",
                  "libarrow_python.so", "libarrow_python.so.*.*")

_IMPLEMENTATION = "cp"
_FORMAT = 2  # bump when what a build puts in its directory changes: every cache is then stale
_KEEP = 3  # builds kept per kind, so switching branches back and forth does not rebuild
_STALE_TMP_S = 3600.0
_PIP_TAIL_LINES = 30
_CODE_PACKAGE = "services"
_NAME = re.compile(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
_UNSATISFIED = re.compile(r"(?:No matching distribution found for|satisfies the requirement) (\S+)")


class BundleError(RuntimeError):
    """A Lambda asset could not be built; the message says which requirement and what pip said."""


def dependencies(root: Path) -> Path:
    """The runtime dependencies as a layer directory (its `python/` is what Lambda puts on sys.path).

    Keyed by the requirement strings, not by what they resolve to: the layer is rebuilt when pyproject.toml
    changes, not when PyPI does, so repeated synths give the same asset.
    """
    requirements = _requirements(root)

    def fill(staging: Path) -> None:
        _install(requirements, staging / "python")
        _strip(staging / "python")

    return _cached(_cache(root), "deps", _key(requirements), fill)


def analytics(root: Path) -> Path:
    """pyarrow alone, as a second layer: only the functions that write or read the exports carry it (its 100 MB
    beside the dependencies' would otherwise count against every function's 250 MB), stripped of PYARROW_UNUSED."""
    requirements = [r for r in _extra(root, "analytics") if _name(r) in ANALYTICS_LAYER]

    def fill(staging: Path) -> None:
        _install(requirements, staging / "python", ANALYTICS_PLATFORMS)
        _strip(staging / "python")
        strip_pyarrow(staging / "python" / "pyarrow")

    return _cached(_cache(root), "analytics", _key(requirements, PYARROW_UNUSED, ANALYTICS_PLATFORMS), fill)


def strip_pyarrow(package: Path) -> None:
    for pattern in PYARROW_UNUSED:
        for path in list(package.glob(pattern)):
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink()


def code(root: Path) -> Path:
    """The `services/` package alone, so the function asset changes only when service code does.

    Named by its content: a directory is written once and never rewritten, so a synth running beside
    another never reads a half-copied tree.
    """
    sources = _code_files(root)

    def fill(staging: Path) -> None:
        for relative in sources:
            destination = staging / relative
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(root / relative, destination)

    return _cached(_cache(root), "code", _content_key(root, sources), fill)


def _cached(cache: Path, kind: str, key: str, fill: Callable[[Path], None]) -> Path:
    """`cache/kind-key`, filled once: a hit touches it (so it is kept as recent), a miss fills a staging copy."""
    target = cache / f"{kind}-{key}"
    if target.is_dir():
        _touch(target)
        return target
    with _staging(cache, kind, target) as staging:
        fill(staging)
    return target


def _requirements(root: Path) -> list[str]:
    with (root / "pyproject.toml").open("rb") as file:
        declared: list[str] = tomllib.load(file)["project"]["dependencies"]
    return [requirement for requirement in declared if _name(requirement) not in RUNTIME_PROVIDED]


def _extra(root: Path, extra: str) -> list[str]:
    with (root / "pyproject.toml").open("rb") as file:
        return list(tomllib.load(file)["project"]["optional-dependencies"][extra])


def _name(requirement: str) -> str:
    """The PEP 503 normalized project name, which is how pip compares names too."""
    match = _NAME.match(requirement)
    if not match:
        raise BundleError(f"pyproject.toml dependency {requirement!r} does not start with a project name")
    return re.sub(r"[-_.]+", "-", match.group(1)).lower()


def _key(requirements: list[str], stripped: tuple[str, ...] = (), platforms: tuple[str, ...] = (PLATFORM,)) -> str:
    spec = {"format": _FORMAT, "requirements": sorted(requirements), "platform": PLATFORM,
            "python": RUNTIME_PYTHON, "implementation": _IMPLEMENTATION, **({"stripped": stripped} if stripped else {}),
            **({"platforms": platforms} if platforms != (PLATFORM,) else {})}
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]


def _cache(root: Path) -> Path:
    cache = root / ".cache" / "lambda"
    cache.mkdir(parents=True, exist_ok=True)
    return cache


@contextmanager
def _staging(cache: Path, kind: str, target: Path) -> Iterator[Path]:
    """A private directory next to `target` that becomes it by one rename, or vanishes: a failed or
    killed build never leaves a directory that looks complete."""
    staging = Path(tempfile.mkdtemp(prefix=f".tmp-{kind}-", dir=cache))
    try:
        yield staging
        _publish(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    _prune(cache, kind, target)


def _publish(staging: Path, target: Path) -> None:
    _normalize_modes(staging)
    try:
        staging.rename(target)
    except OSError:
        if not target.is_dir():
            raise
        # Another process built the same key first; its directory is as good as ours.


def _install(requirements: list[str], target: Path, platforms: tuple[str, ...] = (PLATFORM,)) -> None:
    result = _pip(["install", *(a for p in platforms for a in ("--platform", p)), "--only-binary=:all:",
                   "--python-version", RUNTIME_PYTHON, "--implementation", _IMPLEMENTATION, "--no-compile",
                   "--target", str(target), *requirements])
    if result.returncode != 0:
        raise BundleError(_pip_failure(requirements, result.stdout or ""))


def _pip(args: list[str]) -> subprocess.CompletedProcess[str]:
    """The one place pip runs, so that a test can prove a cache hit never reaches it."""
    return subprocess.run([sys.executable, "-m", "pip", *args, "--disable-pip-version-check", "-q"],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)


def _pip_failure(requirements: list[str], output: str) -> str:
    failed = sorted(set(_UNSATISFIED.findall(output)))
    which = ", ".join(failed) if failed else f"one of {', '.join(requirements)}"
    tail = "\n".join(output.strip().splitlines()[-_PIP_TAIL_LINES:])
    return (f"pip could not install the Lambda layer's {which} as {_IMPLEMENTATION}{RUNTIME_PYTHON.replace('.', '')} "
            f"{PLATFORM} wheels (a package without such a wheel needs a version that has one). pip said:\n{tail}")


def _strip(packages: Path) -> None:
    """Drops what pip writes for this machine, not for Lambda: console scripts whose first line names this
    interpreter (and their RECORD lines), and bytecode. What stays is the same on every machine, so the
    layer's asset hash, and the deployed layer version, change only with the packages."""
    shutil.rmtree(packages / "bin", ignore_errors=True)
    # Other dependencies (the X-Ray SDK) pull these in; the runtime's copy serves them as it serves us.
    for installed in list(packages.iterdir()):
        if installed.is_dir() and _name(installed.name.split("-")[0]) in RUNTIME_PROVIDED:
            shutil.rmtree(installed)
    for cache in list(packages.rglob("__pycache__")):
        shutil.rmtree(cache)
    for record in packages.glob("*.dist-info/RECORD"):
        lines = record.read_text(encoding="utf-8").splitlines(keepends=True)
        record.write_text("".join(line for line in lines if not line.startswith("../")), encoding="utf-8")


def _code_files(root: Path) -> list[Path]:
    """Every file of the package that Lambda could import, relative to root, in a fixed order."""
    package = root / _CODE_PACKAGE
    if not (package / "__init__.py").is_file():
        raise BundleError(f"{package} is not a Python package: nothing to deploy")
    return sorted(path.relative_to(root) for path in package.rglob("*") if path.is_file() and _is_code(path, package))


def _is_code(path: Path, package: Path) -> bool:
    parts = path.relative_to(package).parts
    if any(part.startswith(".") or part in ("__pycache__", "tests", "test") for part in parts):
        return False
    name = parts[-1]
    if name.endswith((".pyc", ".pyo")) or name == "conftest.py":
        return False
    return not (name.startswith("test_") or name.endswith("_test.py"))


def _content_key(root: Path, files: list[Path]) -> str:
    digest = hashlib.sha256(str(_FORMAT).encode())
    for relative in files:
        digest.update(relative.as_posix().encode() + b"\0")
        digest.update(hashlib.sha256((root / relative).read_bytes()).digest())
    return digest.hexdigest()[:16]


def _normalize_modes(tree: Path) -> None:
    """World-readable, whatever this machine's umask: Lambda reads the unzipped files as another user,
    and the zip CDK makes keeps each file's mode."""
    tree.chmod(0o755)
    for path in _walk(tree):
        if path.is_dir():
            path.chmod(0o755)
        else:
            path.chmod(0o755 if path.stat().st_mode & 0o111 else 0o644)


def _walk(tree: Path) -> Iterator[Path]:
    for directory, dirnames, filenames in os.walk(tree):
        for name in dirnames + filenames:
            yield Path(directory, name)


def _prune(cache: Path, kind: str, keep: Path) -> None:
    """Keeps the newest few builds of a kind; old staging directories are what a killed build left."""
    builds = sorted(cache.glob(f"{kind}-*"), key=_mtime, reverse=True)
    for stale in [path for path in builds if path != keep][_KEEP - 1:]:
        shutil.rmtree(stale, ignore_errors=True)
    for staging in cache.glob(f".tmp-{kind}-*"):
        if time.time() - _mtime(staging) > _STALE_TMP_S:
            shutil.rmtree(staging, ignore_errors=True)


def _touch(path: Path) -> None:
    """Marks a build as used, for _prune; a read-only cache is still a good cache."""
    with suppress(OSError):
        os.utime(path)


def _mtime(path: Path) -> float:
    """0 for a path another process removed meanwhile, which then sorts as the oldest."""
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return 0.0
