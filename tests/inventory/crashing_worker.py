"""A worker process for the transfer crash test: the real activities on a database URL.

With --die-after ACTION it SIGKILLs itself the first time the transfer step ACTION has
committed but before its result reaches Temporal: the moment a movement could be doubled.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
from pathlib import Path
from typing import Any

from temporalio import activity
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from activities.registry import ActivityDeps, build_activities
from servflow.platform.db import make_engine, make_session_factory
from worker import build_worker
from workflows import constants as c
from workflows import trust
from workflows.contracts import TransferState, TransferStep


def dying_after(real: Any, action: str, marker: Path) -> Any:
    @activity.defn(name=c.ACTIVITY_INVENTORY_TRANSFER)
    async def wrapped(step: TransferStep) -> TransferState:
        result: TransferState = await real(step)
        if step.action == action and not marker.exists():
            marker.write_text(step.code)
            os.kill(os.getpid(), signal.SIGKILL)
        return result

    return wrapped


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--address", required=True)
    parser.add_argument("--task-queue", required=True)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--die-after", default="")
    parser.add_argument("--marker", default="")
    parser.add_argument("--wait-for", default="", help="poll only once this file exists")
    args = parser.parse_args()
    trust.configure(os.environ["SERVFLOW_ACTOR_KEY"])
    deps = ActivityDeps(session_factory=make_session_factory(make_engine(args.database_url)))
    activities = build_activities(deps)
    if args.die_after:
        marker = Path(args.marker)
        activities = [
            dying_after(fn, args.die_after, marker)
            if activity._Definition.must_from_callable(fn).name == c.ACTIVITY_INVENTORY_TRANSFER
            else fn
            for fn in activities
        ]
    client = await Client.connect(args.address, data_converter=pydantic_data_converter)
    print("worker ready", flush=True)
    while args.wait_for and not Path(args.wait_for).exists():
        await asyncio.sleep(0.05)  # the replacement: started early, polls once the first died
    # No sticky cache: a dead worker's sticky queue would hold the next workflow task ~10 s.
    async with build_worker(
        client, task_queue=args.task_queue, activities=activities, max_cached_workflows=0
    ):
        await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())
