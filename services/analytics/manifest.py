"""Analytics: the other services' data exported as Parquet and queried with SQL. So far only where that will live.

Exports are rewritten by partition, so old object versions are kept a month for recovery; Athena's results
are thrown away after a month.
"""

from __future__ import annotations

from services.shared.manifest import Bucket, Catalog, Expiry, ServiceManifest

MANIFEST = ServiceManifest(
    name="analytics",
    buckets=(Bucket(name="exports", expiries=(Expiry("athena-results/", 30),), infrequent_after_days=90),),
    catalogs=(Catalog(name="exports", bucket="exports"),),
)
