"""MeterValues of many elements: written packed, in a few items, and read back one sample per element."""

from __future__ import annotations

from typing import Any

from services.sessions import store, transactions
from services.shared import aws
from tests.service.helpers import connect_charger, frame_id, send_frame

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
