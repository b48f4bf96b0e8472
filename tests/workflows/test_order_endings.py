"""How an order ends when something around a step goes wrong: the read model's write of a
waiting step fails or is cancelled, or the order is cancelled while an activity runs."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from temporalio.client import Client

from tests.workflows.fakes import ENGINEER_USER, FakeActivities
from tests.workflows.record_histories import one_task, unguarded_ac_repair, until
from tests.workflows.support import (
    SERVICE_OK,
    SIGNOFF_OK,
    definition,
    load_example,
    start_order,
    submit,
    wait_for_step,
)
from worker import build_worker
from workflows.contracts import Cancellation
from workflows.interpreter import WorkOrderWorkflow


@asynccontextmanager
async def running(client: Client, fakes: FakeActivities) -> AsyncIterator[str]:
    """A worker with `fakes` on a task queue of its own; yields the queue."""
    queue = f"endings-{uuid.uuid4()}"
    async with build_worker(client, task_queue=queue, activities=fakes.all()):
        yield queue


async def test_failing_read_model_write_does_not_fail_the_order(client: Client) -> None:
    fakes = FakeActivities(fail_record_waiting=True)
    async with running(client, fakes) as queue:
        handle = await start_order(
            client, load_example("ac-repair"), queue, variables={"fault": "x"}
        )
        await wait_for_step(handle, "service")
        await submit(handle, "service", SERVICE_OK)
        await wait_for_step(handle, "signoff")
        await submit(handle, "signoff", SIGNOFF_OK)
        result = await handle.result()
    assert result.status == "completed"
    # Each step the read model missed travels with the next activity instead.
    settlement = fakes.calls["settlement"][0]
    assert "service" in [entry.node_id for entry in settlement.unrecorded_steps]


async def test_cancel_while_an_activity_runs_ends_cancelled_not_failed(client: Client) -> None:
    fakes = FakeActivities(hang_dispatch=True)
    async with running(client, fakes) as queue:
        handle = await start_order(client, unguarded_ac_repair(), queue, variables={"fault": "x"})
        await until(lambda: fakes.calls["dispatch"])
        await handle.signal(WorkOrderWorkflow.cancel, Cancellation(reason="重复报修", by="d1"))
        result = await handle.result()
    assert result.status == "cancelled"
    assert result.timeline[-1].outcome == "重复报修"
    assert [step.status for step in fakes.calls["close_order"]] == ["cancelled"]


async def test_cancel_while_the_waiting_step_is_being_recorded_ends_cancelled(
    client: Client,
) -> None:
    fakes = FakeActivities(hang_record_waiting=True)
    nodes = one_task({"assignee": {"kind": "user", "value": ENGINEER_USER}})
    async with running(client, fakes) as queue:
        handle = await start_order(client, definition(nodes), queue)
        await until(lambda: fakes.waiting)
        await handle.signal(WorkOrderWorkflow.cancel, Cancellation(reason="客户取消", by="d1"))
        result = await handle.result()
    assert result.status == "cancelled"
