"""The simulator's arithmetic: percentiles, rates, durations, and the summary they make."""

from __future__ import annotations

import pytest

from local.cli import _parser
from simulator import parse_duration
from simulator.fleet import FleetConfig
from simulator.progress import summary
from simulator.stats import Latencies, Rate, Stats


def test_percentiles_are_the_nearest_rank_within_one_percent() -> None:
    latencies = Latencies()
    for ms in range(1000, 0, -1):
        latencies.record(ms / 1000)
    for q, exact in ((50, 0.5), (90, 0.9), (99, 0.99), (1, 0.01)):
        value = latencies.percentile(q)
        assert value is not None and exact * (1 - 1e-9) <= value <= exact * 1.01
    assert latencies.percentile(100) == latencies.max_s == 1.0
    assert latencies.count == 1000


def test_one_sample_is_every_percentile_and_none_is_none() -> None:
    latencies = Latencies()
    assert latencies.percentile(50) is None
    latencies.record(0.0423)
    assert latencies.percentile(1) == latencies.percentile(99) == 0.0423
    latencies.record(0.0)  # below the smallest bucket: counted, not lost
    assert latencies.count == 2 and latencies.percentile(50) == pytest.approx(Latencies.FLOOR_S)


def test_a_rate_counts_the_last_window_and_does_not_understate_the_first_seconds() -> None:
    rate = Rate(started_at=100.0, window_s=10)
    for tenth in range(20):
        rate.add(100.0 + tenth / 10)  # 20 events in the first 2 s
    assert rate.per_second(102.0) == pytest.approx(10.0)
    for second in range(3, 31):
        rate.add(100.0 + second)  # then one a second
    assert rate.per_second(130.0) == pytest.approx(1.0)
    assert rate.per_second(200.0) == 0.0
    assert Rate(started_at=5.0).per_second(5.0) == 0.0


@pytest.mark.parametrize(("text", "seconds"), [("30s", 30), ("10m", 600), ("2h", 7200), ("1h30m", 5400), ("0.5s", 0.5),
                                                ("45", 45), (" 2M ", 120)])
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "m", "10x", "1h 30m", "h1", "10m5", "-5s"])
def test_what_is_not_a_duration(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_the_command_line_takes_durations_and_the_protocols_the_simulator_speaks() -> None:
    args = _parser().parse_args(["simulate", "--duration", "10m", "--connection-lifetime", "90s"])
    assert (args.duration, args.connection_lifetime, args.sample_interval, args.protocol) == (600, 90, 60, "ocpp1.6")
    for protocol in ("ocpp2.0.1", "mixed"):
        assert _parser().parse_args(["simulate", "--protocol", protocol]).protocol == protocol
    for wrong in (["--protocol", "ocpp2.1"], ["--duration", "0s"], ["--duration", "soon"], ["--chargers", "0"],
                  ["--faults-per-hour", "-1"]):
        with pytest.raises(SystemExit):
            _parser().parse_args(["simulate", *wrong])


def test_the_summary_lines_up_calls_commands_events_and_errors() -> None:
    stats = Stats()
    stats.replied("BootNotification", 0.120, protocol="ocpp1.6")
    stats.replied("StatusNotification", 0.030, protocol="ocpp1.6")
    stats.failed("StartTransaction", "CALLERROR GenericError", "SIM-001: boom", protocol="ocpp1.6")
    stats.answer("Reset", protocol="ocpp1.6")
    stats.count("sessions started")
    text = summary(stats, FleetConfig(url="ws://csms/ocpp", chargers=2, duration_s=60))
    lines = text.splitlines()
    assert lines[0].startswith("ws://csms/ocpp  0:00:00 of 0:01:00  connected 0/2  booted 0/2")
    assert lines[0].endswith("errors 1")
    assert lines[1].split() == ["action", "messages", "p50", "ms", "p99", "ms", "max", "ms"]
    assert lines[2].split() == ["BootNotification", "1", "120.0", "120.0", "120.0"]
    assert lines[3].split() == ["StartTransaction", "1", "-", "-", "-"]
    assert lines[5].split() == ["Reset", "(from", "the", "CSMS)", "1"]
    assert lines[1].index("messages") == lines[2].index("1 ")
    assert lines[6:] == ["sessions started 1", "error x1: StartTransaction: CALLERROR GenericError: SIM-001: boom"]


def test_a_mixed_fleet_s_summary_counts_each_version() -> None:
    stats = Stats()
    stats.boot("ocpp1.6", +1)
    stats.boot("ocpp2.0.1", +1)
    stats.boot("ocpp2.0.1", +1)
    stats.replied("Heartbeat", 0.010, protocol="ocpp1.6")
    stats.replied("Heartbeat", 0.020, protocol="ocpp2.0.1")
    stats.answer("GetBaseReport", protocol="ocpp2.0.1")
    lines = summary(stats, FleetConfig(url="ws://csms/ocpp", chargers=3, duration_s=60)).splitlines()
    assert "booted 3/3" in lines[0]
    assert lines[2].split()[:2] == ["Heartbeat", "2"]
    assert lines[4] == "ocpp1.6: booted 1, messages 1  ocpp2.0.1: booted 2, messages 2"
    single = Stats()
    single.replied("Heartbeat", 0.010, protocol="ocpp1.6")
    assert not any(line.startswith("ocpp") for line in summary(single, FleetConfig(url="ws://x", chargers=1,
                                                                                 duration_s=1)).splitlines())


def test_round_trips_are_taken_per_version_and_the_run_s_stay_for_the_live_view() -> None:
    stats = Stats()
    stats.replied("Heartbeat", 0.010, protocol="ocpp1.6")
    stats.replied("Heartbeat", 0.030, protocol="ocpp2.0.1")
    stats.replied("TransactionEvent", 0.050, protocol="ocpp2.0.1")

    taken = stats.take_latencies()

    assert {p: {a: rows.count for a, rows in by_action.items()} for p, by_action in taken.items()} == {
        "ocpp1.6": {"Heartbeat": 1}, "ocpp2.0.1": {"Heartbeat": 1, "TransactionEvent": 1}}
    assert taken["ocpp2.0.1"]["Heartbeat"].percentile(50) == pytest.approx(0.030, rel=0.01)
    assert stats.take_latencies() == {} and stats.latencies["Heartbeat"].count == 2
    both = Latencies.merged(by_action["Heartbeat"] for by_action in taken.values())
    assert (both.count, both.max_s) == (2, 0.030)
    assert both.percentile(50) == pytest.approx(0.010, rel=0.01) and both.percentile(100) == pytest.approx(0.030)


def test_errors_of_a_charger_count_for_its_version_and_the_library_s_for_the_fleet_only() -> None:
    stats = Stats()
    stats.failed("Heartbeat", "no reply", "SIM-1: none", protocol="ocpp2.0.1")
    stats.error("connection: TimeoutError", "SIM-2", protocol="ocpp1.6")
    stats.error("ocpp library", "cannot parse")

    assert stats.error_count == 3 and stats.errors_by == {"ocpp2.0.1": 1, "ocpp1.6": 1}
