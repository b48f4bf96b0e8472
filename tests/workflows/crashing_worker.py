"""A worker process for the crash test: real activities on a SQLite file.

With --die-after-commit NAME it SIGKILLs itself the first time activity NAME has committed
its effect but before the result reaches Temporal: the worst moment for double-counting.
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
from workflows import trust
from workflows.contracts import StepInput, StepResult


def dying_after_commit(real: Any, name: str, marker: Path) -> Any:
    @activity.defn(name=name)
    async def wrapped(step: StepInput) -> StepResult:
        result: StepResult = await real(step)
        if not marker.exists():
            marker.write_text(step.idempotency_key)
            os.kill(os.getpid(), signal.SIGKILL)
        return result

    return wrapped


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--address", required=True)
    parser.add_argument("--task-queue", required=True)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--die-after-commit", default="")
    parser.add_argument("--marker", default="")
    args = parser.parse_args()
    # The test session's actor key, inherited from the pytest process (tests/conftest.py).
    trust.configure(os.environ["SERVFLOW_ACTOR_KEY"])
    deps = ActivityDeps(session_factory=make_session_factory(make_engine(args.database_url)))
    activities = build_activities(deps)
    if args.die_after_commit:
        marker = Path(args.marker)
        activities = [
            dying_after_commit(fn, args.die_after_commit, marker)
            if activity._Definition.must_from_callable(fn).name == args.die_after_commit
            else fn
            for fn in activities
        ]
    client = await Client.connect(args.address, data_converter=pydantic_data_converter)
    async with build_worker(client, task_queue=args.task_queue, activities=activities):
        print("worker ready", flush=True)
        await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())
