"""MeterValues of many elements: written packed, in a few items, and read back one sample per element; per-phase
currents kept on the session (what it draws) only when they changed."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from services.sessions import store, transactions
from services.shared import aws
from tests.service.helpers import EventTap, connect_charger, frame_id, rest_event, send_frame
from tests.service.helpers import context as lambda_context

CP = "CP-PACK"


def elements(count: int, start: int = 0) -> list[dict[str, Any]]:
    """One-reading elements a second apart, as a charger's backlog of meter values."""
    return [{"timestamp": f"2026-03-01T10:{(start + n) // 60:02}:{(start + n) % 60:02}Z",
             "sampledValue": [{"value": str(1000 + start + n), "unit": "kWh"}]} for n in range(count)]


def as_recorded(sent: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Elements as the ocpp library hands them to the handlers (snake_case)."""
    return [{"timestamp": e["timestamp"], "sampled_value": [{"value": e["sampledValue"][0]["value"]}]} for e in sent]


def items() -> list[dict[str, Any]]:
    return aws.table("meter-values").scan()["Items"]


def test_a_frame_of_many_elements_is_one_write_and_reads_back_in_time_order(aws_env: None) -> None:
    connection_id, _ = connect_charger(CP)
    sent = elements(300)[::-1]  # the charger's order need not be time order
    reply = send_frame(CP, connection_id, [2, frame_id(), "MeterValues", {"connectorId": 1, "meterValue": sent}])
    assert reply is not None and reply[0] == 3
    assert len(items()) == 1  # one PutItem of a few KB, where one item per element would bill 300 write units
    series = f"{CP}/connector/1/1"
    read = store.samples(series)
    assert [s["sampled_value"][0]["value"] for s in read] == [str(1000 * (1000 + n)) for n in range(300)]
    assert {(s["series"], s["charge_point_id"], s["evse_id"], s["connector_id"]) for s in read} == {(series, CP, 1, 1)}

    send_frame(CP, connection_id, [2, frame_id(), "MeterValues", {"connectorId": 1, "meterValue": sent}])  # replayed
    assert len(items()) == 1 and len(store.samples(series)) == 300


def test_elements_stored_alone_and_again_in_a_pack_are_read_once(aws_env: None) -> None:
    transactions.record_samples(CP, "7", (1, 1), as_recorded(elements(1, start=5)))
    transactions.record_samples(CP, "7", (1, 1), as_recorded(elements(10)))
    read = store.samples(f"{CP}/tx/7")
    assert [s["sampled_value"][0]["value"] for s in read] == [str(1000 + n) for n in range(10)]
    assert all(s["transaction_id"] == "7" for s in read)


def test_a_backlog_past_the_pack_size_takes_several_items(aws_env: None, monkeypatch: Any) -> None:
    monkeypatch.setattr(store, "PACKED_BYTES", 1024)
    transactions.record_samples(CP, None, (1, 1), as_recorded(elements(50)))
    assert 4 <= len(items()) <= 10
    assert len(store.samples(f"{CP}/connector/1/1")) == 50


def currents(l1: str, l2: str, l3: str, at: str = "2026-03-01T10:05:00Z") -> list[dict[str, Any]]:
    return [{"timestamp": at, "sampledValue": [
        {"value": value, "measurand": "Current.Import", "phase": phase, "unit": "A"}
        for phase, value in (("L1-N", l1), ("L2-N", l2), ("L3-N", l3))] + [{"value": "1200", "unit": "Wh"}]}]


def test_per_phase_currents_write_the_session_only_when_they_change(aws_env: None, tap: EventTap) -> None:
    """A MeterValues costs the session one eventually consistent read of its `charging` when it carries per-phase
    currents, a write only when they changed by 1 A or more, and nothing at all without them."""
    from services.sessions import handlers

    handlers.api(rest_event("PUT", "/id-tokens/TAG-P", {"status": "Accepted", "charging_priority": 5}), lambda_context())
    connection_id, _ = connect_charger(CP)
    start = send_frame(CP, connection_id, [2, frame_id(), "StartTransaction", {
        "connectorId": 1, "idTag": "TAG-P", "meterStart": 1000, "timestamp": "2026-03-01T10:00:00Z"}])
    assert start is not None
    tx = start[2]["transactionId"]
    calls: list[tuple[str, dict[str, Any]]] = []

    def meter_values(values: list[dict[str, Any]], transaction_id: int | None = tx) -> list[str]:
        calls.clear()
        body = {"connectorId": 1, "meterValue": values, **({"transactionId": transaction_id} if transaction_id else {})}
        assert send_frame(CP, connection_id, [2, frame_id(), "MeterValues", body]) is not None
        return [name for name, _ in calls]

    def seen(model: Any, params: dict[str, Any], **_: Any) -> None:
        calls.append((model.name, params))

    events = aws.table("sessions").meta.client.meta.events
    events.register("before-parameter-build.dynamodb", seen)
    try:
        assert meter_values(currents("0.1", "15.6", "0")) == ["GetItem", "UpdateItem"]  # a single-phase EV on L2
        get = calls[0][1]
        assert get.get("ConsistentRead") is not True and "charging" in get["ProjectionExpression"]
        stored = store.get_session(CP, str(tx))
        assert stored is not None and stored["charging"] == {
            "phases_used": 1, "current_a": {"L1": Decimal("0.1"), "L2": Decimal("15.6"), "L3": Decimal("0")},
            "version": 1, "at": "2026-03-01T10:05:00.000Z"}
        assert meter_values(currents("0.1", "15.6", "0")) == ["GetItem"]  # re-sent
        assert meter_values(currents("0", "16.4", "0.2", at="2026-03-01T10:06:00Z")) == ["GetItem"]  # under 1 A
        assert meter_values(elements(1)) == []  # energy alone: as before, the sample's write only
        assert meter_values(currents("16", "16", "16"), transaction_id=None) == []  # outside a transaction
        assert meter_values(currents("16", "16", "16", at="2026-03-01T10:07:00Z")) == ["GetItem", "UpdateItem"]
        assert store.get_session(CP, str(tx))["charging"]["phases_used"] == 3
        send_frame(CP, connection_id, [2, frame_id(), "StopTransaction", {
            "transactionId": tx, "meterStop": 9000, "timestamp": "2026-03-01T11:00:00Z"}])
        assert meter_values(currents("0", "0", "32", at="2026-03-01T11:01:00Z")) == ["GetItem"]  # ended: no write
        assert meter_values(currents("0", "0", "32"), transaction_id=999) == ["GetItem"]  # unknown: none created
        assert store.get_session(CP, "999") is None
    finally:
        events.unregister("before-parameter-build.dynamodb", seen)
    [started] = tap.of("SessionStarted")
    assert started["charging_priority"] == 5
    assert [(e["version"], e["phases_used"], e["current_a"]) for e in tap.of("SessionChargingChanged")] == [
        (1, 1, {"L1": 0.1, "L2": 15.6, "L3": 0.0}), (2, 3, {"L1": 16.0, "L2": 16.0, "L3": 16.0})]
