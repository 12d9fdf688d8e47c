"""`csms api-keys` on moto in-process: the local stack's keys, and a deployed stage's through its table prefix."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest

from local.cli import main
from services.shared import auth

ROOT = Path(__file__).resolve().parents[2]
KEY = re.compile(r"csms_([0-9a-f]+)_(\S+)")


@pytest.fixture
def local_stack(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Stands in for the running local stack: the configs it was asked to point at, with moto's tables behind."""
    import local.stack

    configured: list[Any] = []
    monkeypatch.setattr(local.stack, "configure_environment", configured.append)
    return configured


def _create(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert main(["api-keys", "create", *argv]) == 0
    out = capsys.readouterr().out
    match = KEY.search(out)
    assert match is not None, out
    return match.group(0)


def test_create_prints_a_key_that_authorizes(local_stack: list[Any], capsys: pytest.CaptureFixture[str]) -> None:
    from local.stack import Config

    key = _create(capsys, "--name", "ci robot", "--host", "10.0.0.7", "--aws-port", "4999")

    record = auth.check_api_key(key)
    assert record is not None
    assert record["name"] == "ci robot"
    assert record["scopes"] == ["admin"]
    assert local_stack == [Config(host="10.0.0.7", aws_port=4999)]


def test_create_grants_the_scopes_asked_for(local_stack: list[Any], capsys: pytest.CaptureFixture[str]) -> None:
    key = _create(capsys, "--name", "support desk", "--scope", "read-only", "--scope", "support", "--scope", "support")

    record = auth.check_api_key(key)
    assert record is not None and record["scopes"] == ["read-only", "support"]


def test_an_unknown_scope_is_a_usage_error(local_stack: list[Any], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit:
        main(["api-keys", "create", "--name", "x", "--scope", "superuser"])

    assert exit.value.code == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'superuser'" in err and "read-only" in err
    assert auth.list_api_keys() == []


def test_list_shows_every_key_but_no_secret(local_stack: list[Any], capsys: pytest.CaptureFixture[str]) -> None:
    first = _create(capsys, "--name", "first")
    second = _create(capsys, "--name", "second", "--scope", "operator")

    assert main(["api-keys", "list"]) == 0
    out = capsys.readouterr().out

    lines = out.splitlines()
    assert lines[0].split() == ["KEY_ID", "NAME", "SCOPES", "CREATED_AT", "REVOKED_AT"]
    for key, name, scopes in ((first, "first", "admin"), (second, "second", "operator")):
        parsed = auth.parse_api_key(key)
        assert parsed is not None
        row = next(line for line in lines if line.startswith(parsed.key_id))
        assert row.split()[1:3] == [name, scopes] and row.endswith("-")
        assert parsed.secret not in out
        assert auth._digest(parsed.secret) not in out
    assert "sha256" not in out


def test_revoke_stops_the_key_and_keeps_the_first_time(local_stack: list[Any], capsys: pytest.CaptureFixture[str]) -> None:
    key = _create(capsys, "--name", "leaked")
    parsed = auth.parse_api_key(key)
    assert parsed is not None and auth.check_api_key(key) is not None

    assert main(["api-keys", "revoke", parsed.key_id]) == 0
    first = auth.aws.table("api-keys").get_item(Key={"key_id": parsed.key_id})["Item"]["revoked_at"]
    assert main(["api-keys", "revoke", key]) == 0  # the whole key works too, and is not echoed

    out = capsys.readouterr().out
    assert auth.check_api_key(key) is None
    assert auth.aws.table("api-keys").get_item(Key={"key_id": parsed.key_id})["Item"]["revoked_at"] == first
    assert out.count(f"revoked at {first}") == 2 and parsed.secret not in out


def test_revoking_an_unknown_key_fails_cleanly(local_stack: list[Any], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["api-keys", "revoke", "0123456789ab"]) == 1

    captured = capsys.readouterr()
    assert "no API key '0123456789ab'" in captured.err and "Traceback" not in captured.err
    assert auth.aws.table("api-keys").get_item(Key={"key_id": "0123456789ab"}).get("Item") is None


def test_region_without_stage_is_refused(local_stack: list[Any], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["api-keys", "list", "--region", "eu-west-1"]) == 2
    assert "--stage" in capsys.readouterr().err


def test_stage_targets_that_stages_table(stage_env: None, capsys: pytest.CaptureFixture[str]) -> None:
    dynamodb = boto3.client("dynamodb", region_name="us-east-1")
    dynamodb.create_table(TableName="csms-test-api-keys", BillingMode="PAY_PER_REQUEST",
                          KeySchema=[{"AttributeName": "key_id", "KeyType": "HASH"}],
                          AttributeDefinitions=[{"AttributeName": "key_id", "AttributeType": "S"}])

    key = _create(capsys, "--name", "first operator", "--stage", "test", "--region", "us-east-1")

    parsed = auth.parse_api_key(key)
    assert parsed is not None
    stored = dynamodb.get_item(TableName="csms-test-api-keys", Key={"key_id": {"S": parsed.key_id}})
    assert stored["Item"]["name"] == {"S": "first operator"}
    assert "Item" not in dynamodb.get_item(TableName="csms-api-keys", Key={"key_id": {"S": parsed.key_id}})
    assert os.environ["CSMS_TABLE_PREFIX"] == "csms-test-"
    assert auth.check_api_key(key) is not None
    assert main(["api-keys", "list", "--stage", "test"]) == 0
    assert parsed.key_id in capsys.readouterr().out


def test_a_stage_without_a_table_fails_in_one_line(stage_env: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["api-keys", "list", "--stage", "nowhere"]) == 1

    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "csms-nowhere-api-keys" in err and "'nowhere'" in err


def test_stage_needs_only_boto3_and_credentials() -> None:
    """As after `pip install .` with no AWS credentials: one line, exit 1, and neither moto nor the local stack loaded."""
    env = {name: value for name, value in os.environ.items() if not name.startswith(("AWS_", "CSMS_"))}
    env.update(AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull, AWS_EC2_METADATA_DISABLED="true")
    script = ("import sys; from local.cli import main; code = main(['api-keys', 'list', '--stage', 'prod', "
              "'--region', 'eu-west-1']); print(sorted(m for m in sys.modules if m.startswith(('moto', 'local.stack')))); "
              "sys.exit(code)")

    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)

    assert done.returncode == 1, done.stderr
    assert done.stdout.strip() == "[]"
    assert done.stderr.count("\n") == 1 and "no AWS credentials" in done.stderr


def test_a_revoked_local_operator_key_stays_revoked_across_restarts(
        aws_env: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from local.apikeys import operator_key

    monkeypatch.delenv("CSMS_API_KEY", raising=False)
    key = operator_key(tmp_path)
    assert operator_key(tmp_path) == key and auth.check_api_key(key)  # a restart keeps it working
    key_id = KEY.fullmatch(key).group(1)  # type: ignore[union-attr]
    revoked_at = auth.revoke_api_key(key_id)["revoked_at"]  # type: ignore[index]
    with pytest.raises(SystemExit, match="was revoked"):
        operator_key(tmp_path)
    assert auth.check_api_key(key) is None
    assert [k["revoked_at"] for k in auth.list_api_keys() if k["key_id"] == key_id] == [revoked_at]


def test_a_local_key_chosen_by_hand_is_stored_and_works(aws_env: None, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from local.apikeys import operator_key

    monkeypatch.setenv("CSMS_API_KEY", "csms_dev_0123456789abcdef")
    assert operator_key(tmp_path) == "csms_dev_0123456789abcdef"
    assert auth.check_api_key("csms_dev_0123456789abcdef")["scopes"] == ["admin"]  # type: ignore[index]
    assert not (tmp_path / "api-key").exists()  # the environment holds it; nothing to keep


def test_a_key_file_that_holds_no_key_says_how_to_start_over(aws_env: None, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from local.apikeys import operator_key

    monkeypatch.delenv("CSMS_API_KEY", raising=False)
    (tmp_path / "api-key").write_text("not a key\n")
    with pytest.raises(SystemExit, match=f"{tmp_path / 'api-key'} does not hold a key of the form csms_<id>_<secret>"):
        operator_key(tmp_path)
