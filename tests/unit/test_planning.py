"""A load-management run, pure: the limits of a site's sessions and idle EVSEs, the profiles and their order, the
outcomes of their commands, and what is sent on the wire (services/smart_charging/planning.py)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from services.connectivity.commands import violations
from services.shared import clock
from services.smart_charging import planning

NOW = datetime(2026, 12, 4, 10, 0, tzinfo=timezone.utc)
SITE = {"site_id": "depot", "grid": {"max_current_a": 32, "voltage": 230, "phases": 3}, "circuits": []}


def charger(cp: str, rated: float = 32, phases: int = 3, phase_map: dict[str, str] | None = None,
            version: str = "ocpp1.6", **fields: Any) -> dict[str, Any]:
    return {"charge_point_id": cp, "site_id": "depot", "max_current_a": rated, "phases": phases,
            "phase_map": phase_map or {}, "ocpp_version": version, "connected": True, **fields}


def session(transaction_id: str, **fields: Any) -> dict[str, Any]:
    return {"session_id": f"s-{transaction_id}", "transaction_id": transaction_id, "priority": 0, **fields}


def limits(plan: planning.Plan) -> dict[tuple[str, str], Decimal]:
    return {(t.charge_point_id, t.key): t.limit_a for t in plan.targets}


def test_sessions_share_what_an_excluded_charger_leaves_and_idle_evses_get_the_rest() -> None:
    chargers = [charger("A", **{"s#1": session("11")}),
                charger("B", phases=1, phase_map={"1": "L2"}, version="ocpp2.0.1", **{"s#1": session("tx-b")}),
                charger("C", rated=10, excluded={"reason": "refused", "attempts": 3}),
                charger("D")]
    plan = planning.plan(SITE, chargers)
    found = limits(plan)
    # C is a fixed 10 A on every phase; A (three-phase) and B (on L2) share L2's 22 A; D waits at 0 A.
    assert found[("A", "tx#1")] == found[("B", "tx#1")] == Decimal("11.0")
    assert found[("D", "default#1")] == Decimal("0.0")
    assert not [key for key in found if key[0] == "C"]
    assert found[("A", "max")] == Decimal("32.0") and found[("B", "max")] == Decimal("32.0")
    # An EVSE in a session keeps a default no higher than its session's limit.
    assert found[("A", "default#1")] == Decimal("11.0")


def test_an_offline_charger_counts_at_its_rating_on_its_wired_phase() -> None:
    chargers = [charger("A", **{"s#1": session("11")}),
                charger("B", rated=16, phases=1, phase_map={"1": "L3"}, connected=False)]
    plan = planning.plan(SITE, chargers)
    assert [(f.reason, f.current_a) for f in plan.fixed] == [("offline", (0.0, 0.0, 16.0))]
    assert limits(plan)[("A", "tx#1")] == Decimal("16.0")  # L3 bounds the three-phase session


def test_a_charger_shares_its_rating_among_its_evses_and_a_circuit_caps_its_chargers() -> None:
    site = {**SITE, "grid": {"max_current_a": 100, "phases": 3},
            "circuits": [{"id": "row-1", "max_current_a": 20, "phases": 3, "charger_ids": ["A"]}]}
    chargers = [charger("A", rated=32, evses={1, 2}, **{"s#1": session("1"), "s#2": session("2")}),
                charger("B", rated=32, evses={1, 2}, **{"s#1": session("3"), "s#2": session("4")})]
    found = limits(planning.plan(site, chargers))
    assert found[("A", "tx#1")] == found[("A", "tx#2")] == Decimal("10.0")  # the circuit's 20 A
    assert found[("B", "tx#1")] == found[("B", "tx#2")] == Decimal("16.0")  # its own 32 A rating
    assert found[("A", "max")] == Decimal("20.0") and found[("B", "max")] == Decimal("32.0")


def test_a_paused_ev_keeps_its_minimum_and_a_single_phase_draw_maps_through_the_rotation() -> None:
    paused = session("1", charging_state="SuspendedEV")
    drawing = session("2", phases_used=1, current_a={"L1": "7.5"})
    chargers = [charger("A", **{"s#1": paused, "p#tx#1": {"accepted_limit": "16", "status": "accepted"}}),
                charger("B", phase_map={"1": "L2"}, **{"s#1": drawing, "p#tx#1": {"accepted_limit": "16",
                                                                                  "status": "accepted"}})]
    found = limits(planning.plan(SITE, chargers))
    assert found[("A", "tx#1")] == Decimal("6.0")  # drawing nothing: capped at its minimum
    assert found[("B", "tx#1")] == Decimal("9.5")  # its 7.5 A (on grid L2) and the 2 A buffer


def test_falls_go_out_at_once_and_rises_wait() -> None:
    held = {"purpose": planning.TX, "evse_id": 1, "limit_a": "16", "phases": 3, "request": 4, "attempts": 0,
            "status": "accepted", "accepted_limit": "16", "transaction_id": "11",
            "valid_to": clock.iso(NOW + timedelta(hours=5))}
    chargers = [charger("A", **{"p#tx#1": held}), charger("B", **{"p#default#1": {**held, "purpose": planning.TX_DEFAULT,
                                                                               "transaction_id": None, "valid_to": None}})]
    targets = (planning.Target("A", "tx#1", planning.TX, 1, Decimal("10"), 3, "11"),
               planning.Target("B", "default#1", planning.TX_DEFAULT, 1, Decimal("20"), 3),
               planning.Target("B", "max", planning.STATION_MAX, 0, Decimal("32"), 3))
    written = planning.requests(chargers, targets, "run-1", NOW, 230)
    assert written["A"]["tx#1"] | {"status": "sending", "falls": True, "request": 5, "limit_a": "10"} == written["A"]["tx#1"]
    assert (written["B"]["default#1"]["status"], written["B"]["default#1"]["falls"]) == ("waiting", False)
    assert written["B"]["max"]["status"] == "sending"  # nothing held yet: it may draw up to its rating
    # Held and unchanged: nothing to send; within the last hour of its validity: sent again.
    same = (planning.Target("A", "tx#1", planning.TX, 1, Decimal("16"), 3, "11"),)
    assert planning.requests(chargers, same, "run-2", NOW, 230) == {}
    assert planning.requests(chargers, same, "run-3", NOW + timedelta(hours=4, minutes=30), 230)["A"]["tx#1"]["request"] == 5


def test_a_new_transaction_rises_from_its_evses_default() -> None:
    default = {"purpose": planning.TX_DEFAULT, "evse_id": 1, "limit_a": "0", "status": "accepted",
               "accepted_limit": "0", "request": 1}
    target = (planning.Target("A", "tx#1", planning.TX, 1, Decimal("16"), 3, "11"),)
    entry = planning.requests([charger("A", **{"p#default#1": default})], target, "r", NOW, 230)["A"]["tx#1"]
    assert (entry["status"], entry["falls"]) == ("waiting", False)


def test_a_reconnected_charger_gets_everything_again_as_falls() -> None:
    before = {"purpose": planning.STATION_MAX, "evse_id": 0, "limit_a": "32", "phases": 3, "request": 2,
              "status": "accepted", "accepted_limit": "32", "requested_at": "2026-12-04T09:00:00.000Z"}
    target = (planning.Target("A", "max", planning.STATION_MAX, 0, Decimal("32"), 3),)
    held = charger("A", connected_at="2026-12-04T09:00:00.000Z", **{"p#max": before})
    assert planning.requests([held], target, "r", NOW, 230) == {}
    # Connected (or booted) since it was sent: it may have lost it.
    again = {**held, "connected_at": "2026-12-04T09:30:00.000Z"}
    entry = planning.requests([again], target, "r", NOW, 230)["A"]["max"]
    assert (entry["status"], entry["request"], entry["falls"]) == ("sending", 3, True)


def test_an_exclusion_holds_until_the_charger_connects_again() -> None:
    shut = charger("A", connected_at="2026-12-04T09:00:00.000Z",
                   excluded={"at": "2026-12-04T09:10:00.000Z", "reason": "refused", "attempts": 3})
    assert not planning.steerable(shut)
    assert planning.steerable({**shut, "connected_at": "2026-12-04T09:20:00.000Z"})


def test_a_rise_on_its_way_counts_until_it_is_settled() -> None:
    rising = {"purpose": planning.TX, "evse_id": 1, "limit_a": "16", "phases": 3, "request": 2, "status": "sending",
              "accepted_limit": "8", "transaction_id": "11", "requested_at": clock.iso(NOW)}
    target = (planning.Target("A", "tx#1", planning.TX, 1, Decimal("12"), 3, "11"),)
    entry = planning.requests([charger("A", **{"p#tx#1": rising})], target, "r", NOW, 230)["A"]["tx#1"]
    # The charger may yet accept the 16 A on its way: 12 A is a fall from it, not a rise from 8 A.
    assert (entry["status"], entry["falls"], entry["accepted_limit"]) == ("sending", True, "16")


def test_rises_are_released_once_no_fall_is_outstanding() -> None:
    falling = {"status": "sending", "falls": True}
    rising = {"status": "waiting", "falls": False}
    assert planning.releasable([charger("A", **{"p#tx#1": falling}), charger("B", **{"p#tx#1": rising})]) == {}
    assert planning.releasable([charger("A", **{"p#tx#1": {**falling, "status": "accepted"}}),
                                charger("B", **{"p#tx#1": rising})]) == {"B": ["tx#1"]}
    # A fall outstanding at a charger that went offline holds rises back until a run parks it (it then counts at
    # its rating).
    offline = charger("A", connected=False, **{"p#tx#1": falling})
    assert planning.releasable([offline, charger("B", **{"p#tx#1": rising})]) == {}
    parked = planning.parked([offline, charger("B")])
    assert parked == {"A": {"tx#1": {**falling, "status": "parked"}}}
    assert planning.releasable([{**offline, "p#tx#1": parked["A"]["tx#1"]},
                                charger("B", **{"p#tx#1": rising})]) == {"B": ["tx#1"]}


def test_outcomes_accept_retry_and_give_up() -> None:
    held = {"purpose": planning.TX, "limit_a": "10", "request": 1, "attempts": 0, "status": "sending"}
    accepted = planning.settled(held, "accepted", None)
    assert (accepted.entry["status"], accepted.entry["accepted_limit"], accepted.exclude) == ("accepted", "10", None)
    first = planning.settled(held, "rejected", None)
    assert (first.entry["status"], first.entry["request"], first.entry["attempts"], first.exclude) == ("sending", 2, 1, None)
    second = planning.settled(first.entry, "timed_out", None)
    third = planning.settled(second.entry, "error", "InternalError")
    # A refused TxProfile does not exclude its charger (its transaction may be unknown to it): its session counts
    # at the rating. A refused charger-wide one does.
    assert (third.entry["status"], third.exclude) == ("failed", None)
    wide = {**held, "purpose": planning.STATION_MAX, "attempts": 2}
    assert "3 times" in (planning.settled(wide, "rejected", None).exclude or "")
    unsupported = planning.settled(held, "error", "NotImplemented")
    assert unsupported.entry["status"] == "failed" and "takes no profiles" in (unsupported.exclude or "")
    offline = planning.settled(held, "timed_out", "QueueTimeout")
    assert (offline.entry["status"], offline.entry["attempts"], offline.exclude) == ("parked", 0, None)


def test_the_wire_shapes_are_each_versions_and_valid() -> None:
    entry = {"purpose": planning.TX, "evse_id": 2, "limit_a": "13.7", "phases": 1, "request": 1,
             "transaction_id": "42", "requested_at": "2026-12-04T10:00:00.000Z", "valid_to": "2026-12-04T16:00:00.000Z",
             "voltage": 230}
    action, payload16 = planning.command("ocpp1.6", entry, "A")
    assert action == "SetChargingProfile" and payload16["connectorId"] == 2
    profile = payload16["csChargingProfiles"]
    assert (profile["transactionId"], profile["chargingProfilePurpose"], profile["chargingProfileKind"]) == \
        (42, "TxProfile", "Absolute")
    assert profile["chargingSchedule"]["chargingSchedulePeriod"] == [{"startPeriod": 0, "limit": 13.7, "numberPhases": 1}]
    assert violations("ocpp1.6", action, payload16) == []
    _, payload201 = planning.command("ocpp2.0.1", entry, "W")
    schedule = payload201["chargingProfile"]["chargingSchedule"][0]
    assert payload201["chargingProfile"]["transactionId"] == "42" and payload201["evseId"] == 2
    assert (schedule["chargingRateUnit"], schedule["chargingSchedulePeriod"][0]["limit"]) == ("W", 3151)
    assert violations("ocpp2.0.1", action, payload201) == []
    maximum = {**entry, "purpose": planning.STATION_MAX, "evse_id": 0, "transaction_id": None, "valid_to": None}
    _, payload = planning.command("ocpp1.6", maximum, "A")
    assert payload["csChargingProfiles"]["chargingProfilePurpose"] == "ChargePointMaxProfile"
    assert "transactionId" not in payload["csChargingProfiles"] and violations("ocpp1.6", action, payload) == []


@st.composite
def sites(draw: st.DrawFn) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    circuits = [{"id": f"c{n}", "max_current_a": draw(st.integers(6, 63)), "phases": 3,
                 "charger_ids": []} for n in range(draw(st.integers(0, 2)))]
    chargers = []
    for n in range(draw(st.integers(1, 6))):
        cp = f"CP{n}"
        if circuits and draw(st.booleans()):
            draw(st.sampled_from(circuits))["charger_ids"].append(cp)
        phases = draw(st.sampled_from([1, 3]))
        evses = draw(st.integers(1, 2))
        fields: dict[str, Any] = {"evses": set(range(1, evses + 1))}
        for evse in range(1, evses + 1):
            if draw(st.booleans()):
                fields[f"s#{evse}"] = session(f"{n}-{evse}", priority=draw(st.integers(0, 2)),
                                              phases_used=draw(st.sampled_from([None, 1, 3])))
        chargers.append(charger(cp, rated=draw(st.sampled_from([10, 16, 32])), phases=phases,
                                phase_map={"1": draw(st.sampled_from(["L1", "L2", "L3"]))},
                                connected=draw(st.booleans()), **fields,
                                **({"excluded": {"reason": "x"}} if draw(st.integers(0, 5)) == 0 else {})))
    grid = {"max_current_a": draw(st.integers(16, 125)), "phases": 3}
    return {"site_id": "depot", "grid": grid, "circuits": circuits}, chargers


@settings(max_examples=150, deadline=None)
@given(sites())
def test_what_sessions_and_idle_evses_may_draw_together_stays_within_every_node(case: tuple[dict, list]) -> None:
    site, chargers = case
    plan = planning.plan(site, chargers)
    for run in (plan.allocation, plan.idle):
        for node in run.nodes:
            # What cannot be steered may alone exceed a node (offline chargers at their rating): then nothing more.
            assert node.fixed_a + node.allocated_a <= node.limit_a or node.allocated_a == 0
    # The idle EVSEs' defaults are allocated on top of what the sessions were: both together fit.
    first = {(n.node_id, n.phase): n for n in plan.allocation.nodes}
    for node in plan.idle.nodes:
        before = first[(node.node_id, node.phase)]
        assert node.fixed_a == before.fixed_a + before.allocated_a
    for target in plan.targets:
        assert target.limit_a >= 0 and target.limit_a * 10 == int(target.limit_a * 10)


def test_a_1_6_session_is_single_phase_only_once_it_charges_on_one_phase() -> None:
    other = charger("B", phases=1, phase_map={"1": "L2"}, **{"s#1": session("2")})
    # A ramping sample (3 A on L1) proves nothing: counted on all three phases, it shares L2 with B.
    ramping = limits(planning.plan(SITE, [charger("A", **{"s#1": session("1", phases_used=1, current_a={"L1": "3"})}),
                                          other]))
    assert (ramping[("A", "tx#1")], ramping[("B", "tx#1")]) == (Decimal("16.0"), Decimal("16.0"))
    # Charging on L1 alone, it leaves L2 to B.
    charging = limits(planning.plan(SITE, [charger("A", **{"s#1": session("1", phases_used=1,
                                                                             current_a={"L1": "12"})}), other]))
    assert (charging[("A", "tx#1")], charging[("B", "tx#1")]) == (Decimal("32.0"), Decimal("32.0"))
    # 2.0.1 says so itself (numberOfPhasesUsed), drawing or not.
    said = limits(planning.plan(SITE, [charger("A", version="ocpp2.0.1", **{"s#1": session("1", phases_used=1)}),
                                       other]))
    assert said[("A", "tx#1")] == Decimal("32.0")


def test_a_single_phase_charger_with_evses_on_two_phases_counts_on_both() -> None:
    two = charger("A", rated=16, phases=1, phase_map={"1": "L1", "2": "L2"}, evses={1, 2}, connected=False)
    assert planning.worst_case(two) == (16.0, 16.0, 0.0)


def test_a_refused_tx_profile_counts_its_session_at_the_rating_and_ended_ones_are_forgotten() -> None:
    refused = {"purpose": planning.TX, "evse_id": 1, "limit_a": "10", "status": "failed", "transaction_id": "11",
               "requested_at": clock.iso(NOW)}
    chargers = [charger("A", rated=20, **{"s#1": session("11"), "p#tx#1": refused}), charger("B", **{"s#1": session("2")})]
    plan = planning.plan(SITE, chargers)
    assert [(f.reason, f.current_a) for f in plan.fixed] == [("no_profiles", (20.0, 20.0, 20.0))]
    assert limits(plan)[("B", "tx#1")] == Decimal("12.0") and ("A", "tx#1") not in limits(plan)
    ended = [charger("A", **{"p#tx#1": refused}), charger("B", **{"s#1": session("2"), "p#tx#1": {
        **refused, "transaction_id": "1"}})]
    assert planning.obsolete(ended) == {"A": ["tx#1"], "B": ["tx#1"]}


def test_circuits_are_their_own_nodes_whatever_their_ids_and_single_phase_ones_have_their_phase() -> None:
    site = {**SITE, "circuits": [{"id": "grid", "max_current_a": 16, "phases": 1, "phase": "L2", "charger_ids": ["A"]}]}
    chargers = [charger("A", phases=1, phase_map={"1": "L2"}, **{"s#1": session("1")})]
    assert limits(planning.plan(site, chargers))[("A", "tx#1")] == Decimal("16.0")


def test_a_charger_leaving_is_asked_to_clear_what_the_csms_set() -> None:
    held = charger("A", **{"p#max": {"status": "accepted"}, "p#default#1": {"status": "accepted"}})
    entry = planning.clearing(held, NOW)
    assert entry is not None and (entry["purpose"], entry["status"], entry["request"]) == (planning.CLEAR, "sending", 1)
    assert planning.clearing(charger("A", **{"p#clear": entry}), NOW) is None
    for version, payload in (("ocpp1.6", {"stackLevel": 1}), ("ocpp2.0.1", {"chargingProfileCriteria": {"stackLevel": 1}})):
        action, sent = planning.command(version, entry, "A")
        assert (action, sent) == ("ClearChargingProfile", payload) and violations(version, action, sent) == []
