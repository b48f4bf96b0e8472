"""Interpreter vs hand-written workflow on the same five-step pipeline, one dev server.

Each pipeline: start, wait for `service`, submit it (Update), wait for `signoff`, submit it,
wait for the result. Both variants run on one worker with the same instant activities;
rounds alternate A/B so drift hits both alike. Prints pipelines/s of each and, last,
`interpreter_vs_handwritten=<ratio>`.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from typing import Any

from temporalio.client import Client

from bench.handwritten import HandwrittenFiveSteps
from bench.support import (
    BENCH_ACTOR_KEY,
    ENGINEER,
    FIVE_STEPS,
    INSTANT_ACTIVITIES,
    SERVICE_DATA,
    SIGNOFF_DATA,
    dev_server,
    proven,
    run_concurrently,
    wait_active,
)
from servflow.platform.shutdown import exit_now
from worker import build_worker
from workflows import trust
from workflows.contracts import Actor, OrderContext, StartOrderInput, StepSubmission
from workflows.interpreter import WorkOrderWorkflow

ORDERS = int(os.environ.get("BENCH_ORDERS", "150"))
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "40"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "2"))
ACTOR = Actor(user_id=ENGINEER, roles=["engineer"])


async def one_pipeline(client: Client, workflow_name: str, queue: str) -> None:
    order_id = f"bench-{uuid.uuid4()}"
    start = StartOrderInput(
        order_id=order_id,
        definition=FIVE_STEPS,
        context=OrderContext(region="华北", outlet="bj-001"),
    )
    handle = await client.start_workflow(workflow_name, start, id=order_id, task_queue=queue)
    for node_id, data in (("service", SERVICE_DATA), ("signoff", SIGNOFF_DATA)):
        await wait_active(handle, "state", node_id)
        step = StepSubmission(node_id=node_id, actor=ACTOR, data=data)
        await handle.execute_update("submit_step", proven(order_id, step))
    result: Any = await handle.result()
    assert result["status"] == "completed", result


async def measure(client: Client, workflow_name: str, queue: str) -> float:
    seconds = await run_concurrently(
        ORDERS, CONCURRENCY, lambda _i: one_pipeline(client, workflow_name, queue)
    )
    return ORDERS / seconds


async def main() -> None:
    trust.configure(BENCH_ACTOR_KEY)
    async with dev_server() as client:
        queue = f"bench-{uuid.uuid4()}"
        worker = build_worker(
            client,
            task_queue=queue,
            activities=INSTANT_ACTIVITIES,
            workflows=[WorkOrderWorkflow, HandwrittenFiveSteps],
        )
        async with worker:
            await measure(client, "HandwrittenFiveSteps", queue)  # warm-up, not counted
            rates: dict[str, list[float]] = {"handwritten": [], "interpreter": []}
            for round_no in range(ROUNDS):
                order = [("handwritten", "HandwrittenFiveSteps"), ("interpreter", "WorkOrder")]
                for label, name in order if round_no % 2 == 0 else reversed(order):
                    rate = await measure(client, name, queue)
                    rates[label].append(rate)
                    print(f"round {round_no + 1} {label:12s} {rate:7.1f} pipelines/s", flush=True)
    hand = sum(rates["handwritten"]) / len(rates["handwritten"])
    interp = sum(rates["interpreter"]) / len(rates["interpreter"])
    print(
        f"handwritten: {hand:.1f} pipelines/s  interpreter: {interp:.1f} pipelines/s"
        f"  ({ORDERS} orders x {ROUNDS} rounds, concurrency {CONCURRENCY})"
    )
    print(f"interpreter_vs_handwritten={interp / hand:.3f}")


if __name__ == "__main__":
    asyncio.run(main())
    exit_now()
