"""Prometheus metrics of the API: requests by route template, and the system's backlog.

`GET /metrics` answers hq_admin accounts only (a bearer token or an X-API-Key of an
hq_admin user): the business gauges are system-wide, beyond any region's scope.

- `servflow_http_requests_total` and `servflow_http_request_duration_seconds`, labelled by
  method, route template (`/api/orders/{order_id}`, never the raw path: order ids would
  make a series per order) and status class (`2xx`).
- Gauges computed from the read model on each scrape (a few grouped counts): open orders
  by status and region, waiting steps past their SLA deadline, unsent outbox messages and
  the age of the oldest. Designer test runs (sandbox) are left out.

Each app has its own registry, so several apps in one process (the tests) do not collide.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.deps import require_roles
from servflow.notify import service as notify
from servflow.orders import service as orders
from servflow.org.rules import Principal
from servflow.platform.logs import bind_log_source
from servflow.platform.settings import Settings
from servflow.platform.tracing import configure_tracing, tracing_on

log = logging.getLogger(__name__)

# Requests no route matches share one label, so probing random paths adds no series.
UNMATCHED = "unmatched"


def route_template(scope: Scope) -> str:
    """The path template of the route that answered (`/api/orders/{order_id}`); routing
    records the route in the scope, which the middleware reads once the app is done."""
    route = scope.get("route")
    return str(getattr(route, "path_format", None) or UNMATCHED)


def path_fields(scope: Scope) -> dict[str, object]:
    """The route's path parameters (order_id, node_id), once routing has found them."""
    return dict(scope.get("path_params") or {})


class HttpMetrics:
    """The request counter and latency histogram, on one registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        labels = ("method", "route", "status")
        self.requests = Counter(
            "servflow_http_requests", "HTTP requests answered", labels, registry=registry
        )
        self.latency = Histogram(
            "servflow_http_request_duration_seconds",
            "Time to answer an HTTP request",
            labels,
            registry=registry,
        )

    def observe(self, *, method: str, route: str, status: int, seconds: float) -> None:
        labels = (method, route, f"{status // 100}xx")
        self.requests.labels(*labels).inc()
        self.latency.labels(*labels).observe(seconds)


class MetricsMiddleware:
    """Counts and times every HTTP request (pure ASGI: nothing is buffered), and binds the
    route's order_id / node_id to the log lines written while it is answered."""

    def __init__(self, app: ASGIApp, *, metrics: HttpMetrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500  # what the server answers if the app fails before starting a response
        started = time.perf_counter()

        async def timed_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            # Routing fills this very scope in place, so the path parameters are read from
            # it whenever a line is logged, from the route on.
            with bind_log_source(lambda: path_fields(scope)):
                await self.app(scope, receive, timed_send)
        finally:
            self.metrics.observe(
                method=scope["method"],
                route=route_template(scope),
                status=status,
                seconds=time.perf_counter() - started,
            )


def install_tracing(app: FastAPI, settings: Settings) -> None:
    """With settings.tracing on: this process's tracer provider. FastAPI then opens a server
    span per request itself (named by route template, W3C traceparent honoured), current
    while the route runs, so the Temporal client's spans (start, Update, query) and through
    them the workflow's and activities' join the request's trace."""
    if tracing_on(settings):
        configure_tracing(settings, "servflow-api")
        app.state.tracing = True


class BacklogCollector(Collector):
    """The business gauges, read from the store when Prometheus scrapes."""

    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self.session_factory = session_factory

    def collect(self) -> Iterator[GaugeMetricFamily]:
        up = GaugeMetricFamily(
            "servflow_backlog_up", "1 if the backlog gauges below could be read from the store"
        )
        try:
            with self.session_factory() as session:
                families = list(backlog_gauges(session, now=datetime.now(UTC)))
        except SQLAlchemyError:
            log.warning("metrics: the store did not answer the backlog queries", exc_info=True)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families

    def describe(self) -> Iterator[GaugeMetricFamily]:
        # Without a describe, registering would call collect() (and query the store) once.
        return iter(())


def backlog_gauges(session: Session, *, now: datetime) -> Iterator[GaugeMetricFamily]:
    """Open orders by status and region, steps past their SLA, and the unsent outbox."""
    open_orders = GaugeMetricFamily(
        "servflow_open_orders", "Orders not yet closed", labels=["status", "region"]
    )
    for status, region, count in orders.open_order_counts(session):
        open_orders.add_metric([status, region], count)
    yield open_orders
    yield GaugeMetricFamily(
        "servflow_steps_past_sla",
        "Steps still waiting after their SLA deadline",
        orders.steps_past_deadline(session, now=now),
    )
    unsent, oldest = notify.outbox_backlog(session)
    yield GaugeMetricFamily("servflow_outbox_unsent", "Messages not yet delivered", unsent)
    age = 0.0 if oldest is None else (now - _aware(oldest)).total_seconds()
    yield GaugeMetricFamily(
        "servflow_outbox_oldest_unsent_age_seconds",
        "Age of the oldest undelivered message (0: none)",
        max(age, 0.0),
    )


def _aware(moment: datetime) -> datetime:
    # An aggregate may come back without the column type's UTC conversion (SQLite).
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


router = APIRouter(tags=["operations"])
HqAdmin = Annotated[Principal, Depends(require_roles("hq_admin"))]


@router.get("/metrics", response_class=Response, responses={200: {"content": {"text/plain": {}}}})
def read_metrics(request: Request, _admin: HqAdmin) -> Response:
    """Prometheus text exposition of the API's request metrics and the system's backlog."""
    registry: CollectorRegistry = request.app.state.metrics_registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


def install_metrics(app: FastAPI, session_factory: sessionmaker[Session]) -> None:
    """Adds the metrics middleware (outermost, so the guards' refusals count too) and
    `GET /metrics` to `app`."""
    registry = CollectorRegistry()
    registry.register(BacklogCollector(session_factory))
    app.state.metrics_registry = registry
    app.add_middleware(MetricsMiddleware, metrics=HttpMetrics(registry))
    app.include_router(router)
