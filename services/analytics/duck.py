"""The named queries on DuckDB, in this process: the engine of local mode (`csms run`, `csms analytics query`, the
report) and of the known-answer tests.

Each export table a query names becomes a view of the same name over the partitions of the range, as the kernel
reads them (services/shared/exports.py `read`, from the exports bucket); sqlglot translates the bound Trino SQL to
DuckDB's. Percentiles are DuckDB's exact `quantile_disc` rather than its t-digest (`approx_quantile`), which
interpolates between values: small local data gets the value Athena's approximation comes near.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Callable

from services.analytics import queries
from services.contracts.exports import BY_NAME
from services.shared import clock

if TYPE_CHECKING:
    import pyarrow

# An export's rows of the partitions start <= dt <= end, dt included as a string column.
Reader = Callable[[str, date, date], "pyarrow.Table"]


def translate(sql: str) -> tuple[str, set[str]]:
    """Trino SQL as DuckDB's, and the export tables it reads."""
    import sqlglot
    from sqlglot import exp

    tree = sqlglot.parse_one(sql, read="trino")
    tables = {table.name for table in tree.find_all(exp.Table)} & set(BY_NAME)

    def exact(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.ApproxQuantile):
            return exp.Anonymous(this="quantile_disc", expressions=[node.this, node.args["quantile"]])
        return node

    return tree.transform(exact).sql(dialect="duckdb"), tables


def run(name: str, start: date, end: date, site_id: str | None = None, read: Reader | None = None) -> queries.Result:
    """The named query's rows over the exports of [start, end]; `read` defaults to the kernel's reader of the
    exports bucket. KeyError for an unknown name, queries.InvalidParameter for a site id it cannot take."""
    import duckdb

    query = queries.CATALOG[name]
    if read is None:
        from services.shared.exports import read
    sql, tables = translate(queries.bind(query, start, end, site_id))
    generated_at = clock.iso(clock.now())
    with duckdb.connect() as connection:
        for table in sorted(tables):
            connection.register(table, read(table, start, end))
        rows = connection.execute(sql).fetchmany(queries.MAX_ROWS + 1)
    return queries.Result(query.columns, rows[:queries.MAX_ROWS], generated_at, truncated=len(rows) > queries.MAX_ROWS)
