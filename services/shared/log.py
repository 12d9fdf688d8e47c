"""Logs, metrics and traces for every Lambda entry point, configured by Powertools' environment variables only.

The defaults (service and namespace "csms"; tracing off outside Lambda) let local mode and tests run with no
environment. Metrics are counted per invocation and printed once at its end as CloudWatch EMF lines: no API
call, and nothing at all when POWERTOOLS_METRICS_DISABLED is true. Powertools' `Metrics` is not used because
its state is class-wide (the local runtime runs many invocations at once in one process) and, disabled, it is
never cleared yet prints once a metric reaches 100 values.
"""

from __future__ import annotations

import functools
import os
from contextvars import ContextVar
from typing import Any, Callable, TypeVar

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit
from aws_lambda_powertools.metrics.functions import is_metrics_disabled
from aws_lambda_powertools.shared.functions import strtobool

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME") or "csms"
NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or "csms"
# Set on every function `entry_point` returns, so a test can tell that a manifest's handler is wrapped.
MARKER = "csms_entry_point"

logger = Logger(service=SERVICE)

Handler = TypeVar("Handler", bound=Callable[[dict[str, Any], Any], Any])
# This invocation's metrics: {dimensions: {metric name: total}}; None when metrics are off or outside a handler.
_Totals = dict[tuple[tuple[str, str], ...], dict[str, float]]
_totals: ContextVar[_Totals | None] = ContextVar("csms_metrics", default=None)


def metric(name: str, value: float = 1, **dimensions: str) -> None:
    """Adds `value` to this invocation's `name` (a Count). Dimensions must take few values: never a charger id."""
    totals = _totals.get()
    if totals is not None:
        series = totals.setdefault(tuple(sorted(dimensions.items())), {})
        series[name] = series.get(name, 0) + value


def _flush(totals: _Totals) -> None:
    """One EMF line per set of dimensions (EMF gives every metric of a line the same dimensions). In Lambda's
    JSON log format a line without a `level` is INFO, which a function logging at WARNING would drop: each
    line carries the function's own level (AWS_LAMBDA_LOG_LEVEL), so metrics pass whatever it is."""
    level = os.environ.get("AWS_LAMBDA_LOG_LEVEL")
    for dimensions, series in totals.items():
        emf = EphemeralMetrics(service=SERVICE, namespace=NAMESPACE)
        if level:
            emf.add_metadata(key="level", value=level)
        for key, value in dimensions:
            emf.add_dimension(name=key, value=value)
        for name, total in series.items():
            emf.add_metric(name=name, unit=MetricUnit.Count, value=total)
        emf.flush_metrics()


@functools.lru_cache(maxsize=1)
def _tracer() -> Tracer | None:
    """Powertools' Tracer only when tracing is on: building it imports the X-Ray SDK even to stay disabled
    (+18 ms of cold start in Lambda, +180 ms elsewhere). Only botocore is patched: patching every library
    the SDK knows costs +70 ms, and AWS calls are all this code makes."""
    if not os.environ.get("LAMBDA_TASK_ROOT") or strtobool(os.environ.get("POWERTOOLS_TRACE_DISABLED") or "false"):
        return None
    try:
        return Tracer(service=SERVICE, patch_modules=("botocore",))
    except ModuleNotFoundError:
        logger.warning("tracing is on but aws-xray-sdk is not installed (aws-lambda-powertools[tracer]): "
                       "only Lambda's own segments are traced")
        return None


def entry_point(handler: Handler) -> Handler:
    """Every Lambda handler's wrapper: the invocation's context on each log line, its metrics printed once
    at its end (even when it raises), and an X-Ray subsegment when tracing is on."""
    inner: Callable[[dict[str, Any], Any], Any] = logger.inject_lambda_context(handler)
    tracer = _tracer()
    if tracer is not None:
        # Replies can carry secrets (a new API key) and exceed X-Ray's 64 KB segment limit.
        inner = tracer.capture_lambda_handler(inner, capture_response=False)

    @functools.wraps(handler)
    def invoke(event: dict[str, Any], context: Any) -> Any:
        if is_metrics_disabled():
            return inner(event, context)
        totals: _Totals = {}
        token = _totals.set(totals)
        try:
            return inner(event, context)
        finally:
            _totals.reset(token)
            _flush(totals)

    setattr(invoke, MARKER, True)
    return invoke  # type: ignore[return-value]
