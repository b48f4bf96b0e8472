"""The read model catches up with Temporal (servflow.orders.reconcile).

Orders run end to end through the API on a real worker; the read model is then made to
fall behind the way production makes it (a `record_waiting` that keeps failing, an order
terminated in Temporal) and the reconciler must bring it back, once.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity
from temporalio.client import Client
from temporalio.exceptions import ApplicationError

from activities.registry import ActivityDeps, build_activities
from servflow.cli.main import COMMANDS, build_parser
from servflow.dispatch.models import Engineer
from servflow.orders import steps
from servflow.orders.models import WorkOrder
from servflow.orders.reconcile import reconcile
from servflow.orders.repo import ensure_order
from servflow.platform.base import utcnow
from servflow.platform.settings import Settings
from tests.api.conftest import (
    api,
    demo,
    engineer_of,
    headers,
    order_body,
    quiesce,
    task_queue,
    wait_for,
    waiting_at,
    worker,
)
from worker import build_worker, start_reconciler
from workflows.constants import ACTIVITY_RECORD_WAITING
from workflows.contracts import WaitingStep

__all__ = ["api", "demo", "headers", "task_queue", "worker"]

Headers = Callable[[str], dict[str, str]]


@activity.defn(name=ACTIVITY_RECORD_WAITING)
async def record_waiting_fails(step: WaitingStep) -> None:
    raise ApplicationError("read model unavailable", non_retryable=True)


@contextlib.asynccontextmanager
async def worker_whose_record_waiting_fails(
    client: Client, factory: sessionmaker[Session], queue: str
) -> AsyncIterator[None]:
    """The real activities, but the read model never learns that a human step waits."""
    real = build_activities(ActivityDeps(session_factory=factory))
    kept = [a for a in real if a.__name__ != "record_waiting_activity"]
    async with build_worker(client, task_queue=queue, activities=[*kept, record_waiting_fails]):
        yield
        await quiesce(client, queue)


async def start_at_service(api: httpx.AsyncClient, headers: Headers) -> tuple[str, str]:
    """Starts an order and waits until it waits for its engineer's service step."""
    key = {**headers("api_key"), "Idempotency-Key": f"crm-{uuid.uuid4()}"}
    started = await api.post("/api/orders", json=order_body(), headers=key)
    assert started.status_code == 201, started.text
    order_id = started.json()["order_id"]
    body = await wait_for(api, order_id, waiting_at("service"), headers("hq_admin"))
    return order_id, engineer_of(body)


async def run(factory: sessionmaker[Session], client: Client) -> Any:
    return await reconcile(factory, client, limit=50, older_than=timedelta(0))


async def waiting_steps(api: httpx.AsyncClient, order_id: str, who: dict[str, str]) -> Any:
    response = await api.get(f"/api/orders/{order_id}/waiting?node_id=service&wait=1", headers=who)
    assert response.status_code == 200, response.text
    return response.json()


async def tasks_of(api: httpx.AsyncClient, who: dict[str, str]) -> list[tuple[str, str]]:
    response = await api.get("/api/my/tasks", headers=who)
    assert response.status_code == 200, response.text
    return [(t["order_id"], t["node_id"]) for t in response.json()["data"]]


async def test_a_step_whose_waiting_write_failed_waits_in_the_read_model_after_reconcile(
    api, demo, headers, client, task_queue
):
    async with worker_whose_record_waiting_fails(client, demo, task_queue):
        order_id, engineer = await start_at_service(api, headers)
        admin, field_app = headers("hq_admin"), headers(engineer)
        # D9: the order waits for the engineer, but neither the long poll nor "my tasks"
        # shows it.
        assert (await waiting_steps(api, order_id, admin))["steps"] == []
        assert await tasks_of(api, field_app) == []

        report = await run(demo, client)

        assert (report.checked, report.repaired_orders, dict(report.repaired)) == (
            1,
            1,
            {"waiting": 1},
        )
        seen = await waiting_steps(api, order_id, admin)
        assert [(s["node_id"], s["assignee"]) for s in seen["steps"]] == [("service", engineer)]
        assert seen["steps"][0]["sla_deadline"] is not None
        assert await tasks_of(api, field_app) == [(order_id, "service")]
        order = (await api.get(f"/api/orders/{order_id}?live=false", headers=admin)).json()
        assert order["order"]["current_node"] == "service"

        again = await run(demo, client)
        assert (again.checked, again.unchanged, again.repaired_orders) == (1, 1, 0)


def load_of(factory: sessionmaker[Session], order_id: str) -> int:
    with factory() as session:
        order = session.scalars(select(WorkOrder).where(WorkOrder.order_id == order_id)).one()
        engineer = session.get(Engineer, order.current_engineer_id)
        assert engineer is not None
        return engineer.current_load


def take_another_job(factory: sessionmaker[Session], order_id: str) -> None:
    """The order's engineer holds one more job, so a slot released twice would show."""
    with factory() as session:
        order = session.scalars(select(WorkOrder).where(WorkOrder.order_id == order_id)).one()
        session.execute(
            update(Engineer)
            .where(Engineer.id == order.current_engineer_id)
            .values(current_load=Engineer.current_load + 1)
        )
        session.commit()


async def test_an_order_terminated_in_temporal_is_closed_and_frees_its_engineer_once(
    api, demo, headers, client, worker
):
    order_id, engineer = await start_at_service(api, headers)
    admin, field_app = headers("hq_admin"), headers(engineer)
    assert [s["node_id"] for s in (await waiting_steps(api, order_id, admin))["steps"]] == [
        "service"
    ]
    take_another_job(demo, order_id)
    load = load_of(demo, order_id)
    # An operator terminates it: no step of the order runs again, so none closes its row.
    await client.get_workflow_handle(order_id).terminate(reason="stuck, ended by operator")
    assert await tasks_of(api, field_app) == [(order_id, "service")]

    report = await run(demo, client)

    assert (report.checked, dict(report.repaired)) == (1, {"closed": 1})
    seen = await waiting_steps(api, order_id, admin)
    assert seen["closed"] is True and seen["steps"] == []
    assert seen["status"] == "failed"
    assert await tasks_of(api, field_app) == []
    assert load_of(demo, order_id) == load - 1

    again = await run(demo, client)
    closed_twice = steps.close_from_temporal(demo, order_id=order_id, status="failed", now=utcnow())
    assert again.checked == 0 and closed_twice is False
    assert load_of(demo, order_id) == load - 1


async def test_an_order_the_read_model_follows_is_left_unchanged(
    api, demo, headers, client, worker
):
    order_id, engineer = await start_at_service(api, headers)
    admin = headers("hq_admin")
    assert [s["node_id"] for s in (await waiting_steps(api, order_id, admin))["steps"]] == [
        "service"
    ]
    before = (await api.get(f"/api/orders/{order_id}?live=false", headers=admin)).json()

    report = await run(demo, client)

    assert (report.checked, report.unchanged, report.repaired_orders) == (1, 1, 0)
    assert (report.unreachable, report.unknown, report.failed) == (0, 0, 0)
    after = (await api.get(f"/api/orders/{order_id}?live=false", headers=admin)).json()
    assert after == before
    assert await tasks_of(api, headers(engineer)) == [(order_id, "service")]


def open_row(factory: sessionmaker[Session], order_id: str) -> None:
    with factory() as session:
        ensure_order(
            session,
            order_id=order_id,
            now=utcnow() - timedelta(hours=1),
            defaults={"status": "dispatched", "definition_key": "ac-repair"},
        )
        session.commit()


async def test_orders_temporal_cannot_tell_about_are_reported_and_left_as_they_are(
    api, demo, headers, client
):
    open_row(demo, "wo-never-started")
    # No worker polls this test's queue: Temporal knows the order, nobody answers for it.
    started = await api.post("/api/orders", json=order_body(), headers=headers("hq_admin"))
    assert started.status_code == 201, started.text
    open_row(demo, started.json()["order_id"])

    report = await reconcile(
        demo, client, limit=50, older_than=timedelta(0), order_timeout=timedelta(seconds=1)
    )

    assert (report.checked, report.unknown, report.unreachable) == (2, 1, 1)
    assert report.repaired_orders == 0 and report.failed == 0
    with demo() as session:
        rows = session.scalars(select(WorkOrder)).all()
        assert {(r.status, r.completed_at) for r in rows} == {("dispatched", None)}


def test_the_cli_prints_the_report(session_factory, temporal_env, capsys):
    open_row(session_factory, "wo-never-started")
    settings = Settings(
        temporal_address=temporal_env.client.service_client.config.target_host,
        database_url=session_factory.kw["bind"].url.render_as_string(hide_password=False),
        # Only describe is asked of an unknown order: no payload is encrypted or read.
        payload_key=base64.b64encode(os.urandom(32)).decode(),
    )
    args = build_parser().parse_args(["reconcile", "--limit", "5", "--older-than", "0"])

    assert COMMANDS[args.command](settings, args) == 0

    printed = capsys.readouterr().out
    assert "checked 1, repaired 0" in printed and "unknown to Temporal 1" in printed


async def test_the_worker_repairs_the_read_model_as_it_starts(api, demo, headers, client):
    assert start_reconciler(Settings(reconcile_every_seconds=0), client, demo) is None
    started = await api.post("/api/orders", json=order_body(), headers=headers("hq_admin"))
    order_id = started.json()["order_id"]
    open_row(demo, order_id)
    await client.get_workflow_handle(order_id).terminate(reason="ended by operator")
    task = start_reconciler(Settings(reconcile_every_seconds=3600), client, demo)
    assert task is not None
    try:
        status = await status_once_closed(demo, order_id)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert status == "failed"


async def status_once_closed(factory: sessionmaker[Session], order_id: str) -> str:
    for _ in range(200):
        with factory() as session:
            row = session.scalars(select(WorkOrder).where(WorkOrder.order_id == order_id)).one()
        if row.completed_at is not None:
            return row.status
        await asyncio.sleep(0.05)
    raise AssertionError(f"order {order_id} was never closed")
