"""A bench worker in its own process, so its memory can be measured alone."""

from __future__ import annotations

import argparse
import asyncio
import signal

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from bench.support import BENCH_ACTOR_KEY, INSTANT_ACTIVITIES
from servflow.platform.shutdown import exit_now
from worker import build_worker
from workflows import trust


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--address", required=True)
    parser.add_argument("--task-queue", required=True)
    parser.add_argument("--max-cached-workflows", type=int, default=2000)
    args = parser.parse_args()
    trust.configure(BENCH_ACTOR_KEY)
    client = await Client.connect(args.address, data_converter=pydantic_data_converter)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    worker = build_worker(
        client,
        task_queue=args.task_queue,
        activities=INSTANT_ACTIVITIES,
        max_cached_workflows=args.max_cached_workflows,
    )
    async with worker:
        print("worker ready", flush=True)
        await stop.wait()


if __name__ == "__main__":
    asyncio.run(main())
    exit_now()
