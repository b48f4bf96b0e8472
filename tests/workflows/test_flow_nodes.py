"""Decisions, parallel branches, sub-pipelines, cancel, reassign, failures, continue-as-new."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from temporalio.client import Client, WorkflowFailureError, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from tests.workflows.fakes import FakeActivities
from tests.workflows.support import (
    SERVICE_OK,
    SIGNOFF_OK,
    definition,
    load_example,
    start_order,
    state,
    submit,
    wait_for_step,
    wait_until,
)
from worker import build_worker
from workflows import constants as c
from workflows.contracts import Cancellation, Reassignment, StartOrderInput, StepRefusal
from workflows.definition import Definition
from workflows.interpreter import WorkOrderWorkflow

pytestmark = pytest.mark.usefixtures("worker")


async def test_decision_takes_parts_branch_when_parts_are_needed(
    client: Client, task_queue: str
) -> None:
    handle = await start_order(
        client, load_example("ac-repair"), task_queue, variables={"fault": "x"}
    )
    await wait_for_step(handle, "service")
    await submit(handle, "service", {**SERVICE_OK, "parts_needed": True})
    await wait_for_step(handle, "parts_fitting")
    await submit(handle, "parts_fitting", {"fitted": True})
    await wait_for_step(handle, "signoff")
    await submit(handle, "signoff", SIGNOFF_OK)
    result = await handle.result()
    assert "parts_fitting" in [e.node_id for e in result.timeline]
    assert result.variables["parts_fitting"] == {"fitted": True}


PARALLEL = [
    {"id": "fork", "type": "parallel", "branches": ["inspect", "order_parts"], "join": "meet"},
    {"id": "inspect", "type": "task", "next": "meet", "form": [{"name": "ok", "type": "boolean"}]},
    {
        "id": "order_parts",
        "type": "task",
        "next": "notify_wh",
        "form": [{"name": "sku", "type": "text"}],
    },
    {
        "id": "notify_wh",
        "type": "notify",
        "next": "meet",
        "params": {"to_roles": ["dispatcher"], "message": "parts"},
    },
    {"id": "meet", "type": "join", "next": "done"},
    {"id": "done", "type": "end"},
]


async def test_parallel_branches_run_together_and_join_waits_for_all(
    client: Client, task_queue: str, fakes: FakeActivities
) -> None:
    handle = await start_order(client, definition(PARALLEL), task_queue)
    both = await wait_until(
        handle, lambda s: {a.node_id for a in s.active} >= {"inspect", "order_parts"}
    )
    assert "fork" in {a.node_id for a in both.active}
    await submit(
        handle, "order_parts", {"sku": "CMP-1"}, user="dispatcher_bj", roles=["dispatcher"]
    )
    after_one = await wait_until(
        handle,
        lambda s: (
            "order_parts" not in {a.node_id for a in s.active}
            and not any(a.node_id == "notify_wh" for a in s.active)
        ),
    )
    assert "inspect" in {a.node_id for a in after_one.active}
    assert after_one.status == "running"
    await submit(handle, "inspect", {"ok": True}, user="dispatcher_bj", roles=["dispatcher"])
    result = await handle.result()
    assert result.status == "completed"
    assert [e.node_id for e in result.timeline][-2:] == ["meet", "done"]
    assert len(fakes.calls["notify"]) == 1
    # The order ended on a human step: close_order records it.
    assert fakes.calls["close_order"][0].final is True


def inspection_pipelines() -> tuple[Definition, Definition]:
    """A child pipeline (one task) and a parent that calls it with an input."""
    child = definition(
        [
            {
                "id": "check",
                "type": "task",
                "next": "stop",
                "form": [{"name": "passed", "type": "boolean"}],
            },
            {"id": "stop", "type": "end"},
        ],
        key="inspection",
        variables=[{"name": "serial", "type": "text"}],
    )
    parent = definition(
        [
            {
                "id": "sub",
                "type": "subpipeline",
                "next": "stop",
                "params": {
                    "definition": "inspection",
                    "inputs": {"serial": "'SN-' + order.region"},
                },
            },
            {"id": "stop", "type": "end"},
        ]
    )
    return child, parent


async def test_subpipeline_runs_as_child_and_returns_its_variables(
    client: Client, task_queue: str
) -> None:
    child, parent = inspection_pipelines()
    handle = await start_order(client, parent, task_queue, subdefinitions={"inspection": child})
    waiting = await wait_until(handle, lambda s: bool(s.active and s.active[0].child_workflow_id))
    child_handle = client.get_workflow_handle(waiting.active[0].child_workflow_id)
    await wait_for_step(child_handle, "check")
    await submit(
        child_handle, "check", {"passed": True}, user="dispatcher_bj", roles=["dispatcher"]
    )
    result = await handle.result()
    assert result.variables["sub"]["serial"] == "SN-华北"
    assert result.variables["sub"]["check"] == {"passed": True}


async def test_cancel_signal_ends_order_as_cancelled_and_records_it(
    client: Client, task_queue: str, fakes: FakeActivities
) -> None:
    handle = await start_order(
        client, load_example("ac-repair"), task_queue, variables={"fault": "x"}
    )
    await wait_for_step(handle, "service")
    await handle.signal(
        WorkOrderWorkflow.cancel, Cancellation(reason="客户取消", by="dispatcher_huabei")
    )
    result = await handle.result()
    assert result.status == "cancelled"
    assert result.timeline[-1].outcome == "客户取消"
    closing = fakes.calls["close_order"][-1]
    assert closing.status == "cancelled" and closing.final
    assert [s.node_type for s in closing.unrecorded_steps] == ["cancel"]


async def test_reassign_moves_the_step_to_another_engineer(client: Client, task_queue: str) -> None:
    handle = await start_order(
        client, load_example("ac-repair"), task_queue, variables={"fault": "x"}
    )
    await wait_for_step(handle, "service")
    await handle.signal(
        WorkOrderWorkflow.reassign,
        Reassignment(node_id="service", user_id="engineer_bj_02", by="dispatcher"),
    )
    moved = await wait_until(handle, lambda s: s.active[0].assignee == "engineer_bj_02")
    assert moved.active[0].node_id == "service"
    with pytest.raises(WorkflowUpdateFailedError):
        await submit(handle, "service", SERVICE_OK)  # the original engineer
    await submit(handle, "service", SERVICE_OK, user="engineer_bj_02")
    await wait_for_step(handle, "signoff")
    await handle.terminate()


async def test_two_simultaneous_submissions_of_one_step_one_wins(
    client: Client, task_queue: str
) -> None:
    handle = await start_order(
        client, load_example("ac-repair"), task_queue, variables={"fault": "x"}
    )
    await wait_for_step(handle, "service")
    outcomes = await asyncio.gather(
        submit(handle, "service", SERVICE_OK),
        submit(handle, "service", {**SERVICE_OK, "diagnosis": "other"}),
        return_exceptions=True,
    )
    accepted = [o for o in outcomes if not isinstance(o, BaseException)]
    refused = [o for o in outcomes if isinstance(o, WorkflowUpdateFailedError)]
    assert len(accepted) == 1 and len(refused) == 1
    assert (
        isinstance(refused[0].cause, ApplicationError)
        and refused[0].cause.type == StepRefusal.NOT_ACTIVE
    )
    current = await wait_for_step(handle, "signoff")
    services = [e for e in current.timeline if e.node_id == "service"]
    assert len(services) == 1 and services[0].completed_at is not None
    await handle.terminate()


async def test_business_failure_fails_order_with_reason(client: Client, task_queue: str) -> None:
    failing = FakeActivities(fail_dispatch=True)
    queue = task_queue + "-failing"
    async with build_worker(client, task_queue=queue, activities=failing.all()):
        handle = await start_order(
            client, load_example("ac-repair"), queue, variables={"fault": "x"}
        )
        with pytest.raises(WorkflowFailureError) as failed:
            await handle.result()
    assert "no qualified engineer" in str(failed.value.cause)
    closing = failing.calls["close_order"][-1]
    assert closing.status == "failed"
    assert any("no qualified engineer" in s.outcome for s in closing.unrecorded_steps)


LOOP = [
    {
        "id": "visit",
        "type": "task",
        "next": "again",
        "form": [{"name": "fixed", "type": "boolean"}],
    },
    {
        "id": "again",
        "type": "decision",
        "branches": [{"when": "visit.fixed", "next": "stop"}],
        "default": "visit",
    },
    {"id": "stop", "type": "end"},
]


async def test_long_loop_continues_as_new_and_keeps_its_state(
    client: Client, task_queue: str
) -> None:
    handle = await start_order(
        client, definition(LOOP), task_queue, continue_as_new_after_events=20
    )
    for visit in range(1, 7):
        await wait_until(
            handle, lambda s, n=visit: any(a.node_id == "visit" and a.visit == n for a in s.active)
        )
        await submit(handle, "visit", {"fixed": False}, user="dispatcher_bj", roles=["dispatcher"])
    final_state = await wait_until(handle, lambda s: any(a.visit == 7 for a in s.active))
    assert final_state.runs > 1
    assert len([e for e in final_state.timeline if e.node_id == "visit"]) == 7
    await submit(handle, "visit", {"fixed": True}, user="dispatcher_bj", roles=["dispatcher"])
    latest = client.get_workflow_handle_for(WorkOrderWorkflow.run, handle.id)
    result = await latest.result()
    assert result.status == "completed"
    assert (await state(latest)).status == "completed"


async def test_cancel_sent_with_the_start_cancels_before_any_step(
    client: Client, task_queue: str, fakes: FakeActivities
) -> None:
    order_id = f"order-{uuid.uuid4()}"
    start = StartOrderInput(
        order_id=order_id, definition=load_example("ac-repair"), variables={"fault": "x"}
    )
    handle = await client.start_workflow(
        WorkOrderWorkflow.run,
        start,
        id=start.order_id,
        task_queue=task_queue,
        start_signal=c.SIGNAL_CANCEL,
        start_signal_args=[Cancellation(reason="duplicate call", by="call-centre")],
    )
    result = await handle.result()
    assert result.status == "cancelled"
    assert fakes.calls["report"] == []
