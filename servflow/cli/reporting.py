"""`servflow reporting rebuild`: recount the reporting counters from every order in the
store (after an upgrade that brings reporting to a store with orders, or to repair them).
Idempotent: each run empties the counters and counts every order again, in one
transaction."""

from __future__ import annotations

import argparse
import time

from servflow import tables  # noqa: F401  (every domain's tables, so relationships resolve)
from servflow.cli.common import say
from servflow.orders.backfill import order_views
from servflow.platform.base import utcnow
from servflow.platform.db import make_engine, make_session_factory
from servflow.platform.settings import Settings
from servflow.reporting import service as reporting


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("reporting", help="the dashboards' counters: recount every order")
    actions = parser.add_subparsers(dest="reporting_command", required=True)
    rebuild = actions.add_parser("rebuild", help="empty the counters and count every order again")
    rebuild.add_argument(
        "--every", type=int, default=10000, help="print progress every N orders (default 10000)"
    )


def cmd_reporting(settings: Settings, args: argparse.Namespace) -> int:
    """Recounts every order; prints progress and a summary; 0 once committed."""
    engine = make_engine(settings.database_url)
    factory = make_session_factory(engine)
    started = time.perf_counter()

    def progress(done: int) -> None:
        say(f"reporting: {done} orders counted ({time.perf_counter() - started:.0f} s)")

    try:
        with factory() as session:
            counted = reporting.rebuild(
                session,
                order_views(session),
                now=utcnow(),
                progress=progress,
                every=max(1, args.every),
            )
            session.commit()
    finally:
        engine.dispose()
    say(f"reporting: rebuilt from {counted} orders in {time.perf_counter() - started:.1f} s")
    return 0
