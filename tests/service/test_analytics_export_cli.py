"""`csms analytics export --stage` on moto in-process: a deployed stage's tables (csms-STAGE-*) rebuilt into the
bucket its CloudFormation stack names in the output ExportsBucket, never the local stack's."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

import boto3
import pytest

from local.cli import main
from services.shared import aws, exports

ROOT = Path(__file__).resolve().parents[2]
DAY = date(2026, 3, 1)
EXPORT = ["analytics", "export", "--from", "2026-03-01", "--to", "2026-03-01"]
STAGE_BUCKET = "csms-test-exportsbucket-1a2b3c"


def invoice_rows(old: dict[str, Any] | None, new: dict[str, Any] | None) -> list[dict[str, Any]]:
    assert new is not None
    return [{"invoice_id": new["invoice_id"], "status": "issued", "stopped_at": "2026-03-01T10:00:00Z",
             "updated_at": "2026-03-01T10:00:00Z"}]


@pytest.fixture
def stage_tables(stage_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """The exported tables of a deployed stage `test`, beside the local stack's, with one invoice in each."""
    from local.provision import create_table
    from services.manifests import ALL
    from services.shared.settings import settings

    monkeypatch.setattr(exports, "_rows", lambda exporter: invoice_rows if exporter.export == "invoices" else
                        (lambda old, new: []))
    aws.table("invoices").put_item(Item={"invoice_id": "inv_local"})
    monkeypatch.setenv("CSMS_TABLE_PREFIX", "csms-test-")
    settings.cache_clear()
    for manifest in ALL:
        exported = {exporter.table for exporter in manifest.exporters}
        for table in (t for t in manifest.tables if t.name in exported):
            create_table(table)
    boto3.resource("dynamodb", region_name="us-east-1").Table("csms-test-invoices").put_item(Item={"invoice_id": "inv_stage"})
    monkeypatch.setenv("CSMS_TABLE_PREFIX", "csms-")
    settings.cache_clear()


def create_stack(name: str, outputs: dict[str, Any]) -> None:
    template = {"Resources": {"Exports": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": STAGE_BUCKET}}},
                "Outputs": outputs}
    boto3.client("cloudformation", region_name="us-east-1").create_stack(StackName=name, TemplateBody=json.dumps(template))


def keys(bucket: str) -> list[str]:
    listed = boto3.client("s3", region_name="us-east-1").list_objects_v2(Bucket=bucket)
    return sorted(entry["Key"] for entry in listed.get("Contents", []))


def test_a_stage_is_rebuilt_from_its_tables_into_its_stacks_bucket(stage_tables: None,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    create_stack("csms-test", {"ExportsBucket": {"Value": {"Ref": "Exports"}}})

    assert main([*EXPORT, "--stage", "test", "--region", "us-east-1"]) == 0

    assert "invoices                    1 row(s)" in capsys.readouterr().out
    assert keys(STAGE_BUCKET) == ["invoices/dt=2026-03-01/rebuild.parquet"]
    assert keys("csms-exports") == []
    assert os.environ["CSMS_BUCKET_EXPORTS"] == STAGE_BUCKET
    assert exports.read("invoices", DAY, DAY).column("invoice_id").to_pylist() == ["inv_stage"]


@pytest.mark.parametrize(("outputs", "message"), [
    (None, "csms: no stack csms-test in us-east-1; is stage 'test' deployed there? (check --stage and --region)"),
    ({"Stage": {"Value": "test"}}, "csms: stack csms-test has no output ExportsBucket: deploy this version to stage "
                                   "'test' first (docs/deploy.md)"),
])
def test_a_stage_without_its_stack_or_bucket_output_fails_in_one_line(
        outputs: dict[str, Any] | None, message: str, stage_tables: None, capsys: pytest.CaptureFixture[str]) -> None:
    if outputs is not None:
        create_stack("csms-test", outputs)

    assert main([*EXPORT, "--stage", "test"]) == 1

    assert capsys.readouterr().err == message + "\n"
    assert keys(STAGE_BUCKET if outputs else "csms-exports") == []


def test_a_stage_without_its_tables_names_their_prefix(stage_env: None, capsys: pytest.CaptureFixture[str]) -> None:
    create_stack("csms-gone", {"ExportsBucket": {"Value": {"Ref": "Exports"}}})

    assert main([*EXPORT, "--stage", "gone"]) == 1

    assert capsys.readouterr().err == ("csms: a table the exports read (csms-gone-...) is missing in us-east-1; "
                                       "is stage 'gone' deployed there? (check --stage and --region)\n")


def test_export_to_a_stage_needs_only_boto3_and_credentials() -> None:
    """As `csms api-keys --stage` (tests/service/test_api_keys_cli.py): one line, exit 1, no moto, no local stack."""
    env = {name: value for name, value in os.environ.items() if not name.startswith(("AWS_", "CSMS_"))}
    env.update(AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull, AWS_EC2_METADATA_DISABLED="true")
    script = (f"import sys; from local.cli import main; code = main({[*EXPORT, '--stage', 'prod', '--region', 'eu-west-1']!r}); "
              "print(sorted(m for m in sys.modules if m.startswith(('moto', 'local.stack')))); sys.exit(code)")

    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)

    assert done.returncode == 1, done.stderr
    assert done.stdout.strip() == "[]"
    assert done.stderr.count("\n") == 1 and "no AWS credentials" in done.stderr
