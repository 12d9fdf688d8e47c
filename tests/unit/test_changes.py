"""The pure `changes` functions: what each write of a service's tables announces, from the item before and after it."""

from __future__ import annotations

from decimal import Decimal
from itertools import pairwise
from typing import Any

from services.billing.changes import assignment_changes, invoice_changes, tariff_changes
from services.connectivity.changes import charger_changes, command_changes, message_changes, site_changes
from services.connectivity.commands import QUEUE_KEY
from services.sessions.changes import session_changes
from services.shared.relay import wanted

CP = "CP-1"
T0 = "2026-03-01T10:00:00.000Z"


def names(found: list[Any]) -> list[str]:
    return [event.detail_type() for event in found]


def connector(status: str, problem_code: str | None = None, at: str = T0, **extra: Any) -> dict[str, Any]:
    return {"status": status, **({"problem_code": problem_code} if problem_code else {}), "timestamp": at, "updated_at": at,
            **extra}


def test_a_connection_announces_connected_and_its_end_disconnected() -> None:
    offline = {"charge_point_id": CP, "connected": False, "connectors": {}}
    online = {**offline, "connected": True, "connection_id": "A", "connected_at": T0, "ocpp_version": "ocpp1.6"}
    [connected] = charger_changes(offline, online)
    assert (connected.detail_type(), connected.connection_id, connected.occurred_at) == ("ChargerConnected", "A", T0)
    gone = {**offline, "disconnected_at": "2026-03-01T11:00:00.000Z"}
    [disconnected] = charger_changes(online, gone)
    assert (disconnected.detail_type(), disconnected.connection_id) == ("ChargerDisconnected", "A")
    assert disconnected.occurred_at == "2026-03-01T11:00:00.000Z"
    reconnected = {**online, "connection_id": "B"}
    assert names(charger_changes(online, reconnected)) == ["ChargerConnected"]  # the old one's $disconnect comes late
    assert charger_changes(online, online) == []
    assert charger_changes(online, reconnected)[0].event_id != connected.event_id
    assert charger_changes(offline, online)[0].event_id == connected.event_id  # relayed twice: the same event


def test_a_boot_announces_booted_with_the_chargers_identity() -> None:
    before = {"charge_point_id": CP, "boot": {"booted_at": T0, "charge_point_vendor": "Acme", "charge_point_model": "X1"}}
    after = {"charge_point_id": CP, "boot": {"booted_at": "2026-03-01T12:00:00.000Z", "charge_point_vendor": "Acme",
                                             "charge_point_model": "X2", "firmware_version": "1.2"}}
    [booted] = charger_changes(before, after)
    assert (booted.charge_point_model, booted.firmware_version, booted.occurred_at) == ("X2", "1.2", "2026-03-01T12:00:00.000Z")
    assert charger_changes(after, {**after, "last_seen": T0}) == []


def test_a_connector_announces_what_changed_with_what_it_was() -> None:
    before = {"charge_point_id": CP, "connectors": {"1/1": connector("Available"), "2/1": connector("Available")}}
    after = {"charge_point_id": CP, "connectors": {"1/1": connector("Faulted", "GroundFailure", "2026-03-01T10:05:00.000Z"),
                                                   "2/1": connector("Available", at="2026-03-01T10:05:00.000Z"),
                                                   "10/2": connector("Available"), "0/0": connector("Available")}}
    changed = charger_changes(before, after)
    assert [(e.evse_id, e.connector_id, e.status, e.problem_code, e.previous_status) for e in changed] == [
        (0, 0, "Available", None, None), (1, 1, "Faulted", "GroundFailure", "Available"), (10, 2, "Available", None, None)]
    assert changed[1].occurred_at == "2026-03-01T10:05:00.000Z"


def test_a_placed_chargers_link_and_connector_events_say_where_it_stands_and_others_leave_it_out() -> None:
    before = {"charge_point_id": CP, "connectors": {"1/1": connector("Available")}}
    after = {**before, "connection_id": "A", "connected_at": T0, "ocpp_version": "ocpp1.6",
             "connectors": {"1/1": connector("Charging", at="2026-03-01T10:05:00.000Z")}}
    placed = charger_changes({**before, "site_id": "S-1"}, {**after, "site_id": "S-1"})
    assert [(e.detail_type(), e.model_dump(mode="json")["site_id"]) for e in placed] == [
        ("ChargerConnected", "S-1"), ("ConnectorStatusChanged", "S-1")]
    # Left out, not null: a rule's {"exists": true} takes only placed chargers' events.
    assert all("site_id" not in e.model_dump(mode="json") and '"site_id"' not in e.model_dump_json()
               for e in charger_changes(before, after))


def test_a_charger_announces_placed_when_its_site_changes_with_its_registration_version() -> None:
    unplaced = {"charge_point_id": CP, "connectors": {}, "registration_version": Decimal(1)}
    placed = {**unplaced, "site_id": "S-1", "registration_version": Decimal(2)}
    [event] = charger_changes(unplaced, placed)
    assert (event.detail_type(), event.site_id, event.previous_site_id, event.version) == ("ChargerPlaced", "S-1", None, 2)
    assert charger_changes(unplaced, placed)[0].event_id == event.event_id  # relayed twice: the same event
    assert charger_changes(placed, {**placed, "registration_version": Decimal(3), "labels": {"a": "b"}}) == []
    deleted = {**unplaced, "deleted_at": "2026-03-01T12:00:00.000Z", "registration_version": Decimal(3)}
    [gone] = charger_changes(placed, deleted)
    assert (gone.site_id, gone.previous_site_id, gone.version, gone.occurred_at) == (None, "S-1", 3, deleted["deleted_at"])
    assert charger_changes(None, {"charge_point_id": CP, "connectors": {}}) == []


def test_a_charger_announces_placed_when_its_rating_or_phase_map_changes_and_not_on_other_writes() -> None:
    """Chargers' items are written on nearly every OCPP message; only a registration changes the rating."""
    before = {"charge_point_id": CP, "connectors": {}, "site_id": "S-1", "registration_version": Decimal(1)}
    rated = {**before, "max_current_a": Decimal("32.5"), "phases": Decimal(3), "phase_map": {},
             "registration_version": Decimal(2)}
    assert charger_changes(before, {**rated, "max_current_a": None}) == [], "the defaults, as an older item has none"
    [event] = charger_changes(before, rated)
    assert (event.site_id, event.previous_site_id, event.version) == ("S-1", "S-1", 2)
    assert (event.max_current_a, event.phases, event.phase_map) == (32.5, 3, {})
    assert event.model_dump(mode="json")["max_current_a"] == 32.5, "a number, not the stream's Decimal as a string"
    mapped = {**rated, "phases": Decimal(1), "phase_map": {"1": "L2"}, "registration_version": Decimal(3)}
    [event] = charger_changes(rated, mapped)
    assert (event.phases, event.phase_map, event.version) == (1, {"1": "L2"}, 3)
    assert charger_changes(rated, {**mapped, "phases": Decimal(3)})[0].phase_map == {"1": "L2"}
    assert names(charger_changes(mapped, {**mapped, "last_seen": T0, "connectors": {"1/1": connector("Charging")}})) == [
        "ConnectorStatusChanged"]
    assert charger_changes(mapped, {**mapped, "registration_version": Decimal(4), "labels": {"a": "b"}}) == []


def test_a_command_announces_completed_once_when_it_is_settled() -> None:
    sent = {"charge_point_id": CP, "command_id": "c1", "action": "Reset", "status": "sent"}
    done = {**sent, "status": "accepted", "reply": {"status": "Accepted"}, "completed_at": T0}
    [completed] = command_changes(sent, done)
    assert (completed.status, completed.reply, completed.occurred_at) == ("accepted", {"status": "Accepted"}, T0)
    assert command_changes(None, {**sent, "status": "pending"}) == []
    assert command_changes(done, {**done, "expires_at": 1}) == []


def test_a_completed_command_carries_what_was_asked_with_numbers_as_numbers() -> None:
    """A consumer must know what was asked (a SendLocalList's version, a ReserveNow's id); the stream's Decimals
    would be strings in the event's JSON."""
    sent = {"charge_point_id": CP, "command_id": "c1", "action": "SendLocalList", "status": "sent",
            "payload": {"versionNumber": Decimal(3), "updateType": "Full"}}
    [answered] = command_changes(sent, {**sent, "status": "accepted", "completed_at": T0,
                                        "reply": {"status": "Accepted", "n": Decimal("1.5")}})
    assert '"payload":{"versionNumber":3,"updateType":"Full"}' in answered.model_dump_json()
    assert answered.reply == {"status": "Accepted", "n": 1.5} and answered.error_code is None
    [never_sent] = command_changes(sent, {**sent, "status": "timed_out", "completed_at": T0,
                                          "error": {"code": "QueueTimeout", "description": "Not sent"}})
    assert (never_sent.reply, never_sent.error_code) == (None, "QueueTimeout")


def test_a_completed_command_names_the_service_that_asked_and_gives_its_reference_back() -> None:
    """A requester's rule filters on `requested_by`, and its reference finds what it asked for."""
    sent = {"charge_point_id": CP, "command_id": "c1", "action": "Reset", "status": "sent", "payload": {"type": "Soft"},
            "source": "event:csms.diagnostics", "reference": "inc_1#2"}
    [answered] = command_changes(sent, {**sent, "status": "accepted", "completed_at": T0, "reply": {"status": "Accepted"}})
    assert (answered.requested_by, answered.reference) == ("csms.diagnostics", "inc_1#2")
    by_rest = {**sent, "source": "api:key-1"}
    del by_rest["reference"]
    [asked] = command_changes(by_rest, {**by_rest, "status": "rejected", "completed_at": T0, "reply": {"status": "Rejected"}})
    assert (asked.requested_by, asked.reference) == (None, None)
    assert wanted("csms.connectivity", "CommandCompleted", {"requested_by": "csms.diagnostics", "action": "Reset"})


def test_the_chargers_queue_item_announces_nothing() -> None:
    """The queue shares the commands table (and its stream): claiming, sending and releasing are no commands."""
    key = {"charge_point_id": CP, "command_id": QUEUE_KEY}
    steps = [None, {**key, "pending": ["c1"]}, {**key, "pending": [], "outstanding": "c1", "outstanding_until": 1,
                                               "sent_on": "conn-1"}, {**key, "pending": []}, None]
    assert [command_changes(old, new) for old, new in pairwise(steps)] == [[]] * 4


def test_a_stored_fault_report_announces_fault_reported_and_other_messages_nothing() -> None:
    fault = {"charge_point_id": CP, "message_key": f"fault#{T0}#abc", "event_id": "abc", "occurred_at": T0,
             "component": "Connector", "evse_id": Decimal(2), "connector_id": Decimal(1), "status": "Faulted",
             "problem_code": "GroundFailure", "severity": "error", "vendor_code": "E42", "charge_point_vendor": "Acme"}
    [reported] = message_changes(None, fault)
    assert (reported.event_id, reported.component, reported.evse_id, reported.connector_id, reported.problem_code,
            reported.severity, reported.vendor_code, reported.charge_point_vendor) == (
        "abc", "Connector", 2, 1, "GroundFailure", "error", "E42", "Acme")
    assert message_changes(fault, {**fault, "received_at": T0}) == []  # the same report re-sent
    assert message_changes(None, {"charge_point_id": CP, "message_key": f"{T0}#1", "action": "DataTransfer"}) == []


SESSION = {"charge_point_id": CP, "transaction_id": "7", "session_id": "ses_x", "evse_id": Decimal(1), "connector_id": Decimal(1),
           "id_tag": "TAG", "started_at": T0, "meter_start": Decimal(1000), "status": "active", "flags": []}
ENDED = {**SESSION, "status": "completed", "stopped_at": "2026-03-01T11:00:00.000Z", "meter_stop": Decimal(8000),
         "energy_wh": Decimal(7000), "stop_reason": "Local"}


def test_a_session_announces_started_then_ended_once() -> None:
    [started] = session_changes(None, SESSION)
    assert (started.detail_type(), started.transaction_id, started.meter_start_wh) == ("SessionStarted", "7", 1000)
    [ended] = session_changes(SESSION, ENDED)
    assert (ended.detail_type(), ended.energy_wh, ended.occurred_at) == ("SessionEnded", 7000, "2026-03-01T11:00:00.000Z")
    assert session_changes(ENDED, {**ENDED, "note": "x"}) == []
    assert session_changes(SESSION, {**SESSION, "flags": ["late"]}) == []


def test_a_session_end_carries_what_the_csms_answered_its_id_tag_at_the_start() -> None:
    invalid = {**SESSION, "id_tag_status": "Invalid", "flags": ["id_tag_invalid"]}
    [ended] = session_changes(invalid, {**ENDED, "id_tag_status": "Invalid", "flags": ["id_tag_invalid"]})
    assert (ended.id_tag_status, ended.flags) == ("Invalid", ["id_tag_invalid"])
    assert session_changes(SESSION, {**ENDED, "id_tag_status": "Accepted"})[0].id_tag_status == "Accepted"


def test_a_session_rebuilt_from_its_stop_announces_only_its_end() -> None:
    rebuilt = {**ENDED, "created_from_stop": True, "flags": ["start_missing"]}
    assert names(session_changes(None, rebuilt)) == ["SessionEnded"]
    assert session_changes(None, rebuilt)[0].id_tag_status is None  # the CSMS never answered its start
    assert session_changes(None, {"charge_point_id": CP, "transaction_id": "7"}) == []  # the key alone


def test_a_201_session_announces_its_start_when_its_started_comes_whatever_came_before() -> None:
    """2.0.1's events come in any order: the session may exist (from an Updated) before its Started."""
    from_updated = {**SESSION, "seq_nos": {Decimal(1)}, "transaction_id": "tx-a"}
    del from_updated["meter_start"]
    assert session_changes(None, from_updated) == []
    with_start = {**from_updated, "seq_nos": {Decimal(0), Decimal(1)}, "started_seq_no": Decimal(0)}
    [started] = session_changes(from_updated, with_start)
    assert (started.detail_type(), started.meter_start_wh) == ("SessionStarted", None)  # its Started read no register
    assert session_changes(with_start, {**with_start, "seq_nos": {Decimal(0), Decimal(1), Decimal(2)}}) == []
    ended = {**with_start, **{k: v for k, v in ENDED.items() if k != "transaction_id"}, "ended_seq_no": Decimal(2)}
    assert names(session_changes(with_start, ended)) == ["SessionEnded"]
    late_start = {**ended, "started_seq_no": Decimal(0)}
    del ended["started_seq_no"]
    assert session_changes(ended, late_start) == []  # a Started after the end starts nothing
    assert session_changes(late_start, {**late_start, "flags": ["incomplete"]}) == []


def test_a_session_starts_with_its_tokens_charging_priority() -> None:
    assert session_changes(None, SESSION)[0].charging_priority == 0  # none stored: the default
    [started] = session_changes(None, {**SESSION, "charging_priority": Decimal(7)})
    assert started.charging_priority == 7


def test_an_active_session_announces_each_higher_charging_version_once() -> None:
    drawn = {"phases_used": Decimal(1), "current_a": {"L1": Decimal("0.2"), "L2": Decimal("15.5")},
             "charging_state": "Charging", "version": Decimal(2), "at": "2026-03-01T10:05:00.000Z"}
    charging = {**SESSION, "charging": drawn}
    [changed] = session_changes(SESSION, charging)
    assert (changed.detail_type(), changed.session_id, changed.evse_id, changed.phases_used, changed.current_a,
            changed.charging_state, changed.version, changed.occurred_at) == (
        "SessionChargingChanged", "ses_x", 1, 1, {"L1": 0.2, "L2": 15.5}, "Charging", 2, "2026-03-01T10:05:00.000Z")
    suspended = {**charging, "charging": {**drawn, "charging_state": "SuspendedEV", "version": Decimal(3)}}
    assert [e.version for e in session_changes(charging, suspended)] == [3]
    assert session_changes(charging, suspended)[0].event_id != changed.event_id
    assert session_changes(SESSION, charging)[0].event_id == changed.event_id  # relayed twice: the same event
    assert session_changes(suspended, {**suspended, "flags": ["late"]}) == []  # the same version
    assert names(session_changes(suspended, {**ENDED, "charging": drawn})) == ["SessionEnded"]


def test_an_invoice_announces_issued_when_created() -> None:
    invoice = {"invoice_id": "inv_1", "charge_point_id": CP, "session_id": "ses_x", "energy_wh": Decimal(7000),
               "status": "issued", "number": Decimal(7), "total_excl_vat": Decimal(210), "total_vat": Decimal(40),
               "total_incl_vat": Decimal(250), "currency": "EUR", "issued_at": T0}
    [issued] = invoice_changes(None, invoice)
    assert (issued.total, issued.total_excl_vat, issued.total_vat, issued.number) == (250, 210, 40, 7)
    assert (issued.id_tag, issued.occurred_at, issued.receipt_path, issued.account_id) == (None, T0, None, None)
    [driver] = invoice_changes(None, {**invoice, "receipt_token": "tok", "account_id": "acct_1"})
    assert (driver.receipt_path, driver.account_id) == ("/receipts/tok", "acct_1")
    assert invoice_changes(invoice, {**invoice, "status": "paid"}) == []
    [unpriced] = invoice_changes(None, {**invoice, "status": "unpriced", "id_tag": "T"})
    assert (unpriced.detail_type(), unpriced.session_id, unpriced.energy_wh, unpriced.id_tag) == (
        "SessionUnpriced", "ses_x", 7000, "T")



def test_each_tariff_version_announces_itself_and_a_tombstone_its_deletion() -> None:
    v1 = {"tariff_id": "AC", "version": Decimal(1), "created_at": T0, "tariff": '{"currency": "EUR", "id": "AC"}'}
    [changed] = tariff_changes(None, v1)
    assert (changed.tariff_id, changed.version, changed.tariff, changed.deleted) == ("AC", 1, {"currency": "EUR", "id": "AC"}, False)
    [gone] = tariff_changes(None, {"tariff_id": "AC", "version": Decimal(2), "created_at": T0, "deleted": True})
    assert (gone.version, gone.tariff, gone.deleted) == (2, None, True) and gone.event_id != changed.event_id
    assert tariff_changes(v1, v1) == [] and tariff_changes(v1, None) == []


def test_an_assignment_announces_its_creation_and_deletion() -> None:
    item = {"assignment_id": "asg_1", "tariff_id": "AC", "scope": "connector", "target_id": "CP-1/1", "created_at": T0,
            "target_key": "connector#CP-1/1", "valid_from": T0}
    [created] = assignment_changes(None, item)
    assert (created.scope, created.target_id, created.valid_from, created.deleted, created.occurred_at) == (
        "connector", "CP-1/1", T0, False, T0)
    [deleted] = assignment_changes(item, None)
    assert (deleted.assignment_id, deleted.deleted) == ("asg_1", True) and deleted.event_id != created.event_id
    assert assignment_changes(item, item) == []

def site(version: int, **extra: Any) -> dict[str, Any]:
    return {"site_id": "north", "part": "site", "version": Decimal(version), "name": "North", "time_zone": "Europe/Berlin",
            "address": {"street": "Kai 1", "city": "Kiel", "country": "DE"}, "labels": {}, "charger_count": Decimal(0),
            "updated_at": f"2026-03-01T10:0{version}:00.000Z", **extra}


def test_a_site_announces_created_updated_deleted_and_created_again() -> None:
    lives = [None, site(1), site(2, name="North 2"), site(3, deleted_at=T0), site(4)]
    changed = [site_changes(old, new) for old, new in pairwise(lives)]
    assert [[(e.change, e.version, e.name) for e in found] for found in changed] == [
        [("created", 1, "North")], [("updated", 2, "North 2")], [("deleted", 3, "North")], [("created", 4, "North")]]
    first = changed[0][0]
    assert (first.site_id, first.occurred_at, first.address.country, first.charge_point_id) == (
        "north", "2026-03-01T10:01:00.000Z", "DE", None)
    assert site_changes(None, site(1))[0].event_id == first.event_id  # relayed twice: the same event
    assert len({found[0].event_id for found in changed}) == 4


def test_a_site_announces_its_electrical_tree_with_numbers_as_numbers() -> None:
    tree = {"grid": {"max_current_a": Decimal(63), "voltage": Decimal(230), "phases": Decimal(3)},
            "circuits": [{"id": "feeder", "max_current_a": Decimal("32.5"), "phases": Decimal(3),
                          "charger_ids": ["CP-1", "CP-2"]},
                         {"id": "board", "parent_id": "feeder", "max_power_w": Decimal(7400), "phases": Decimal(1),
                          "phase": "L3", "charger_ids": []}]}
    [changed] = site_changes(None, site(1, **tree))
    assert changed.model_dump(mode="json")["grid"] == {"max_current_a": 63.0, "max_power_w": None, "phase": None,
                                                       "voltage": 230, "phases": 3}
    assert [(c.id, c.parent_id, c.max_current_a, c.max_power_w, c.phases, c.phase, c.charger_ids)
            for c in changed.circuits] == [("feeder", None, 32.5, None, 3, None, ["CP-1", "CP-2"]),
                                           ("board", "feeder", None, 7400, 1, "L3", [])]
    [bare] = site_changes(None, site(1))
    assert (bare.grid, bare.circuits) == (None, []), "a site from before the tree, or without one"


def test_a_sites_count_or_other_parts_announce_nothing() -> None:
    assert site_changes(site(1), site(1, charger_count=Decimal(1))) == []
    assert site_changes(None, {"site_id": "north", "part": "tariff#2026"}) == []
    assert site_changes(site(1), None) == []
    assert site_changes(None, {"site_id": "north", "part": "site"}) == []
    assert site_changes({"site_id": "north", "part": "site"}, site(1))[0].change == "created"


def test_only_types_a_rule_can_match_are_wanted() -> None:
    assert wanted("csms.sessions", "SessionEnded")
    assert wanted("csms.anything", "CommandRequested")  # connectivity's rule names no source
    assert wanted("csms.connectivity", "FaultReported")
    assert not wanted("csms.connectivity", "SessionHoldReached")  # billing's rule names the source
    assert wanted("csms.connectivity", "SessionStarted")  # notifications' rule names none, as connectivity's
    assert wanted("csms.connectivity", "ChargerDisconnected")  # load management counts it at its rating
    assert not wanted("csms.connectivity", "NoSuchEvent")
    assert wanted("csms.billing", "InvoiceIssued")  # billing's own payments consume it
    assert not wanted("csms.billing", "SessionHoldReached")  # the rules of SessionHoldReached name sessions
    assert wanted("csms.connectivity", "SiteChanged")  # sessions, billing, diagnostics and smart charging keep sites
    # Sessions' rule wants CommandCompleted of a few actions, diagnostics' those it requested: the others are not
    # put on the bus (a null field matches no string of a rule, as in EventBridge).
    assert wanted("csms.connectivity", "CommandCompleted", {"action": "ReserveNow", "requested_by": None})
    assert not wanted("csms.connectivity", "CommandCompleted", {"action": "Reset", "requested_by": None})
    assert wanted("csms.connectivity", "CommandCompleted", {"action": "Reset", "requested_by": "csms.diagnostics"})
    assert not wanted("csms.connectivity", "CommandCompleted", {"action": "Reset", "requested_by": "csms.sessions"})
    # Sessions' rule's detail is an $or: a CommandCompleted of another action matches none of it.
    assert not wanted("csms.connectivity", "CommandCompleted", {"action": "ClearCache", "status": "accepted",
                                                               "requested_by": None})


def test_a_rules_detail_or_matches_by_one_of_its_alternatives() -> None:
    from services.shared.relay import _could_match

    rule = {"detail-type": ["CommandCompleted", "ConnectorStatusChanged"],
            "detail": {"$or": [{"action": ["ReserveNow"]}, {"status": ["Reserved"]}, {"previous_status": ["Reserved"]}]}}
    status = {"status": "Charging", "previous_status": "Available"}
    assert not _could_match(rule, "csms.connectivity", "ConnectorStatusChanged", status)
    assert _could_match(rule, "csms.connectivity", "ConnectorStatusChanged", {**status, "previous_status": "Reserved"})
    assert _could_match(rule, "csms.connectivity", "ConnectorStatusChanged", {**status, "status": "Reserved"})
    assert _could_match(rule, "csms.connectivity", "CommandCompleted", {"action": "ReserveNow", "status": "accepted"})
    assert not _could_match(rule, "csms.connectivity", "CommandCompleted", {"action": "Reset", "status": "accepted"})
