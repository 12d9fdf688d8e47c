"""`csms` as a new user meets it: help that names each option's environment variable and default, and bad values
(from the command line or the environment) answered with a message, never a traceback."""

from __future__ import annotations

import dataclasses
import re
import subprocess
from datetime import date
from pathlib import Path

import pytest

from local import cli
from local.ports import free_port
from local.stack import Config

VARIABLES = ("CSMS_HOST", "CSMS_OCPP_PORT", "CSMS_REST_PORT", "CSMS_AWS_PORT", "CSMS_CONNECTIONS_PORT", "CSMS_DATA_DIR",
             "CSMS_API_KEY", "CSMS_HEARTBEAT_INTERVAL", "CSMS_CURRENCY")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)


def run_help(capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as exited:
        cli.main(["run", "--help"])
    assert exited.value.code == 0
    return " ".join(capsys.readouterr().out.split())  # argparse wraps lines where it likes


def test_run_help_gives_every_option_its_variable_and_the_default_config_has(capsys: pytest.CaptureFixture[str]) -> None:
    text = run_help(capsys)
    for field in dataclasses.fields(Config):
        flag = "--" + field.name.replace("_", "-")
        variable = "CSMS_" + field.name.upper()
        assert re.search(rf"{flag} \S+ .*?\(env {variable}; default: {re.escape(str(field.default))}\)", text), flag
    for variable in ("CSMS_API_KEY", "CSMS_ACCEPT_UNKNOWN_CHARGERS", "CSMS_HEARTBEAT_INTERVAL", "POWERTOOLS_LOG_LEVEL"):
        assert variable in text


@pytest.mark.parametrize("argv", [["--rest-port", "70000"], ["--ocpp-port", "0"], ["--aws-port", "http"]])
def test_a_port_out_of_range_is_a_usage_error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["run", *argv])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {argv[0]}: '{argv[1]}' is not a port: a whole number 1-65535" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(("variable", "value", "message"), [
    ("CSMS_REST_PORT", "abc", "CSMS_REST_PORT: 'abc' is not a port: a whole number 1-65535 (or unset it; --rest-port"),
    ("CSMS_CONNECTIONS_PORT", "-1", "CSMS_CONNECTIONS_PORT: '-1' is not a port"),
    ("CSMS_HEARTBEAT_INTERVAL", "abc", "CSMS_HEARTBEAT_INTERVAL: Input should be a valid integer"),
    ("CSMS_HEARTBEAT_INTERVAL", "900", "CSMS_HEARTBEAT_INTERVAL: Input should be less than or equal to 590"),
    ("CSMS_API_KEY", "secret", "CSMS_API_KEY must have the form csms_<id>_<secret>"),
    ("CSMS_API_KEY", "csms_dev_short", "CSMS_API_KEY must have the form csms_<id>_<secret>"),
])
def test_a_bad_environment_variable_stops_run_before_it_starts(
        variable: str, value: str, message: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv(variable, value)
    assert cli.main(["run"]) == 2
    assert capsys.readouterr().err.startswith(f"csms run: {message}")


def test_the_data_dir_cannot_be_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(SystemExit):
        cli.main(["run", "--data-dir", str(tmp_path / "file")])
    assert "is a file, not a directory" in capsys.readouterr().err


def test_an_option_given_wins_over_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CSMS_REST_PORT", "abc")
    monkeypatch.setenv("CSMS_OCPP_PORT", "9100")
    args = cli._parser().parse_args(["run", "--rest-port", "8100"])
    assert cli._from_environment(args) is None
    assert cli._config(args) == Config(rest_port=8100, ocpp_port=9100)


def test_a_key_set_by_hand_needs_the_generated_keys_form(monkeypatch: pytest.MonkeyPatch) -> None:
    from local.apikeys import local_key_problem
    from services.shared.auth import new_api_key

    for good in (str(new_api_key()), "csms_dev_0123456789abcdef"):
        monkeypatch.setenv("CSMS_API_KEY", good)
        assert local_key_problem() is None
    for bad in ("csms_dev_0123456789abcde", "csms_a_b_0123456789abcdef", "Bearer csms_dev_0123456789abcdef"):
        monkeypatch.setenv("CSMS_API_KEY", bad)
        assert local_key_problem() is not None


def test_events_dlq_with_no_stack_names_the_port_options(monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    port = free_port()
    monkeypatch.setenv("CSMS_AWS_PORT", str(port))
    assert cli.main(["events", "dlq"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"csms: no stack answers at 127.0.0.1:{port}; start it with `make run`")
    assert "--aws-port" in err and "CSMS_AWS_PORT" in err


def test_make_demo_hands_the_key_to_the_fleet_in_its_environment_not_its_command_line() -> None:
    """`ps` shows every user a command line; a process's environment only to its owner."""
    root = Path(__file__).resolve().parents[2]
    recipe = subprocess.run(["make", "-n", "demo"], cwd=root, capture_output=True, text=True, check=True).stdout
    simulate = next(line for line in recipe.splitlines() if "csms simulate" in line)
    assert "--api-key" not in simulate
    assert re.search(r"CSMS_API_KEY=\$key \S+/csms simulate ", simulate), simulate



def test_analytics_takes_dates_a_named_query_and_a_site() -> None:
    args = cli._parser().parse_args(["analytics", "query", "uptime", "--from", "2026-03-02", "--to", "2026-03-04",
                                     "--site", "S1", "--aws-port", "4600"])
    assert (args.action, args.name, args.from_, args.to, args.site, args.aws_port) == (
        "query", "uptime", date(2026, 3, 2), date(2026, 3, 4), "S1", 4600)
    report = cli._parser().parse_args(["analytics", "report"])
    assert (report.out, report.from_, report.to, report.site) == (Path("report.html"), None, None, None)
    export = cli._parser().parse_args(["analytics", "export", "--from", "2026-03-01", "--to", "2026-03-31"])
    assert (export.from_, export.to) == (date(2026, 3, 1), date(2026, 3, 31))


def test_analytics_export_alone_takes_a_deployed_stage_and_its_region() -> None:
    export = cli._parser().parse_args(["analytics", "export", "--from", "2026-03-01", "--to", "2026-03-31",
                                       "--stage", "prod", "--region", "eu-west-1"])
    assert (export.stage, export.region, export.from_, export.to) == ("prod", "eu-west-1", date(2026, 3, 1), date(2026, 3, 31))
    local = cli._parser().parse_args(["analytics", "export", "--from", "2026-03-01", "--to", "2026-03-31"])
    assert (local.stage, local.region) == (None, None)
    query = cli._parser().parse_args(["analytics", "query", "uptime"])
    assert (query.stage, query.region) == (None, None)


@pytest.mark.parametrize(("argv", "message"), [
    (["analytics", "query", "nope"], "argument NAME: invalid choice: 'nope'"),
    (["analytics", "query", "uptime", "--from", "2026-3-2"], "argument --from: '2026-3-2' is not a date: YYYY-MM-DD"),
    (["analytics", "query", "uptime", "--to", "2026-02-30"], "argument --to: '2026-02-30' is not a date: YYYY-MM-DD"),
    (["analytics", "export", "--from", "2026-03-01"], "the following arguments are required: --to"),
    (["analytics", "export", "--from", "2026-03-01", "--to", "2026-03-01", "--stage", "Prod"],
     "argument --stage: not a stage name (1-16 lowercase letters, digits, hyphens; a letter first): 'Prod'"),
    (["analytics", "query", "uptime", "--stage", "prod"], "unrecognized arguments: --stage prod"),
    (["analytics", "report", "--region", "eu-west-1"], "unrecognized arguments: --region eu-west-1"),
])
def test_analytics_usage_errors(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(argv)
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


@pytest.mark.parametrize(("argv", "message"), [
    (["analytics", "query", "uptime", "--from", "2026-03-05", "--to", "2026-03-04"], "from (2026-03-05) is after to"),
    (["analytics", "report", "--from", "2024-01-01", "--to", "2025-01-01"], "at most 366 days"),
    (["analytics", "query", "uptime", "--site", "S 1"], "a site id is 1-64 letters"),
    (["analytics", "export", "--from", "2026-03-05", "--to", "2026-03-04"], "--from is after --to"),
    (["analytics", "export", "--from", "2026-03-01", "--to", "2026-03-04", "--region", "eu-west-1"],
     "csms: --region applies to a deployed stage only; add --stage"),
])
def test_analytics_refuses_a_range_or_site_no_query_takes(argv: list[str], message: str, capsys: pytest.CaptureFixture[str],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    import local.stack

    monkeypatch.setattr(local.stack, "configure_environment", lambda config: None)
    assert cli.main(argv) == 2
    assert message in capsys.readouterr().err


def test_analytics_query_with_no_stack_names_the_port_options(monkeypatch: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("CSMS_AWS_PORT", str(free_port()))
    assert cli.main(["analytics", "query", "uptime"]) == 1
    assert capsys.readouterr().err.startswith("csms: no stack answers at 127.0.0.1:")


def test_a_table_aligns_text_left_numbers_right_and_shows_null() -> None:
    text = cli.table(["site_id", "sessions", "ratio"], [("S1", 3, 0.5), (None, 12, None)])
    assert text.splitlines() == [
        "site_id  sessions  ratio",
        "-------  --------  -----",
        "S1              3    0.5",
        "-              12      -",
    ]
