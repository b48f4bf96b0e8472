"""`servflow reconcile`: repair the read model from Temporal now (the worker also does it
every `reconcile_every_seconds`)."""

from __future__ import annotations

import argparse
import asyncio
from datetime import timedelta

from servflow import tables  # noqa: F401  (every domain's tables, so relationships resolve)
from servflow.cli.common import say
from servflow.orders.reconcile import DEFAULT_LIMIT, DEFAULT_OLDER_THAN, reconcile
from servflow.platform.db import make_engine, make_session_factory
from servflow.platform.settings import Settings
from servflow.platform.temporal import connect


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "reconcile", help="repair the orders' read model where it fell behind Temporal"
    )
    parser.add_argument("--limit", type=int, default=DEFAULT_LIMIT, help="at most N orders")
    parser.add_argument(
        "--older-than",
        type=float,
        default=DEFAULT_OLDER_THAN.total_seconds(),
        help="only orders whose row has not changed for this many seconds",
    )


def cmd_reconcile(settings: Settings, args: argparse.Namespace) -> int:
    """Runs one reconciler batch and prints its report; 1 when an order could not be
    repaired (see the log), else 0."""
    return asyncio.run(_run(settings, args.limit, timedelta(seconds=args.older_than)))


async def _run(settings: Settings, limit: int, older_than: timedelta) -> int:
    client = await connect(settings)
    engine = make_engine(settings.database_url)
    try:
        report = await reconcile(
            make_session_factory(engine), client, limit=limit, older_than=older_than
        )
    finally:
        engine.dispose()
    say(f"reconcile: {report.summary()}")
    return 1 if report.failed else 0
