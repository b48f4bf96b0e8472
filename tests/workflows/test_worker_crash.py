"""A worker killed mid-pipeline and restarted finishes every order, each effect once."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select
from temporalio.client import Client

from servflow.billing.models import Payout, Settlement
from servflow.demo.loader import load_demo
from servflow.dispatch.models import Engineer
from servflow.orders.models import WorkOrder, WorkOrderStep
from servflow.platform.db import make_engine, make_session_factory
from servflow.tables import metadata
from tests.workflows.support import (
    ROOT,
    SERVICE_OK,
    SIGNOFF_OK,
    load_example,
    submit,
    wait_for_step,
)
from workflows.contracts import OrderContext, StartOrderInput
from workflows.interpreter import WorkOrderWorkflow

CUSTOMERS = [
    {
        "name": f"客户{i}",
        "phone": f"1390000{i:04d}",
        "address": "北京市东城区王府井大街1号",
        "city": "北京",
        "lat": 39.914,
        "lng": 116.41,
    }
    for i in range(4)
]


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'crash.db'}"
    engine = make_engine(url)
    metadata.create_all(engine)
    with make_session_factory(engine)() as session:
        load_demo(session)
        session.commit()
    engine.dispose()
    yield url


def total_load(url: str) -> int:
    engine = make_engine(url)
    with make_session_factory(engine)() as session:
        load = session.scalar(select(func.sum(Engineer.current_load))) or 0
    engine.dispose()
    return int(load)


def spawn_worker(address: str, queue: str, url: str, *extra: str) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.workflows.crashing_worker",
            "--address",
            address,
            "--task-queue",
            queue,
            "--database-url",
            url,
            *extra,
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "worker ready"
    return process


async def test_worker_killed_after_committing_settlement_applies_it_once(
    client: Client, database_url: str, tmp_path: Path
) -> None:
    queue, marker = f"crash-{uuid.uuid4()}", tmp_path / "died"
    baseline_load = total_load(database_url)
    address = client.service_client.config.target_host
    first = spawn_worker(
        address, queue, database_url, "--die-after-commit", "settlement", "--marker", str(marker)
    )
    handles = []
    for i, customer in enumerate(CUSTOMERS):
        order_id = f"crash-{uuid.uuid4()}"
        start = StartOrderInput(
            order_id=order_id,
            definition=load_example("ac-repair"),
            variables={"fault": f"ac_leak_{i}"},
            context=OrderContext(region="华北", customer=customer, priority=3),
        )
        handles.append(
            await client.start_workflow(WorkOrderWorkflow.run, start, id=order_id, task_queue=queue)
        )
    engineers = {}
    for handle in handles:
        engineers[handle.id] = (await wait_for_step(handle, "service")).active[0].assignee
    submissions = [
        asyncio.create_task(submit(handle, "service", SERVICE_OK, user=engineers[handle.id]))
        for handle in handles
    ]
    assert await asyncio.to_thread(first.wait, 60) == -9  # died right after a committed settlement
    second = spawn_worker(address, queue, database_url)
    try:
        await asyncio.gather(*submissions)
        for handle in handles:
            await wait_for_step(handle, "signoff", timeout=60)
            await submit(handle, "signoff", SIGNOFF_OK, user=engineers[handle.id])
        results = [await handle.result() for handle in handles]
    finally:
        second.terminate()
        second.wait(30)
    assert [r.status for r in results] == ["completed"] * len(CUSTOMERS)

    engine = make_engine(database_url)
    with make_session_factory(engine)() as session:
        ids = [h.id for h in handles]
        settlements = session.scalars(select(Settlement).where(Settlement.order_id.in_(ids))).all()
        assert len(settlements) == 2 * len(CUSTOMERS)  # commissioning + signoff, once each
        for result in results:
            amounts = [
                Decimal(result.variables[n]["amount"])
                for n in ("commissioning", "final_settlement")
            ]
            order = session.scalars(
                select(WorkOrder).where(WorkOrder.order_id == result.order_id)
            ).one()
            stored = session.scalars(
                select(Settlement).where(Settlement.order_id == order.order_id)
            ).all()
            assert sorted(s.amount for s in stored) == sorted(amounts)
            paid = session.scalar(
                select(func.sum(Payout.amount))
                .join(Settlement)
                .where(Settlement.order_id == order.order_id)
            )
            assert paid == sum(amounts)
            assert order.status == "completed"
            steps = session.scalars(
                select(WorkOrderStep.node_id).where(WorkOrderStep.order_id == order.order_id)
            ).all()
            assert len(steps) == len(set(steps))
        assert session.scalar(select(func.sum(Engineer.current_load))) == baseline_load
    engine.dispose()
    assert marker.exists()
