"""Helpers for driving work orders in tests."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from temporalio.client import Client, WorkflowHandle

from tests.conftest import TEST_ACTOR_KEY
from workflows import constants as c
from workflows import trust
from workflows.contracts import (
    Actor,
    OrderContext,
    OrderState,
    StartOrderInput,
    StepAccepted,
    StepSubmission,
)
from workflows.definition import Definition
from workflows.interpreter import WorkOrderWorkflow

ROOT = Path(__file__).resolve().parents[2]


def load_example(name: str) -> Definition:
    return Definition.model_validate(json.loads((ROOT / "examples" / f"{name}.json").read_text()))


def definition(nodes: list[dict[str, Any]], **fields: Any) -> Definition:
    raw = {
        "key": "test-pipeline",
        "name": "test",
        "version": 1,
        "start": nodes[0]["id"],
        "nodes": nodes,
        **fields,
    }
    return Definition.model_validate(raw)


async def start_order(
    client: Client,
    defn: Definition,
    task_queue: str,
    *,
    variables: dict[str, Any] | None = None,
    region: str = "华北",
    subdefinitions: dict[str, Definition] | None = None,
    continue_as_new_after_events: int = 0,
    sandbox: bool = False,
    started_by: str = "",
) -> WorkflowHandle[WorkOrderWorkflow, Any]:
    order_id = f"order-{uuid.uuid4()}"
    return await client.start_workflow(
        WorkOrderWorkflow.run,
        StartOrderInput(
            order_id=order_id,
            definition=defn,
            subdefinitions=subdefinitions or {},
            variables=variables or {},
            context=OrderContext(region=region, outlet="bj-001", priority=2, started_by=started_by),
            continue_as_new_after_events=continue_as_new_after_events,
            sandbox=sandbox,
        ),
        id=order_id,
        task_queue=task_queue,
    )


async def state(handle: WorkflowHandle[Any, Any]) -> OrderState:
    return await handle.query(WorkOrderWorkflow.state)


async def wait_until(
    handle: WorkflowHandle[Any, Any], check: Callable[[OrderState], bool], timeout: float = 15
) -> OrderState:
    """Poll the state query until `check` holds (orders move asynchronously)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        current = await state(handle)
        if check(current):
            return current
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(
                f"state never matched; last: status={current.status}"
                f" active={[a.node_id for a in current.active]}"
            )
        await asyncio.sleep(0.05)


async def wait_for_step(
    handle: WorkflowHandle[Any, Any], node_id: str, timeout: float = 15
) -> OrderState:
    return await wait_until(handle, lambda s: any(a.node_id == node_id for a in s.active), timeout)


async def submit(
    handle: WorkflowHandle[Any, Any],
    node_id: str,
    data: dict[str, Any],
    *,
    user: str = "engineer_bj_01",
    roles: list[str] | None = None,
    issued_at: datetime | None = None,
) -> StepAccepted:
    """Submits a step as the API does, proven with the test actor key; `issued_at` is the
    time the order sees (a time-skipping server's clock runs ahead of the wall clock)."""
    submission = StepSubmission(
        node_id=node_id, actor=Actor(user_id=user, roles=roles or ["engineer"]), data=data
    )
    proven = trust.prove(TEST_ACTOR_KEY, handle.id, submission, issued_at or datetime.now(UTC))
    return await handle.execute_update(WorkOrderWorkflow.submit_step, proven)


SERVICE_OK = {"diagnosis": "冷媒泄漏，已补焊", "parts_needed": False}
SIGNOFF_OK = {"signature": "file-sig-1", "photos": ["file-p1", "file-p2"], "rating": "5"}
__all__ = ["SERVICE_OK", "SIGNOFF_OK", "c"]
