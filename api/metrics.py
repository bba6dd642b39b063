"""``/metrics`` in the Prometheus text format: GraphQL requests by operation and outcome, request
latencies, the database pool, and what waits in the outboxes and the request queue.

One process: each app has its own registry. Several uvicorn workers (``datarights serve
--workers N``): ``PROMETHEUS_MULTIPROC_DIR`` is set before they start, every worker writes its
values there, and whichever worker answers a scrape adds them all up (prometheus-client's
multiprocess mode). The backlog is read from the database at scrape time and kept a few
seconds, so frequent scrapes cost one round of queries at most every few seconds."""

from __future__ import annotations

import asyncio
import atexit
import hmac
import logging
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics import MetricWrapperBase
from prometheus_client.registry import Collector
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.types import Scope

from api.availability import is_unavailable
from api.credentials import bearer_token
from api.logs import operation_name
from api.settings import Settings
from domain.dependencies import Dependencies
from persistence.backlog import Backlog, read_backlog

log = logging.getLogger("datarights.metrics")

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"
# Operation names are the clients' choice: past this many distinct ones a process counts the
# rest as "other", so a client inventing names cannot grow the series without end.
MAX_OPERATION_NAMES = 100
BACKLOG_TTL_SECONDS = 5.0
BACKLOG_TIMEOUT_SECONDS = 2.0

OUTCOMES = (
    "ok",
    "user_error",
    "bad_request",
    "unauthenticated",
    "forbidden",
    "rate_limited",
    "unavailable",
    "internal_error",
)
# The gravest first: a response with several errors counts as its gravest.
_OUTCOME_OF_CODE = {
    "INTERNAL_SERVER_ERROR": "internal_error",
    "SERVICE_UNAVAILABLE": "unavailable",
    "RATE_LIMITED": "rate_limited",
    "UNAUTHENTICATED": "unauthenticated",
    "FORBIDDEN": "forbidden",
}
_GRAVITY = {outcome: rank for rank, outcome in enumerate(reversed(OUTCOMES))}

# Set from the GraphQL response (api/app.py) for the request being answered.
graphql_outcome: ContextVar[str | None] = ContextVar("graphql_outcome", default=None)
POOL_OBSERVED_EVERY_SECONDS = 0.5


def outcome_of(response: Mapping[str, Any]) -> str:
    """How a GraphQL response went: its gravest top-level error, else ``user_error`` when a
    mutation payload carries errors, else ``ok``."""
    errors = response.get("errors") or []
    if errors:
        outcomes = [
            _OUTCOME_OF_CODE.get((error.get("extensions") or {}).get("code", ""), "bad_request")
            for error in errors
        ]
        return max(outcomes, key=_GRAVITY.__getitem__)
    data = response.get("data")
    if isinstance(data, Mapping):
        for value in data.values():
            if isinstance(value, Mapping) and value.get("errors"):
                return "user_error"
    return "ok"


def note_graphql_response(response: Mapping[str, Any]) -> None:
    """Record the outcome of the GraphQL response being sent, for the request's metrics."""
    graphql_outcome.set(outcome_of(response))


def note_graphql_refusal(code: str) -> None:
    """Record the outcome of a GraphQL request refused as a whole before it ran."""
    graphql_outcome.set(_OUTCOME_OF_CODE.get(code, "bad_request"))


def _outcome_of_status(status: int) -> str:
    """The outcome of a GraphQL request refused before a response document was made."""
    if status < 400:
        return "ok"
    return {
        401: "unauthenticated",
        403: "forbidden",
        429: "rate_limited",
        503: "unavailable",
    }.get(status, "internal_error" if status >= 500 else "bad_request")


class Metrics:
    """The metrics of one app (in one process, or one worker of several)."""

    def __init__(self, engine: AsyncEngine | None, multiprocess_dir: str | None) -> None:
        self.engine = engine
        self.multiprocess_dir = multiprocess_dir
        self._pool_observed_at = -POOL_OBSERVED_EVERY_SECONDS
        # Each metric's child for a set of label values, found once: prometheus_client's
        # labels() checks and locks on every call. As few as the labels (routes, operation
        # names up to MAX_OPERATION_NAMES, outcomes).
        self._children: dict[tuple[MetricWrapperBase, tuple[str, ...]], Any] = {}
        # In multiprocess mode the values go to files; the registry only serves single mode.
        self.registry = CollectorRegistry(auto_describe=True)
        own = None if multiprocess_dir else self.registry
        self.graphql_requests = Counter(
            "datarights_graphql_requests",
            "GraphQL requests by operation name and outcome.",
            ["operation", "outcome"],
            registry=own,
        )
        self.graphql_seconds = Histogram(
            "datarights_graphql_request_duration_seconds",
            "Time to answer a GraphQL request, by operation name.",
            ["operation"],
            registry=own,
        )
        self.http_seconds = Histogram(
            "datarights_http_request_duration_seconds",
            "Time to answer any HTTP request, by route.",
            ["route"],
            registry=own,
        )
        self.pool_checked_out = Gauge(
            "datarights_db_pool_checked_out",
            "Database connections in use (all workers).",
            registry=own,
            multiprocess_mode="livesum",
        )
        self.pool_size = Gauge(
            "datarights_db_pool_size",
            "Database connections the pools keep (all workers).",
            registry=own,
            multiprocess_mode="livesum",
        )
        self.pool_overflow = Gauge(
            "datarights_db_pool_overflow",
            "Database connections open beyond the pool size (all workers).",
            registry=own,
            multiprocess_mode="livesum",
        )
        self._names: set[str] = set()
        self._backlog = _BacklogCollector(engine)
        if own is not None:
            self.registry.register(self._backlog)
        self.observe_pool()

    def operation_label(self, name: str | None) -> str:
        if name is None:
            return "anonymous"
        if name not in self._names:
            if len(self._names) >= MAX_OPERATION_NAMES:
                return "other"
            self._names.add(name)
        return name

    def observe_request(
        self, scope: Scope, status: int, seconds: float, fault: Exception | None, graphql_path: str
    ) -> None:
        """Counts and times one answered request (called by api.http_edge.HttpEdge)."""
        graphql = scope["path"] == graphql_path
        # A route's template (/exports/{export_id}), never a raw path: the labels stay few.
        route = getattr(scope.get("route"), "path", None) or (graphql_path if graphql else "")
        self._child(self.http_seconds, route or "unmatched").observe(seconds)
        if not graphql or scope["method"] != "POST":
            return
        if fault is not None:
            outcome = "unavailable" if is_unavailable(fault) else "internal_error"
        else:
            outcome = graphql_outcome.get() or _outcome_of_status(status)
        operation = self.operation_label(operation_name.get())
        self._child(self.graphql_requests, operation, outcome).inc()
        self._child(self.graphql_seconds, operation).observe(seconds)
        if self.multiprocess_dir is not None:
            # Each worker's share of the pool gauges, kept current for the worker that answers
            # the next scrape; at most so often, as each value is a write to a shared file.
            now = time.monotonic()
            if now - self._pool_observed_at >= POOL_OBSERVED_EVERY_SECONDS:
                self._pool_observed_at = now
                self.observe_pool()

    def _child(self, metric: MetricWrapperBase, *values: str) -> Any:
        key = (metric, values)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*values)
        return child

    def observe_pool(self) -> None:
        """This process's pool as it is now (at each scrape, and after GraphQL requests, so
        that with several workers each one's share stays current)."""
        if self.engine is None:
            return  # a unit of work without an engine (a test's fake)
        pool = self.engine.pool
        checked_out = getattr(pool, "checkedout", None)
        size = getattr(pool, "size", None)
        overflow = getattr(pool, "overflow", None)
        self.pool_checked_out.set(checked_out() if checked_out else 0)
        self.pool_size.set(size() if size else 0)
        # QueuePool counts its overflow from -size up: only connections past the size count.
        self.pool_overflow.set(max(overflow(), 0) if overflow else 0)

    async def exposition(self) -> bytes:
        self.observe_pool()
        await self._backlog.refresh()
        if self.multiprocess_dir is None:
            return generate_latest(self.registry)
        registry = CollectorRegistry()
        forget_dead_workers(self.multiprocess_dir)
        multiprocess.MultiProcessCollector(registry, path=self.multiprocess_dir)
        registry.register(self._backlog)
        return generate_latest(registry)


class _BacklogCollector(Collector):
    """The backlog gauges, from the last reading of the database (at most a few seconds old);
    none when the database could not be read."""

    def __init__(self, engine: AsyncEngine | None) -> None:
        self.engine = engine
        self.latest: Backlog | None = None
        self.read_at = float("-inf")
        self._lock = asyncio.Lock()

    async def refresh(self) -> None:
        async with self._lock:
            if self.engine is None or time.monotonic() - self.read_at < BACKLOG_TTL_SECONDS:
                return
            try:
                async with asyncio.timeout(BACKLOG_TIMEOUT_SECONDS):
                    self.latest = await read_backlog(self.engine, datetime.now(UTC))
            except Exception as error:
                # The rest of the metrics matter most when the database is in trouble.
                reason = "unavailable" if is_unavailable(error) else type(error).__name__
                log.warning("backlog not read for metrics: %s", reason)
                self.latest = None
            self.read_at = time.monotonic()

    def collect(self) -> Iterable[GaugeMetricFamily]:
        if self.latest is None:
            return []
        backlog = self.latest
        return [
            GaugeMetricFamily(
                "datarights_webhook_deliveries_pending",
                "Webhook deliveries not yet delivered nor given up.",
                value=backlog.webhook_deliveries_pending,
            ),
            GaugeMetricFamily(
                "datarights_mail_unsent",
                "E-mails in the outbox not yet sent nor given up.",
                value=backlog.mail_unsent,
            ),
            GaugeMetricFamily(
                "datarights_requests_due_soon",
                "Open data-subject requests due within 3 days.",
                value=backlog.requests_due_soon,
            ),
            GaugeMetricFamily(
                "datarights_requests_overdue",
                "Open data-subject requests past their due date.",
                value=backlog.requests_overdue,
            ),
        ]


_DB_FILE = re.compile(r"[a-z_]+_(\d+)\.db")


def forget_dead_workers(directory: str) -> None:
    """Drop the live gauges of worker processes that are gone (a crashed worker never said so);
    their counters and histograms stay, as counters must."""
    pids = {int(m.group(1)) for p in Path(directory).iterdir() if (m := _DB_FILE.fullmatch(p.name))}
    for pid in pids:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            multiprocess.mark_process_dead(pid, directory)
        except PermissionError:
            pass  # alive, another user's


@contextmanager
def multiprocess_directory() -> Iterator[str]:
    """For ``serve --workers N``: the directory where the workers' metrics meet, set in the
    environment before they start. An operator's ``PROMETHEUS_MULTIPROC_DIR`` is emptied of a
    previous run's files and kept; otherwise a temporary one is made and removed afterwards."""
    given = os.environ.get(MULTIPROCESS_ENV)
    if given:
        Path(given).mkdir(parents=True, exist_ok=True)
        for stale in Path(given).glob("*.db"):
            stale.unlink()
        yield given
        return
    made = tempfile.mkdtemp(prefix="datarights-metrics-")
    os.environ[MULTIPROCESS_ENV] = made
    try:
        yield made
    finally:
        os.environ.pop(MULTIPROCESS_ENV, None)
        shutil.rmtree(made, ignore_errors=True)


def install_metrics(app: FastAPI, settings: Settings, deps: Dependencies) -> Metrics:
    """Add ``/metrics`` to the app; returns the metrics for :class:`api.http_edge.HttpEdge`. With
    ``DATARIGHTS_METRICS_TOKEN`` set, a scrape must send it as a bearer token."""
    engine: AsyncEngine | None = getattr(deps.unit_of_work, "engine", None)
    directory = os.environ.get(MULTIPROCESS_ENV) or None
    metrics = Metrics(engine, directory)
    if directory is not None:
        # A worker that stops in good order takes its live gauges with it.
        atexit.register(multiprocess.mark_process_dead, os.getpid(), directory)
    token = settings.metrics_token.get_secret_value() if settings.metrics_token else ""
    router = APIRouter()

    @router.get("/metrics", include_in_schema=False)
    async def scrape(request: Request) -> Response:
        if token and not hmac.compare_digest(
            (bearer_token(request.headers) or "").encode(), token.encode()
        ):
            return Response(
                "A bearer token is required.\n",
                status_code=401,
                media_type="text/plain",
                headers={"WWW-Authenticate": "Bearer"},
            )
        return Response(await metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    app.include_router(router)
    return metrics
