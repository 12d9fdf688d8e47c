"""The load benchmark's three phases at a small scale, against the local stack and the baseline."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.load import Workload, measure, summary

pytestmark = pytest.mark.e2e

CHARGERS = 6


def test_both_targets_carry_the_fleet_and_its_reconnect_storm_without_errors(tmp_path: Path) -> None:
    workload = Workload(chargers=CHARGERS, connect_rate=20, heartbeat_interval_s=10, sessions_per_hour=360,
                        session_duration_s=8, sample_interval_s=2, faults_per_hour=0, steady_s=20, saturation_s=3,
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
    assert result["local"]["storm"]["shown_offline"] == 0
    assert result["local"]["storm"]["s_until_shown_online"] is not None

    figures = summary(result)
    assert figures["errors"] == 0 and figures["storm_shown_offline"] == 0
    assert figures["local_msgs_per_s"] == result["local"]["saturation"]["msgs_per_s"] > 0
    assert figures["baseline_msgs_per_s"] == result["baseline"]["saturation"]["msgs_per_s"] > 0
    assert set(figures["p99_ms"]) >= {"Heartbeat"}
