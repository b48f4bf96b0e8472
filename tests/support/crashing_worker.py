"""A worker process for the crash tests: the real activities on a database URL, one of them
made to SIGKILL the process the first time it has committed its effect but before its
result reaches Temporal — the worst moment for an effect to be applied twice.

A test's own worker module (tests/workflows/crashing_worker.py,
tests/inventory/crashing_worker.py) says which activity dies on which input and calls
`run`; the test starts that module with --address, --task-queue, --database-url, its die
flag and --marker (the file the dying call writes, so it dies once), and reads the line
"worker ready". With --wait-for FILE the worker polls only once FILE exists: a replacement
started early (imports take seconds) that takes over once the first one died.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

from temporalio import activity
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from activities.registry import ActivityDeps, build_activities
from servflow.platform.db import make_engine, make_session_factory
from worker import build_worker
from workflows import trust

CrashPoint = Callable[[Any], str | None]
"""Given the activity's input: the text the marker gets when the process dies after this
call (an id the test checks), else None (this call goes on)."""
Crash = Callable[[str], tuple[str, CrashPoint]]
"""Given the die flag's value: the activity to wrap, and where it dies."""


def dying(real: Any, marker: Path, crash_point: CrashPoint) -> Any:
    """`real` under its own name, SIGKILLing the process once after a call `crash_point`
    picks has returned."""
    definition = activity._Definition.must_from_callable(real)

    async def wrapped(step: Any) -> Any:
        result = await real(step)
        mark = crash_point(step)
        if mark is not None and not marker.exists():
            marker.write_text(mark)
            os.kill(os.getpid(), signal.SIGKILL)
        return result

    # The data converter decodes the input and encodes the result by these hints.
    assert definition.arg_types is not None
    wrapped.__annotations__ = {"step": definition.arg_types[0], "return": definition.ret_type}
    return activity.defn(name=definition.name)(wrapped)


def _arguments(die_flag: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--address", required=True)
    parser.add_argument("--task-queue", required=True)
    parser.add_argument("--database-url", required=True)
    parser.add_argument(die_flag, dest="die", default="")
    parser.add_argument("--marker", default="")
    parser.add_argument("--wait-for", default="", help="poll only once this file exists")
    return parser.parse_args()


def _activities(args: argparse.Namespace, crash: Crash) -> list[Any]:
    deps = ActivityDeps(session_factory=make_session_factory(make_engine(args.database_url)))
    activities = build_activities(deps)
    if not args.die:
        return activities
    name, crash_point = crash(args.die)
    marker = Path(args.marker)
    return [
        dying(fn, marker, crash_point)
        if activity._Definition.must_from_callable(fn).name == name
        else fn
        for fn in activities
    ]


async def _serve(args: argparse.Namespace, crash: Crash, sticky: bool) -> None:
    # The test session's actor key, inherited from the pytest process (tests/conftest.py).
    trust.configure(os.environ["SERVFLOW_ACTOR_KEY"])
    activities = _activities(args, crash)
    client = await Client.connect(args.address, data_converter=pydantic_data_converter)
    print("worker ready", flush=True)
    while args.wait_for and not Path(args.wait_for).exists():
        await asyncio.sleep(0.05)
    # No sticky cache: a dead worker's sticky queue would hold the next workflow task ~10 s.
    cache: dict[str, Any] = {} if sticky else {"max_cached_workflows": 0}
    async with build_worker(client, task_queue=args.task_queue, activities=activities, **cache):
        await asyncio.Event().wait()


def run(*, die_flag: str, crash: Crash, sticky: bool = True) -> None:
    """Parses the command line (the die flag named `die_flag`) and serves until killed."""
    asyncio.run(_serve(_arguments(die_flag), crash, sticky))
