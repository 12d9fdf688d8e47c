"""Load management keeps what price-aware schedules need, on moto: the site's energy prices and time zone from
SiteChanged, a session's latest charging needs (by version) on its `s#{evse}` entry, never another transaction's
nor one that ended; a need asks for a run of the site."""

from __future__ import annotations

from datetime import datetime, timezone

from services.contracts.connectivity import SiteChanged
from services.contracts.sessions import ChargingNeedsChanged, SessionEnded
from services.shared.dynamo import plain
from services.smart_charging import needs, planning, store
from tests.service.helpers import drain
from tests.service.test_smart_charging import ADDRESS, SITE, A, deliver, settle_runs, site, started

__all__ = ["site"]  # the fixture, used by name

NIGHT = {"start_time": "22:00", "end_time": "06:00", "price_per_kwh": 0.12}


def need(version: int, energy_wh: int = 20_000, transaction_id: str = "11") -> ChargingNeedsChanged:
    return ChargingNeedsChanged(charge_point_id=A, session_id=f"s-{A}", transaction_id=transaction_id, evse_id=1,
                                energy_wh=energy_wh, departure_time="2026-12-05T07:00:00.000Z", origin="ev",
                                received_at="2026-12-04T18:00:00.000Z", max_power_w=11_000.0, version=version,
                                prices=[{"start": "2026-12-04T18:00:00Z", "end": "2026-12-04T23:00:00Z",
                                         "price_per_kwh": 0.4}])


def entry() -> dict:
    return plain((store.get_charger(A) or {}).get("s#1") or {})


def test_the_sites_energy_prices_and_zone_are_kept(site: None) -> None:
    deliver(SiteChanged(charge_point_id=None, change="updated", site_id=SITE, version=2, name="Depot", address=ADDRESS,
                        time_zone="Europe/Berlin", grid={"max_current_a": 32, "phases": 3},
                        energy_prices=[{**NIGHT, "day_of_week": ["FRIDAY"]}]))
    kept = plain(store.get_site(SITE))
    assert kept["time_zone"] == "Europe/Berlin"
    assert kept["energy_prices"] == [{**NIGHT, "day_of_week": ["FRIDAY"]}]
    windows = needs.site_prices(kept, datetime(2026, 12, 4, 12, tzinfo=timezone.utc),
                                datetime(2026, 12, 6, 12, tzinfo=timezone.utc))
    # Friday 4 December 22:00 to Saturday 06:00 in Berlin (UTC+1); none starts on Saturday.
    assert [(w.start.hour, w.end.hour, w.end.day) for w in windows] == [(21, 5, 5)]


def test_a_sessions_latest_needs_are_kept_on_its_entry(site: None) -> None:
    deliver(started(A, "11"))
    settle_runs()
    deliver(need(2, 20_000))
    assert [m["cause"] for m in drain_runs()] == ["ChargingNeedsChanged"]
    deliver(need(1, 5_000), need(2, 5_000))  # late and replayed: no change
    assert entry()["needs"]["energy_wh"] == 20_000 and entry()["needs"]["version"] == 2
    assert entry()["needs"]["prices"][0]["price_per_kwh"] == 0.4 and entry()["needs"]["max_power_w"] == 11_000
    deliver(need(3, 7_000, transaction_id="other"))
    assert entry()["needs"]["version"] == 2


def test_needs_after_the_session_ended_are_not_kept(site: None) -> None:
    deliver(started(A, "11"))
    deliver(SessionEnded(charge_point_id=A, session_id=f"s-{A}", transaction_id="11", evse_id=1, connector_id=1,
                         id_tag="TAG", started_at="2026-12-04T10:00:00.000Z", stopped_at="2026-12-04T10:10:00.000Z",
                         meter_start_wh=0, meter_stop_wh=1000, energy_wh=1000))
    deliver(need(1))
    assert entry() == {}


def drain_runs() -> list[dict]:
    from services.shared.settings import settings
    from services.smart_charging.manifest import RUNS

    return drain(settings().resource_name(RUNS.queue_name))


def test_a_run_puts_a_sessions_needs_into_the_cheap_night_as_a_multi_period_profile(site: None) -> None:
    from services.smart_charging import runs

    deliver(SiteChanged(charge_point_id=None, change="updated", site_id=SITE, version=2, name="Depot", address=ADDRESS,
                        time_zone="UTC", grid={"max_current_a": 32, "phases": 3},
                        energy_prices=[{"start_time": "20:00", "end_time": "22:00", "price_per_kwh": 0.1},
                                       {"start_time": "22:00", "end_time": "20:00", "price_per_kwh": 0.4}]))
    deliver(started(A, "11"))
    deliver(ChargingNeedsChanged(charge_point_id=A, session_id=f"s-{A}", transaction_id="11", evse_id=1,
                                 energy_wh=11_000, departure_time="2026-12-05T23:00:00.000Z", origin="operator",
                                 received_at="2026-12-05T18:00:00.000Z", version=1))
    runs.run(SITE, "test", now=datetime(2026, 12, 5, 18, tzinfo=timezone.utc))
    held = plain(store.get_charger(A))["p#tx#1"]
    # The cheap 20:00-22:00 is filled first at the most A may draw (32 A, 22 kW), until the 11 kWh are planned:
    # nothing before it, nothing after 20:30.
    offsets = [(int(offset), float(limit)) for offset, limit in held["periods"]]
    assert offsets[0] == (0, 0.0) and offsets[1] == (2 * 3600 + planning.SKEW_S, 32.0)
    assert offsets[2][0] == 2 * 3600 + 900 - planning.SKEW_S and 31 < offsets[2][1] < 32
    assert offsets[3] == (2 * 3600 + 1800 - planning.SKEW_S, 0.0)
    assert float(held["limit_a"]) == 0
