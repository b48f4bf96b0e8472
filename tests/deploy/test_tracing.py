"""OpenTelemetry tracing (servflow.platform.tracing): off by default; on, one trace runs
from the API's request span through the Temporal client into the workflow and its
activities."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient
from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client

from api.main import create_app
from servflow.platform.settings import Settings
from servflow.platform.tracing import configure_tracing, traced
from tests.api.conftest import api_settings
from tests.workflows.fakes import FakeActivities
from tests.workflows.support import load_example, start_order, wait_for_step
from worker import build_worker

ON = api_settings(tracing="console")


# One exporter for the process: a tracer provider is installed once per process, however
# often pytest sets this module's fixtures up (once per database backend).
EXPORTER = InMemorySpanExporter()


@pytest.fixture
def spans() -> InMemorySpanExporter:
    configure_tracing(ON, "servflow-test", exporter=EXPORTER)
    EXPORTER.clear()
    return EXPORTER


def test_tracing_is_off_by_default(client: Client) -> None:
    assert Settings().tracing == "off"
    assert traced(client, Settings()) is client


def test_off_configures_no_tracing(session_factory: sessionmaker[Session]) -> None:
    app = create_app(api_settings(), session_factory=session_factory)
    assert not getattr(app.state, "tracing", False)


async def test_one_trace_from_request_to_activity(
    client: Client, spans: InMemorySpanExporter
) -> None:
    traced_client = traced(client, ON)
    queue = f"trace-{uuid.uuid4()}"
    fakes = FakeActivities()
    tracer = trace.get_tracer("test")
    async with build_worker(traced_client, task_queue=queue, activities=fakes.all()):
        with tracer.start_as_current_span("POST /api/orders") as request:
            handle = await start_order(traced_client, load_example("ac-repair"), queue)
        await wait_for_step(handle, "service")
    trace_id = request.get_span_context().trace_id
    in_trace = {s.name for s in spans.get_finished_spans() if s.context.trace_id == trace_id}
    assert {
        "StartWorkflow:WorkOrder",
        "RunWorkflow:WorkOrder",
        "StartActivity:report",
        "RunActivity:report",
        "RunActivity:dispatch",
    } <= in_trace


def test_request_span_is_named_by_route_and_carries_the_order(
    session_factory: sessionmaker[Session], client: Client, spans: InMemorySpanExporter
) -> None:
    app = create_app(ON, session_factory=session_factory, temporal_client=client)
    with TestClient(app) as http:
        http.get("/api/orders/wo-traced-1", headers={"Authorization": "Bearer nonsense"})
    (span,) = [s for s in spans.get_finished_spans() if s.name.startswith("GET ")]
    assert span.name == "GET /api/orders/{order_id}"
    assert span.attributes is not None
    assert span.attributes["url.path"] == "/api/orders/wo-traced-1"
    assert span.attributes["http.response.status_code"] == 401
