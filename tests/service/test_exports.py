"""The exports kernel on moto (services/shared/exports.py): stream batches, snapshots and rebuilds as Parquet files.

The services' own rows functions are not what is tested here: each exporter's `rows` is replaced by a plain one
that copies the item's fields, so a test knows exactly which rows to expect.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, Callable, Iterator

import pytest
from boto3.dynamodb.types import TypeSerializer

from services.shared import aws, exports
from services.shared.manifest import Exporter

DAY = date(2026, 3, 1)
ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/csms-{table}/stream/2026-01-01T00:00:00.000"


def invoice_rows(old: dict[str, Any] | None, new: dict[str, Any] | None) -> list[dict[str, Any]]:
    if new is None or new.get("status") == "draft":
        return []
    if new.get("status") == "broken":
        raise ValueError("a rows function that fails on this item")
    return [{"invoice_id": new["invoice_id"], "status": new["status"], "stopped_at": new["stopped_at"],
             "updated_at": new["stopped_at"], "total_incl_vat": new["total"], "time_zone": "Europe/Berlin"}]


def charger_rows(old: dict[str, Any] | None, new: dict[str, Any] | None) -> list[dict[str, Any]]:
    assert new is not None
    return [{"charge_point_id": new["charge_point_id"], "connectors": new.get("connectors")}]


def no_rows(old: dict[str, Any] | None, new: dict[str, Any] | None) -> list[dict[str, Any]]:
    return []


@pytest.fixture(autouse=True)
def plain_rows(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    fakes: dict[str, Callable[..., list[dict[str, Any]]]] = {"invoices": invoice_rows, "chargers": charger_rows}
    monkeypatch.setattr(exports, "_rows", lambda exporter: fakes.get(exporter.export, no_rows))


def invoice(n: int, status: str = "issued", stopped_at: str = "2026-03-01T10:00:00Z") -> dict[str, Any]:
    return {"invoice_id": f"inv_{n}", "status": status, "stopped_at": stopped_at, "total": Decimal(100 + n)}


def record(sequence: int, new: dict[str, Any] | None, old: dict[str, Any] | None = None,
           table: str = "invoices", event_id: str | None = None) -> dict[str, Any]:
    serialize = TypeSerializer().serialize
    change: dict[str, Any] = {"SequenceNumber": f"{sequence:021d}"}
    for name, item in (("OldImage", old), ("NewImage", new)):
        if item is not None:
            change[name] = {k: serialize(v) for k, v in item.items()}
    return {"eventID": event_id or f"event{sequence}", "eventSourceARN": ARN.format(table=table), "dynamodb": change}


def keys(prefix: str = "") -> list[str]:
    listed = aws.client("s3").list_objects_v2(Bucket=aws.bucket("exports"), Prefix=prefix)
    return sorted(entry["Key"] for entry in listed.get("Contents", []))


def ids(export: str = "invoices", start: date = DAY, end: date = DAY) -> list[str]:
    return sorted(exports.read(export, start, end).column("invoice_id").to_pylist())


def test_a_batch_is_one_file_per_partition_named_by_its_first_records_event_id() -> None:
    batch = {"Records": [record(7, invoice(1)), record(8, invoice(2, stopped_at="2026-03-02T00:30:00+01:00")),
                         record(9, invoice(3, stopped_at="2026-03-02T08:00:00Z"))]}

    assert exports.export_batch(batch, "billing") == {"batchItemFailures": []}

    assert keys() == ["invoices/dt=2026-03-01/invoices-event7.parquet", "invoices/dt=2026-03-02/invoices-event7.parquet"]
    table = exports.read("invoices", DAY, date(2026, 3, 2))
    rows = sorted(table.to_pylist(), key=lambda r: r["invoice_id"])
    assert [(r["invoice_id"], r["dt"], r["total_incl_vat"], r["hour"], r["dow"]) for r in rows] == [
        ("inv_1", "2026-03-01", 101, 11, 7),  # 10:00 UTC is 11:00 in Berlin, on a Sunday
        ("inv_2", "2026-03-01", 102, 0, 1),  # 23:30 UTC: the UTC date is its partition, Berlin's hour and day its hour and dow
        ("inv_3", "2026-03-02", 103, 9, 1)]
    assert rows[1]["stopped_at"] == datetime(2026, 3, 1, 23, 30)
    assert "time_zone" not in table.column_names


def test_a_batch_delivered_again_writes_no_row_twice() -> None:
    batch = {"Records": [record(1, invoice(1)), record(2, invoice(2))]}
    exports.export_batch(batch, "billing")
    exports.export_batch(batch, "billing")
    exports.export_batch({"Records": [record(3, invoice(3))]}, "billing")

    assert ids() == ["inv_1", "inv_2", "inv_3"]


def test_batches_numbered_alike_after_a_restart_keep_their_own_files() -> None:
    exports.export_batch({"Records": [record(1, invoice(1), event_id="4f0c9a")]}, "billing")
    exports.export_batch({"Records": [record(1, invoice(2), event_id="b7e215")]}, "billing")  # moto counts from 1 again

    assert ids() == ["inv_1", "inv_2"]


def test_a_record_whose_rows_fail_is_left_out_and_the_others_are_written() -> None:
    batch = {"Records": [record(1, invoice(1)), record(2, invoice(2, status="broken")),
                         record(3, invoice(3, stopped_at="not a time")), record(4, invoice(4))]}

    assert exports.export_batch(batch, "billing") == {"batchItemFailures": []}

    assert ids() == ["inv_1", "inv_4"]


def test_changes_that_export_nothing_and_other_tables_write_no_file() -> None:
    exports.export_batch({"Records": [record(1, invoice(1, status="draft")), record(2, None, old=invoice(2))]},
                         "billing")
    exports.export_batch({"Records": [record(3, {"stripe_event": "x"}, table="stripe-events")]}, "billing")

    assert keys() == []
    assert exports.read("invoices", DAY, DAY).num_rows == 0


def test_a_failed_write_raises_so_that_the_whole_batch_comes_again(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(**kwargs: Any) -> None:
        raise RuntimeError("S3 is down")

    monkeypatch.setattr(aws.client("s3"), "put_object", refuse)

    with pytest.raises(RuntimeError):
        exports.export_batch({"Records": [record(1, invoice(1))]}, "billing")


def test_read_skips_zero_byte_keys_and_reads_only_its_partitions() -> None:
    exports.write("invoices", [invoice_rows(None, invoice(n, stopped_at=f"2026-03-0{n}T10:00:00Z"))[0] for n in (1, 2, 3)],
                  "manual")
    s3 = aws.client("s3")
    s3.put_object(Bucket=aws.bucket("exports"), Key="invoices/dt=2026-03-02/", Body=b"")
    s3.put_object(Bucket=aws.bucket("exports"), Key="invoices/dt=2026-03-02/empty.parquet", Body=b"")

    assert ids(start=date(2026, 3, 2), end=date(2026, 3, 3)) == ["inv_2", "inv_3"]
    assert ids(start=date(2026, 3, 2), end=date(2026, 3, 2)) == ["inv_2"]
    assert exports.partition_files("invoices", date(2026, 3, 2)) == ["invoices/dt=2026-03-02/manual.parquet"]


def test_an_empty_read_has_the_schema_and_dt() -> None:
    empty = exports.read("sessions", DAY, DAY)

    assert empty.num_rows == 0
    assert empty.column_names[-1] == "dt" and "session_id" in empty.column_names


def test_a_file_written_before_a_column_existed_reads_it_as_null() -> None:
    import pyarrow as pa

    exports.put("invoices", DAY, "old", pa.table({"invoice_id": ["inv_old"], "stopped_at": pa.array([datetime(2026, 3, 1)],
                                                                                              pa.timestamp("ms"))}))

    [row] = exports.read("invoices", DAY, DAY).to_pylist()
    assert (row["invoice_id"], row["status"], row["dt"]) == ("inv_old", None, "2026-03-01")


def test_a_rebuild_replaces_its_partitions_and_twice_leaves_the_same_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(exports, "CLOCK_MARGIN", timedelta(0))  # clocks that agree: what S3 holds is older
    table = aws.table("invoices")
    for n in range(1, 5):
        table.put_item(Item=invoice(n))
    table.put_item(Item=invoice(5, stopped_at="2026-03-05T10:00:00Z"))  # out of the range: not written
    exports.export_batch({"Records": [record(1, invoice(1)), record(2, invoice(2))]}, "billing")
    aws.client("s3").put_object(Bucket=aws.bucket("exports"), Key="invoices/dt=2026-03-01/", Body=b"")

    assert exports.rebuild(DAY, DAY, ["billing"]) == {"invoices": 4, "payments": 0}
    assert exports.rebuild(DAY, DAY, ["billing"]) == {"invoices": 4, "payments": 0}

    assert keys("invoices/") == ["invoices/dt=2026-03-01/rebuild.parquet"]
    assert ids() == ["inv_1", "inv_2", "inv_3", "inv_4"]


def test_a_rebuild_keeps_what_the_streams_write_meanwhile_and_leaves_its_rows_out(
        monkeypatch: pytest.MonkeyPatch) -> None:
    table = aws.table("invoices")
    for n in range(1, 4):
        table.put_item(Item=invoice(n))
    scan = exports._scan

    def scan_while_the_stream_writes(name: str) -> Iterator[dict[str, Any]]:
        for n, item in enumerate(scan(name)):
            yield item
            if n == 0:
                exports.export_batch({"Records": [record(9, invoice(1, status="paid")), record(10, invoice(7))]},
                                     "billing")

    monkeypatch.setattr(exports, "_scan", scan_while_the_stream_writes)

    assert exports.rebuild(DAY, DAY, ["billing"])["invoices"] == 2

    assert keys("invoices/") == ["invoices/dt=2026-03-01/invoices-event9.parquet",
                                 "invoices/dt=2026-03-01/rebuild.parquet"]
    rows = exports.read("invoices", DAY, DAY).to_pylist()
    assert sorted((r["invoice_id"], r["status"]) for r in rows) == [
        ("inv_1", "paid"), ("inv_2", "issued"), ("inv_3", "issued"), ("inv_7", "issued")]


def test_a_rebuild_keeps_the_partitions_the_items_give_no_rows() -> None:
    exports.export_batch({"Records": [record(1, invoice(1))]}, "billing")

    assert exports.rebuild(DAY, DAY, ["billing"])["invoices"] == 0

    assert ids() == ["inv_1"]


def test_a_snapshot_is_every_item_at_its_time_once_a_day() -> None:
    chargers = aws.table("chargers")
    for n in (1, 2):
        chargers.put_item(Item={"charge_point_id": f"CP-{n}", "connectors": Decimal(n)})
    at = datetime(2026, 3, 1, 23, 59, 30, 123456, tzinfo=timezone.utc)

    assert exports.snapshot("connectivity", at) == {"chargers": 2}
    assert exports.snapshot("connectivity", at) == {"chargers": 2}

    assert keys("chargers/") == ["chargers/dt=2026-03-01/snapshot.parquet"]
    rows = exports.read("chargers", DAY, DAY).to_pylist()
    assert sorted((r["charge_point_id"], r["connectors"], r["hour"], r["dow"]) for r in rows) == [
        ("CP-1", 1, 23, 7), ("CP-2", 2, 23, 7)]
    assert {r["snapshot_at"] for r in rows} == {datetime(2026, 3, 1, 23, 59, 30, 123000)}


def test_every_exporter_names_an_export_table_its_service_owns() -> None:
    from services.contracts.exports import BY_NAME
    from services.manifests import ALL

    exporters: list[tuple[str, Exporter]] = [(m.name, e) for m in ALL for e in m.exporters]
    assert sorted(e.export for _, e in exporters) == sorted(BY_NAME)
    assert all(BY_NAME[e.export].owner == service for service, e in exporters)
