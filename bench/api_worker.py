"""The API bench's worker process: real activities on one queue, instant ones on another."""

from __future__ import annotations

import argparse
import asyncio
import signal

from activities.registry import ActivityDeps, build_activities
from bench.handwritten import HandwrittenFiveSteps
from bench.support import INSTANT_ACTIVITIES
from servflow.platform.db import make_engine, make_session_factory
from servflow.platform.keys import secret
from servflow.platform.settings import get_settings
from servflow.platform.shutdown import exit_now
from servflow.platform.temporal import connect
from worker import build_worker
from workflows import trust


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--real-queue", required=True)
    parser.add_argument("--bare-queue", required=True)
    args = parser.parse_args()
    settings = get_settings()
    trust.configure(secret(settings.actor_key, setting="actor_key", demo=settings.demo))
    client = await connect(settings)
    deps = ActivityDeps(session_factory=make_session_factory(make_engine(settings.database_url)))
    real = build_worker(client, task_queue=args.real_queue, activities=build_activities(deps))
    bare = build_worker(
        client,
        task_queue=args.bare_queue,
        activities=INSTANT_ACTIVITIES,
        workflows=[HandwrittenFiveSteps],
    )
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    async with real, bare:
        print("worker ready", flush=True)
        await stop.wait()


if __name__ == "__main__":
    asyncio.run(main())
    exit_now()
