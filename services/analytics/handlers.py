"""Analytics' Lambda entry points: thin, the work is in compaction.py and api.py."""

from __future__ import annotations

from typing import Any

from services.shared.log import entry_point


@entry_point
def compact(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Merges the day before yesterday's small export files, per table and partition (services/analytics/compaction.py)."""
    from services.analytics.compaction import compact_day

    return compact_day()


@entry_point
def api(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from services.analytics.api import app  # only the REST Lambda pays for the resolver

    return app.resolve(event, context)
