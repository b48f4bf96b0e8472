"""Records the histories the replay tests keep: `python -m tests.workflows.record_histories`
(all scenarios) or `... record_histories <scenario> ...` (only those).

Re-record only on purpose (a deliberate, `workflow.patched`-gated interpreter change): the
point of the stored files is that today's interpreter must replay yesterday's orders.
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from pathlib import Path

from temporalio.client import Client, WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from tests.conftest import SEARCH_KEYS, TEMPORAL
from tests.workflows.fakes import FakeActivities
from tests.workflows.support import (
    SERVICE_OK,
    SIGNOFF_OK,
    definition,
    load_example,
    start_order,
    submit,
    wait_for_step,
)
from tests.workflows.test_flow_nodes import PARALLEL
from worker import build_worker
from workflows.contracts import Cancellation
from workflows.interpreter import WorkOrderWorkflow

HISTORIES = Path(__file__).parent / "histories"


async def ac_repair_with_parts(client: Client, queue: str) -> WorkflowHandle:
    handle = await start_order(
        client, load_example("ac-repair"), queue, variables={"fault": "ac_leak"}
    )
    await wait_for_step(handle, "service")
    await submit(handle, "service", {**SERVICE_OK, "parts_needed": True})
    await wait_for_step(handle, "parts_fitting")
    await submit(handle, "parts_fitting", {"fitted": True})
    await wait_for_step(handle, "signoff")
    await submit(handle, "signoff", SIGNOFF_OK)
    await handle.result()
    return handle


async def parallel_branches(client: Client, queue: str) -> WorkflowHandle:
    handle = await start_order(client, definition(PARALLEL), queue)
    await wait_for_step(handle, "inspect")
    await submit(handle, "order_parts", {"sku": "CMP-1"})
    await submit(handle, "inspect", {"ok": True})
    await handle.result()
    return handle


async def cancelled_in_service(client: Client, queue: str) -> WorkflowHandle:
    handle = await start_order(client, load_example("ac-repair"), queue, variables={"fault": "x"})
    await wait_for_step(handle, "service")
    await handle.signal(WorkOrderWorkflow.cancel, Cancellation(reason="客户取消", by="dispatcher"))
    await handle.result()
    return handle


async def ac_repair_step_answers_next(client: Client, queue: str) -> WorkflowHandle:
    """The same order after the patches `step-answer-shows-next` and
    `read-model-shows-waiting-steps` (their markers in the history)."""
    return await ac_repair_with_parts(client, queue)


SCENARIOS = [
    ac_repair_with_parts,
    parallel_branches,
    cancelled_in_service,
    ac_repair_step_answers_next,
]


async def main() -> None:
    HISTORIES.mkdir(exist_ok=True)
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(TEMPORAL),
        data_converter=pydantic_data_converter,
        search_attributes=SEARCH_KEYS,
    )
    async with env:
        queue = f"record-{uuid.uuid4()}"
        async with build_worker(env.client, task_queue=queue, activities=FakeActivities().all()):
            chosen = set(sys.argv[1:])
            for scenario in [s for s in SCENARIOS if not chosen or s.__name__ in chosen]:
                handle = await scenario(env.client, queue)
                history = await handle.fetch_history()
                (HISTORIES / f"{scenario.__name__}.json").write_text(history.to_json())
                print(f"recorded {scenario.__name__}: {len(history.events)} events")


if __name__ == "__main__":
    asyncio.run(main())
