"""Analytics' table `statistics-runs`: the Athena run behind each GET /statistics answer, by `run_id`.

A run's id is derived from what it answers (the query's name, range and site), so the same question finds the same
item: its result is reused while fresh, a run still going is awaited rather than started again, and a stale or failed
one is replaced by a new execution under the same id. Athena keeps the result itself (the workgroup's output, a
month); an item holds its execution id, its state and when it finished. Items expire (TTL `expires_at`) days after
they were written.
"""

from __future__ import annotations

from typing import Any

from services.shared import aws
from services.shared.dynamo import plain, update_expression, update_if

RUNS = "statistics-runs"


def get(run_id: str) -> dict[str, Any] | None:
    item = aws.table(RUNS).get_item(Key={"run_id": run_id}, ConsistentRead=True).get("Item")
    return plain(item) if item else None


def started(item: dict[str, Any]) -> None:
    """A new execution of the run (in place of any before it): status running."""
    aws.table(RUNS).put_item(Item={**{k: v for k, v in item.items() if v is not None}, "status": "running"})


def finished(run_id: str, execution_id: str, status: str, finished_at: str, error: str | None = None) -> None:
    """The execution's end, unless a newer execution of the run replaced it meanwhile."""
    fields: dict[str, Any] = {"status": status, "finished_at": finished_at, **({"error": error} if error else {})}
    expression, names, values = update_expression(fields)
    update_if(aws.table(RUNS), {"run_id": run_id}, expression, "execution_id = :execution",
              names, {**values, ":execution": execution_id})
