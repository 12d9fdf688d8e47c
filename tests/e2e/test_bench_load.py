"""The load benchmark's phases at a small scale, a mixed fleet against the local stack and the baseline."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.load import Workload, measure, summary

pytestmark = pytest.mark.e2e

CHARGERS = 6
# The steady window is the shortest that holds every charger's first heartbeat (10 s, the least the stack allows,
# after a boot within the second-long ramp) and, at a session every 5 s per charger, sessions of both versions.
STEADY_S = 12


def test_both_targets_carry_the_fleet_and_its_reconnect_storm_without_errors(tmp_path: Path) -> None:
    workload = Workload(chargers=CHARGERS, connect_rate=20, heartbeat_interval_s=10, sessions_per_hour=720,
                        session_duration_s=4, sample_interval_s=2, faults_per_hour=0, steady_s=STEADY_S, saturation_s=3,
                        storm_notice_s=2, storm_timeout_s=60)
    result = measure(workload, tmp_path)

    for run in (result["local"], result["baseline"]):
        assert run["errors"] == 0, run["last_errors"]
        assert run["ramp"]["all_booted"] and run["ramp"]["booted"] == CHARGERS
        assert run["ramp"]["count"]["BootNotification"] == CHARGERS
        assert run["steady"]["msgs_per_s"] > 0 and run["steady"]["connected"] == CHARGERS
        assert run["steady"]["count"].get("Heartbeat", 0) >= CHARGERS
        assert run["saturation"]["errors"] == 0 and run["saturation"]["count"]["Heartbeat"] > CHARGERS
        assert run["storm"]["all_back"] and run["storm"]["dropped"] == CHARGERS
        assert run["storm"]["count"]["BootNotification"] == CHARGERS
        assert run["chargers_by_protocol"] == {"ocpp1.6": CHARGERS // 2, "ocpp2.0.1": CHARGERS // 2}
        for protocol, steady in run["steady"]["by_protocol"].items():
            assert steady["msgs_per_s"] > 0 and steady["errors"] == 0 and steady["count"]["Heartbeat"] >= CHARGERS // 2
            assert run["ramp"]["by_protocol"][protocol]["booted"] == CHARGERS // 2
            assert run["saturation"]["by_protocol"][protocol]["count"]["Heartbeat"] > CHARGERS // 2
            assert run["storm"]["by_protocol"][protocol]["back"] == CHARGERS // 2
        assert "TransactionEvent" in run["steady"]["by_protocol"]["ocpp2.0.1"]["count"]
        assert "StartTransaction" in run["steady"]["by_protocol"]["ocpp1.6"]["count"]
        assert sum(v["msgs_per_s"] for v in run["saturation"]["by_protocol"].values()) == pytest.approx(
            run["saturation"]["msgs_per_s"], rel=0.05)
    assert result["local"]["storm"]["shown_offline"] == 0
    assert result["local"]["storm"]["s_until_shown_online"] is not None

    figures = summary(result)
    assert figures["errors"] == 0 and figures["storm_shown_offline"] == 0
    assert figures["local_msgs_per_s"] == result["local"]["saturation"]["msgs_per_s"] > 0
    assert figures["baseline_msgs_per_s"] == result["baseline"]["saturation"]["msgs_per_s"] > 0
    assert set(figures["p99_ms"]) >= {"Heartbeat"}
    for protocol, row in figures["by_protocol"].items():
        assert row["chargers"] == CHARGERS // 2 and row["errors"] == row["baseline_errors"] == 0, protocol
        assert row["local_msgs_per_s"] > 0 and row["baseline_msgs_per_s"] > 0 and row["msgs_per_s_ratio"] > 0
        assert row["storm_shown_offline"] == 0 and 0 < row["storm_s_to_all_back"] <= figures["storm_s_to_all_back"]
    assert set(figures["by_protocol"]["ocpp2.0.1"]["p99_ms"]) >= {"Heartbeat", "TransactionEvent"}
