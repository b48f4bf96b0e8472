"""The servflow worker: the interpreter workflow and the activities, on one task queue.

Run `python worker.py` (settings from SERVFLOW_* variables; see settings.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client
from temporalio.worker import Worker

from activities.billing import ensure_run_schedule
from activities.inventory import ensure_scan_schedule
from servflow import tables  # noqa: F401  (every domain's tables, so relationships resolve)
from servflow.integrations.wecom.service import notifier_from_settings
from servflow.notify.sms import with_sms
from servflow.platform.db import make_engine, make_session_factory
from servflow.platform.keys import secret
from servflow.platform.logs import configure_logging
from servflow.platform.settings import Settings, get_settings
from servflow.platform.shutdown import exit_now
from servflow.platform.temporal import connect, metrics_runtime, sandbox_runner
from servflow.platform.tracing import configure_tracing, traced
from workflows import trust
from workflows.registry import WORKFLOWS


def build_worker(
    client: Client,
    *,
    task_queue: str,
    activities: Sequence[Any],
    max_concurrent_activities: int = 100,
    max_concurrent_workflow_tasks: int = 100,
    max_cached_workflows: int = 2000,
    activity_executor: ThreadPoolExecutor | None = None,
    workflows: Sequence[type] = WORKFLOWS,
) -> Worker:
    """The worker every entry point uses: worker.py, the CLI, the tests and the bench."""
    return Worker(
        client,
        task_queue=task_queue,
        workflows=list(workflows),
        activities=list(activities),
        activity_executor=activity_executor,
        workflow_runner=sandbox_runner(),
        max_concurrent_activities=max_concurrent_activities,
        max_concurrent_workflow_tasks=max_concurrent_workflow_tasks,
        max_cached_workflows=max_cached_workflows,
    )


def production_activities(
    settings: Settings, session_factory: sessionmaker[Session], notifier: Any = None
) -> list[Any]:
    from activities.registry import ActivityDeps, build_activities

    deps = ActivityDeps(
        session_factory=session_factory, settlement_ceiling=settings.settlement_ceiling
    )
    if notifier is not None:
        deps.notifier = notifier
    return build_activities(deps)


async def run_worker(settings: Settings, stop: asyncio.Event) -> None:
    # Before the worker polls: the submit_step validators check every step's proof with it.
    trust.configure(secret(settings.actor_key, setting="actor_key", demo=settings.demo))
    client = await connect(settings, runtime=metrics_runtime(settings.worker_metrics_address))
    configure_tracing(settings, "servflow-worker")
    client = traced(client, settings)  # off by default: the same client
    # One pool for the activities and the reconciler.
    session_factory = make_session_factory(make_engine(settings.database_url))
    notifier = with_sms(settings, notifier_from_settings(settings, session_factory))
    worker = build_worker(
        client,
        task_queue=settings.task_queue,
        activities=production_activities(settings, session_factory, notifier),
        max_concurrent_activities=settings.worker_max_concurrent_activities,
        max_concurrent_workflow_tasks=settings.worker_max_concurrent_workflow_tasks,
        max_cached_workflows=settings.worker_max_cached_workflows,
    )
    async with worker:
        logging.info("worker polling %s on %s", settings.task_queue, settings.temporal_address)
        await ensure_run_schedule(client, task_queue=settings.task_queue)
        await ensure_scan_schedule(client, task_queue=settings.task_queue)
        reconciling = start_reconciler(settings, client, session_factory)
        relaying = start_relay(settings, session_factory, notifier)
        intake = start_intake(settings, client, session_factory)
        try:
            await stop.wait()
        finally:
            if intake is not None:
                intake.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await intake
            if relaying is not None:
                relaying.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await relaying
            if reconciling is not None:
                reconciling.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await reconciling
    logging.info("worker stopped")


def start_reconciler(
    settings: Settings, client: Client, session_factory: sessionmaker[Session]
) -> asyncio.Task[None] | None:
    """The background task repairing the read model from Temporal now and then every
    `reconcile_every_seconds` (servflow.orders.reconcile); None when that is 0."""
    if not settings.reconcile_every_seconds:
        return None
    from servflow.orders.reconcile import reconcile_forever

    every = settings.reconcile_every_seconds
    return asyncio.create_task(
        reconcile_forever(session_factory, client, every=every), name="reconcile"
    )


def start_relay(
    settings: Settings, session_factory: sessionmaker[Session], notifier: Any
) -> asyncio.Task[None] | None:
    """The background task delivering the outbox every `notify_relay_every_seconds`
    (servflow.notify.service.relay_forever); None when that is 0."""
    if not settings.notify_relay_every_seconds:
        return None
    from servflow.notify.service import relay_forever
    from servflow.platform.base import utcnow

    relay = relay_forever(
        session_factory,
        notifier,
        every=settings.notify_relay_every_seconds,
        clock=utcnow,
        claim_seconds=settings.notify_claim_seconds,
        max_attempts=settings.notify_max_attempts,
    )
    return asyncio.create_task(relay, name="outbox-relay")


def start_intake(
    settings: Settings, client: Client, session_factory: sessionmaker[Session]
) -> asyncio.Task[None] | None:
    """The background task polling marketplace feeds and turning received messages into
    orders every `intake_every_seconds`; None when that is 0."""
    if not settings.intake_every_seconds:
        return None
    from servflow.integrations.marketplaces.service import intake_forever
    from servflow.platform.base import utcnow

    intake = intake_forever(
        session_factory, client, settings, every=settings.intake_every_seconds, clock=utcnow
    )
    return asyncio.create_task(intake, name="marketplace-intake")


def main() -> None:
    configure_logging(get_settings().log_format)
    stop = asyncio.Event()

    async def serve() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await run_worker(get_settings(), stop)

    asyncio.run(serve())
    # The SDK's threads may outlive asyncio.run; finalizing the interpreter under them has
    # crashed the process (PyGILState_Release), so leave without it once all is stopped.
    exit_now()


if __name__ == "__main__":
    main()
