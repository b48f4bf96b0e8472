"""10,000 orders open at once, each waiting on a human step, then all advanced to the end.

Prints the time of each phase and the worker's peak resident memory (the worker runs in a
process of its own and is sampled every 100 ms). Nothing may be lost: every order must end
completed.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import psutil
from temporalio.client import Client

from bench.support import (
    ENGINEER,
    FIVE_STEPS,
    SERVICE_DATA,
    SIGNOFF_DATA,
    dev_server,
    proven,
    run_concurrently,
)
from servflow.platform.shutdown import exit_now
from workflows.contracts import Actor, OrderContext, StartOrderInput, StepSubmission

ORDERS = int(os.environ.get("BENCH_OPEN_ORDERS", "10000"))
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "100"))
CACHE = int(os.environ.get("BENCH_MAX_CACHED_WORKFLOWS", "2000"))
BATCH = int(os.environ.get("BENCH_BATCH", "500"))
ACTOR = Actor(user_id=ENGINEER, roles=["engineer"])
ROOT = Path(__file__).resolve().parents[1]


class PeakMemory(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.process, self.peak, self.done = psutil.Process(pid), 0, threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.1):
            try:
                self.peak = max(self.peak, self.process.memory_info().rss)
            except psutil.NoSuchProcess:
                return


async def wait_count(client: Client, query: str, expected: int, label: str) -> float:
    started = time.perf_counter()
    last = -1
    while True:
        count = (await client.count_workflows(query)).count
        if count != last:
            print(f"  {label}: {count}/{expected}", flush=True)
            last = count
        if count >= expected:
            return time.perf_counter() - started
        await asyncio.sleep(0.5)


async def main() -> None:
    async with dev_server() as client:
        queue = f"bench-open-{uuid.uuid4()}"
        address = client.service_client.config.target_host
        worker = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bench.worker_process",
                "--address",
                address,
                "--task-queue",
                queue,
                "--max-cached-workflows",
                str(CACHE),
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert worker.stdout is not None and worker.stdout.readline().strip() == "worker ready"
        memory = PeakMemory(worker.pid)
        memory.start()
        ids = [f"open-{i}-{uuid.uuid4()}" for i in range(ORDERS)]
        in_queue = f'TaskQueue="{queue}"'
        try:

            async def start(i: int) -> None:
                order = StartOrderInput(
                    order_id=ids[i], definition=FIVE_STEPS, context=OrderContext(region="华北")
                )
                await client.start_workflow("WorkOrder", order, id=ids[i], task_queue=queue)

            async def submit(node_id: str, data: dict[str, str], i: int) -> None:
                step = StepSubmission(node_id=node_id, actor=ACTOR, data=data)
                await client.get_workflow_handle(ids[i]).execute_update(
                    "submit_step", proven(ids[i], step)
                )

            print(f"opening {ORDERS} orders in batches of {BATCH} (worker cache {CACHE})")
            # Orders arrive in batches, each reaching its human step before the next comes:
            # 10,000 simultaneous starts would measure the server's backlog, not the engine.
            waiting = f'{in_queue} AND CurrentNode="service"'
            t_open = 0.0
            for first in range(0, ORDERS, BATCH):
                size = min(BATCH, ORDERS - first)
                t_open += await run_concurrently(size, CONCURRENCY, lambda i, f=first: start(f + i))
                t_open += await wait_count(client, waiting, first + size, "waiting at service")
            t_service = await run_concurrently(
                ORDERS, CONCURRENCY, lambda i: submit("service", SERVICE_DATA, i)
            )
            t_service += await wait_count(
                client, f'{in_queue} AND CurrentNode="signoff"', ORDERS, "waiting at signoff"
            )
            t_signoff = await run_concurrently(
                ORDERS, CONCURRENCY, lambda i: submit("signoff", SIGNOFF_DATA, i)
            )
            t_signoff += await wait_count(
                client, f'{in_queue} AND ExecutionStatus="Completed"', ORDERS, "completed"
            )
            failed = (
                await client.count_workflows(f'{in_queue} AND ExecutionStatus!="Completed"')
            ).count
        finally:
            memory.done.set()
            worker.terminate()
            worker.wait(30)
    peak_mb = memory.peak / 2**20
    print(f"opened {ORDERS} orders to the service step in {t_open:.1f}s ({ORDERS / t_open:.0f}/s)")
    print(f"advanced all through service in {t_service:.1f}s ({ORDERS / t_service:.0f}/s)")
    print(
        f"advanced all through signoff to completion in {t_signoff:.1f}s"
        f" ({ORDERS / t_signoff:.0f}/s)"
    )
    print(f"not completed: {failed}")
    print(f"worker_peak_rss_mb={peak_mb:.0f} open_orders={ORDERS} lost={failed}")


if __name__ == "__main__":
    asyncio.run(main())
    exit_now()
