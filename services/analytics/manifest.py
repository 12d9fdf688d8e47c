"""Analytics: the other services' data exported as Parquet (services/contracts/exports.py declares the tables),
compacted once a day, and queried with SQL: named queries (services/analytics/queries/*.sql, Trino's dialect) that
Athena runs in AWS and DuckDB on one machine, answered over REST as statistics.

Exports are rewritten by partition, so old object versions are kept a month for recovery; Athena's results
are thrown away after a month. `statistics-runs` remembers the Athena runs behind GET /statistics: a result is
reused while fresh, and a run that outlasts API Gateway's 29 seconds is polled by its id.
"""

from __future__ import annotations

from services.shared.manifest import Bucket, Catalog, Expiry, Key, RestApi, Schedule, ServiceManifest, Table

_HANDLERS = "services.analytics.handlers"

MANIFEST = ServiceManifest(
    name="analytics",
    tables=(Table(name="statistics-runs", partition_key=Key("run_id"), ttl_attribute="expires_at"),),
    buckets=(Bucket(name="exports", expiries=(Expiry("athena-results/", 30),), infrequent_after_days=90),),
    catalogs=(Catalog(name="exports", bucket="exports"),),
    # The day before yesterday's partitions (UTC) merged into one file each, of the files no retried batch can rewrite.
    schedules=(Schedule(name="analytics-compaction", rate_minutes=1440, handler=f"{_HANDLERS}:compact", analytics=True),),
    rest_apis=(RestApi(prefixes=("/statistics",), handler=f"{_HANDLERS}:api", resolver="services.analytics.api:app"),),
)
