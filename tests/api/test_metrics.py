"""GET /metrics: request metrics by route template, and the backlog read from the store."""

from __future__ import annotations

import asyncio
import logging
import socket
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from api.main import create_app
from api.metrics import BacklogCollector
from servflow.notify.models import Notification
from servflow.orders.models import WorkOrder, WorkOrderStep
from servflow.platform.db import make_engine, make_session_factory
from servflow.platform.logs import JsonFormatter, LogContextFilter
from servflow.platform.settings import Settings
from servflow.platform.temporal import connect, metrics_runtime
from tests.api.conftest import api_settings
from worker import build_worker

NOW = datetime.now(UTC)


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """{(sample name, labels): value} of a text exposition."""
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def labels(**pairs: str) -> frozenset[tuple[str, str]]:
    return frozenset(pairs.items())


@pytest.fixture
async def http(demo, client):
    app = create_app(api_settings(), session_factory=demo, temporal_client=client)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as http:
        http.app = app  # type: ignore[attr-defined]
        yield http


async def scrape(http: httpx.AsyncClient, headers) -> dict:
    response = await http.get("/metrics", headers=headers("hq_admin"))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return samples(response.text)


async def test_a_request_is_counted_under_its_route_template_and_status_class(http, headers):
    response = await http.get("/api/orders/o-missing-1", headers=headers("hq_admin"))
    assert response.status_code == 404
    text = (await http.get("/metrics", headers=headers("hq_admin"))).text
    found = samples(text)
    route = labels(method="GET", route="/api/orders/{order_id}", status="4xx")
    assert found[("servflow_http_requests_total", route)] == 1
    assert found[("servflow_http_request_duration_seconds_count", route)] == 1
    # Order ids never become labels: one series per route, not one per order.
    assert "o-missing-1" not in text


async def test_unknown_paths_share_one_label(http, headers):
    await http.get("/no/such/path/abc-123")
    text = (await http.get("/metrics", headers=headers("hq_admin"))).text
    assert (
        samples(text)[
            ("servflow_http_requests_total", labels(method="GET", route="unmatched", status="4xx"))
        ]
        == 1
    )
    assert "abc-123" not in text


def seed_backlog(factory) -> None:
    def order(order_id: str, status: str, region: str, **extra) -> WorkOrder:
        return WorkOrder(order_id=order_id, status=status, region=region, **extra)

    def step(order_id: str, node: str, deadline: datetime, done: bool = False) -> WorkOrderStep:
        return WorkOrderStep(
            order_id=order_id,
            node_id=node,
            visit=1,
            node_type="service",
            started_at=NOW - timedelta(hours=5),
            sla_deadline=deadline,
            completed_at=NOW if done else None,
        )

    def message(key: str, age: timedelta, sent: bool = False) -> Notification:
        return Notification(
            channel="sms",
            message="您的工单已派出",
            idempotency_key=key,
            created_at=NOW - age,
            sent_at=NOW if sent else None,
        )

    with factory() as session:
        session.add_all(
            [
                order("o-1", "dispatched", "huabei"),
                order("o-2", "dispatched", "huabei"),
                order("o-3", "in_service", "huanan"),
                order("o-4", "completed", "huabei"),
                order("o-5", "dispatched", "huabei", sandbox=True),
            ]
        )
        session.flush()
        session.add_all(
            [
                step("o-1", "service", NOW - timedelta(hours=1)),  # breached
                step("o-2", "service", NOW + timedelta(hours=1)),  # within its SLA
                step("o-3", "service", NOW - timedelta(hours=2), done=True),  # done
                step("o-5", "service", NOW - timedelta(hours=1)),  # a test run
                message("n-1", timedelta(hours=1)),
                message("n-2", timedelta(minutes=5)),
                message("n-3", timedelta(days=1), sent=True),
            ]
        )
        session.commit()


async def test_backlog_gauges_reflect_the_read_model(http, headers, demo):
    seed_backlog(demo)
    found = await scrape(http, headers)
    assert found[("servflow_backlog_up", labels())] == 1
    open_orders = {
        dict(key[1])["status"] + "/" + dict(key[1])["region"]: value
        for key, value in found.items()
        if key[0] == "servflow_open_orders"
    }
    # Closed orders and designer test runs are left out.
    assert open_orders == {"dispatched/huabei": 2, "in_service/huanan": 1}
    assert found[("servflow_steps_past_sla", labels())] == 1
    assert found[("servflow_outbox_unsent", labels())] == 2
    age = found[("servflow_outbox_oldest_unsent_age_seconds", labels())]
    assert 3600 <= age < 2 * 3600


@pytest.mark.parametrize(
    ("who", "code"), [(None, 401), ("dispatcher_huabei", 403), ("api_key", 403)]
)
async def test_metrics_are_refused_to_anyone_but_hq_admin(http, headers, who, code):
    response = await http.get("/metrics", headers=headers(who) if who else {})
    assert response.status_code == code
    assert "servflow_" not in response.text


def test_the_backlog_reports_down_when_the_store_does_not_answer(caplog):
    engine = make_engine("postgresql+psycopg://servflow@127.0.0.1:1/servflow?connect_timeout=2")
    collector = BacklogCollector(make_session_factory(engine))
    with caplog.at_level(logging.WARNING):
        families = list(collector.collect())
    engine.dispose()
    assert [(f.name, f.samples[0].value) for f in families] == [("servflow_backlog_up", 0)]


async def test_log_lines_written_for_a_request_carry_its_order_and_node(http, caplog):
    logger = logging.getLogger("tests.metrics.probe")

    # A plain `def` endpoint runs on a worker thread: the ids must follow it there.
    def probe(order_id: str, node_id: str) -> dict[str, str]:
        logger.warning("探针")
        return {}

    http.app.add_api_route("/probe/{order_id}/steps/{node_id}", probe)
    # Stamped on the record when it is written, as configure_logging's handler does.
    caplog.handler.addFilter(LogContextFilter())
    with caplog.at_level(logging.WARNING, logger="tests.metrics.probe"):
        await http.get("/probe/o-42/steps/signoff")
    [record] = [r for r in caplog.records if r.name == "tests.metrics.probe"]
    line = JsonFormatter().format(record)
    assert '"order_id": "o-42"' in line
    assert '"node_id": "signoff"' in line


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_the_worker_exports_the_sdk_metrics_on_its_metrics_address(client):
    assert metrics_runtime("") is None  # the default: off
    address = f"127.0.0.1:{free_port()}"
    settings = Settings(temporal_address=client.service_client.config.target_host, demo=True)
    worker_client = await connect(settings, runtime=metrics_runtime(address))
    async with build_worker(worker_client, task_queue=f"m-{uuid.uuid4()}", activities=[]):
        text = ""
        async with httpx.AsyncClient() as http:
            for _ in range(100):  # until the pollers have reported (at most ~10 s)
                text = (await http.get(f"http://{address}/metrics")).text
                if "temporal_num_pollers" in text:
                    break
                await asyncio.sleep(0.1)
    assert "temporal_num_pollers" in text
