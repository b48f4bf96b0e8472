"""The read model catches up: repairs where it diverged from Temporal.

A read-model write never fails an order (the interpreter goes on when `record_waiting`
gives up), so the read model can fall behind: a human step that waits in the workflow but
not in `/waiting` or "my tasks", or an order Temporal closed (terminated, or its last write
failed) that the read model still shows running. `reconcile` asks Temporal about the open
orders the read model has not heard of for a while and writes, through
servflow.orders.steps (the one writer), what it lacks. Temporal is the source of truth for
where an order stands; the read model only ever follows it.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client
from temporalio.service import RPCError

from servflow.orders import engine, repo, steps
from servflow.orders.rules import CLOSED_STATUSES
from servflow.platform.base import utcnow

log = logging.getLogger(__name__)

DEFAULT_LIMIT = 200
# Younger rows may have a write in flight; the reconciler leaves them to their writer.
DEFAULT_OLDER_THAN = timedelta(minutes=2)
ORDER_TIMEOUT = timedelta(seconds=15)
# This many orders in a row without an answer: Temporal or every worker is down, and the
# rest of the batch would only wait out its timeouts too.
GIVE_UP_AFTER = 3
UNREACHABLE = "unreachable"
UNKNOWN = "unknown"
Cursor = tuple[datetime, int]


@dataclass
class ReconcileReport:
    """What one reconciler run did, order by order."""

    checked: int = 0
    repaired: Counter[str] = field(default_factory=Counter)
    """Orders repaired, by kind: "waiting", "steps", "closed"."""
    repaired_orders: int = 0
    unchanged: int = 0
    unreachable: int = 0
    """No answer from Temporal, or no worker answered the order's `state` query."""
    unknown: int = 0
    """Temporal knows no such order (never started, or past retention): left as it is."""
    failed: int = 0
    stopped_early: bool = False
    cursor: Cursor | None = None
    """Where the run stopped: the next run continues after it."""

    def add(self, kinds: list[str]) -> None:
        self.checked += 1
        if kinds == [UNREACHABLE]:
            self.unreachable += 1
        elif kinds == [UNKNOWN]:
            self.unknown += 1
        elif kinds:
            self.repaired_orders += 1
            self.repaired.update(kinds)
        else:
            self.unchanged += 1

    def summary(self) -> str:
        kinds = ", ".join(f"{kind} {n}" for kind, n in sorted(self.repaired.items()))
        text = (
            f"checked {self.checked}, repaired {self.repaired_orders}"
            f"{f' ({kinds})' if kinds else ''}, unchanged {self.unchanged}, "
            f"unreachable {self.unreachable}, unknown to Temporal {self.unknown}, "
            f"failed {self.failed}"
        )
        return text + ("; stopped early: Temporal did not answer" if self.stopped_early else "")


async def reconcile(
    session_factory: sessionmaker[Session],
    client: Client,
    *,
    limit: int,
    older_than: timedelta,
    after: Cursor | None = None,
    order_timeout: timedelta = ORDER_TIMEOUT,
) -> ReconcileReport:
    """Repairs the read model of open orders not updated for `older_than`, oldest first.

    Each order is asked of Temporal (`describe`, then the `state` query of a running one)
    within `order_timeout`; one order's failure is logged and the run goes on. After
    GIVE_UP_AFTER unanswered orders in a row the run stops.

    Args:
        session_factory: the read model's database.
        client: the Temporal client.
        limit: at most this many orders.
        older_than: only orders whose row has not changed for this long.
        after: continue after this cursor (a previous report's).
        order_timeout: the most one order may take.

    Returns:
        What was checked and repaired.
    """
    report = ReconcileReport()
    before = utcnow() - older_than
    candidates = await asyncio.to_thread(_candidates, session_factory, before, limit, after)
    silent = 0
    for order_id, cursor in candidates:
        report.cursor = cursor
        try:
            async with asyncio.timeout(order_timeout.total_seconds()):
                kinds = await _reconcile_one(session_factory, client, order_id)
        except (RPCError, TimeoutError) as err:
            log.warning("reconcile: order %s: Temporal did not answer (%r)", order_id, err)
            kinds = [UNREACHABLE]
        except Exception:  # one order's failure must not stop the others
            log.exception("reconcile: order %s could not be repaired", order_id)
            report.checked += 1
            report.failed += 1
            continue
        report.add(kinds)
        silent = silent + 1 if kinds == [UNREACHABLE] else 0
        if silent >= GIVE_UP_AFTER:
            report.stopped_early = True
            break
    return report


def _candidates(
    session_factory: sessionmaker[Session], before: datetime, limit: int, after: Cursor | None
) -> list[tuple[str, Cursor]]:
    with session_factory() as session:
        rows = repo.stale_open_orders(session, before=before, limit=limit, after=after)
    return [(order_id, (updated_at, row_id)) for order_id, updated_at, row_id in rows]


async def _reconcile_one(
    session_factory: sessionmaker[Session], client: Client, order_id: str
) -> list[str]:
    """The repairs made to one order: a closed order is closed; a running one gets the
    steps it completed and the human steps it waits for."""
    known = await engine.described(client, order_id)
    if known is None:
        return [UNKNOWN]
    if known.status in CLOSED_STATUSES:
        closed = await asyncio.to_thread(
            steps.close_from_temporal,
            session_factory,
            order_id=order_id,
            status=known.status,
            now=utcnow(),
        )
        return ["closed"] if closed else []
    asked_at = utcnow()
    state = await engine.live_state(client, order_id)
    if state is None:
        return [UNREACHABLE]
    if state.status in CLOSED_STATUSES:
        return []  # closing right now: its own close step writes it, or the next run does
    return await asyncio.to_thread(
        steps.repair_from_state, session_factory, state, asked_at=asked_at, now=utcnow()
    )


async def reconcile_forever(
    session_factory: sessionmaker[Session],
    client: Client,
    *,
    every: float,
    limit: int = DEFAULT_LIMIT,
    older_than: timedelta = DEFAULT_OLDER_THAN,
) -> None:
    """Runs `reconcile` now and then every `every` seconds until cancelled (the worker's
    background task). Each run continues where the last full batch stopped, so every open
    order is reached in turn however many there are."""
    cursor: Cursor | None = None
    while True:
        try:
            report = await reconcile(
                session_factory, client, limit=limit, older_than=older_than, after=cursor
            )
        except Exception:  # the database may be down for a while: try again next time
            log.exception("reconcile: run failed")
            cursor = None
        else:
            full = report.checked >= limit and not report.stopped_early
            cursor = report.cursor if full else None
            if report.checked:
                log.info("reconcile: %s", report.summary())
        await asyncio.sleep(every)
