"""Long polls on the read model: clients wait for an order's next human step without polling.

Every request waiting on `StepWatch.wait` is answered by one shared query per tick (all
waiting orders at once), so a hundred waiting field apps cost one small query every
`interval` seconds instead of a hundred HTTP round trips, and nothing asks the workflows.

On PostgreSQL a listener (servflow.orders.notify_pg) calls `wake(order_id)` when a writer on
any replica commits a change to that order: the watch then looks at the woken orders at
once, and while the listener is up the full tick runs only every `fallback` seconds (it
catches a lost notification). While no listener is up, the tick runs every `interval`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import defaultdict
from dataclasses import dataclass, field

from fastapi.concurrency import run_in_threadpool
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from servflow.orders import repo
from servflow.orders.models import WorkOrderStep
from servflow.orders.notify_pg import Listener
from servflow.orders.rules import CLOSED_STATUSES
from servflow.platform.settings import Settings

log = logging.getLogger(__name__)
_BATCH = 500  # order ids per query: well under every driver's bound-parameter limit


@dataclass(frozen=True)
class Waiting:
    """What a waiter learns: the order's waiting human steps, or that it closed."""

    status: str
    closed: bool
    steps: list[WorkOrderStep] = field(default_factory=list)


@dataclass
class _Waiter:
    node_id: str | None
    future: asyncio.Future[Waiting]


class StepWatch:
    def __init__(
        self,
        session_factory: sessionmaker[Session],
        *,
        interval: float = 0.05,
        fallback: float = 5.0,
    ) -> None:
        self.session_factory, self.interval, self.fallback = session_factory, interval, fallback
        self.listening = False  # a listener is up: wakes come from it, the tick is the fallback
        self.ticks = 0  # queries run for waiters (tests wait on it; bench counts it)
        self._waiters: dict[str, list[_Waiter]] = defaultdict(list)
        self._ticker: asyncio.Task[None] | None = None
        self._woken: set[str] = set()
        self._wake = asyncio.Event()
        # Monotonic time of the last tick over every watched order; None: never, so the
        # next tick is a full one (monotonic time counts from boot and may be small).
        self._full_at: float | None = None

    def wake(self, order_id: str) -> bool:
        """Looks at `order_id` at once if someone waits on it (a listener heard a change);
        an order nobody here waits on is ignored. Returns whether someone waits."""
        if order_id not in self._waiters:
            return False
        self._woken.add(order_id)
        self._wake.set()
        return True

    def listener_up(self, up: bool) -> None:
        """The listener (re)connected or dropped: either way every watched order is looked
        at now (notifications sent while it was down are lost), and the tick's period
        follows (`fallback` while up, `interval` while down)."""
        self.listening = up
        self._full_at = None
        self._wake.set()

    async def wait(self, order_id: str, *, node_id: str | None, timeout: float) -> Waiting | None:
        """The order's waiting steps once one waits (`node_id`: that one) or the order
        closes; None when `timeout` runs out first."""
        waiter = _Waiter(node_id, asyncio.get_running_loop().create_future())
        self._waiters[order_id].append(waiter)
        if self._ticker is None or self._ticker.done():
            self._wake = asyncio.Event()  # of this loop (an app may outlive a test's loop)
            self._ticker = asyncio.create_task(self._tick())
        elif self.listening:
            self.wake(order_id)  # the tick is slow now: look at the new waiter's order at once
        try:
            return await asyncio.wait_for(asyncio.shield(waiter.future), timeout)
        except TimeoutError:
            return None
        finally:
            waiters = self._waiters.get(order_id, [])
            if waiter in waiters:
                waiters.remove(waiter)
                if not waiters:
                    del self._waiters[order_id]
                    if not self._waiters:
                        self._wake.set()  # the ticker stops now, not after its period

    async def now(self, order_id: str) -> Waiting:
        """The order's waiting steps as the read model has them at this moment (an order it
        does not know yet is running, with nothing waiting)."""
        found = await run_in_threadpool(self._look, [order_id])
        return found.get(order_id, Waiting(status="running", closed=False))

    async def _tick(self) -> None:
        self._full_at = None
        while self._waiters:
            self._wake.clear()
            period = self.fallback if self.listening else self.interval
            full = self._full_at is None or time.monotonic() - self._full_at >= period
            if full:
                self._full_at = time.monotonic()
            woken, self._woken = self._woken, set()
            # What each order's waiters want, read here on the loop (the query runs in a
            # thread, which must not read the waiters while requests come and go).
            wants = {
                order_id: [w.node_id for w in waiters if not w.future.done()]
                for order_id, waiters in self._waiters.items()
                if full or order_id in woken
            }
            try:
                self.ticks += 1 if wants else 0
                found = await run_in_threadpool(self._answer, wants) if wants else {}
            except SQLAlchemyError:
                log.warning("read model not readable; waiting requests retry", exc_info=True)
                found = {}
            for order_id, seen in found.items():
                waiting = {s.node_id for s in seen.steps}
                for waiter in self._waiters.get(order_id, []):
                    if not waiter.future.done() and _answers(waiter.node_id, seen.closed, waiting):
                        waiter.future.set_result(seen)
            period = self.fallback if self.listening else self.interval
            due = (self._full_at or 0.0) + period - time.monotonic()
            if due > 0 and self._waiters:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), due)

    def _answer(self, wants: dict[str, list[str | None]]) -> dict[str, Waiting]:
        """How the orders a waiter can be answered about look now. One light query of plain
        rows for every watched order (most ticks find nothing new), then the waiting steps'
        full rows only for the orders with a waiter to answer."""
        order_ids, due = list(wants), []
        for start in range(0, len(order_ids), _BATCH):
            with self.session_factory() as session:
                rows = repo.waiting_node_ids_of(
                    session, order_ids=order_ids[start : start + _BATCH]
                )
            seen: dict[str, tuple[bool, set[str]]] = {}
            for order_id, status, node_id in rows:
                _, nodes = seen.setdefault(order_id, (status in CLOSED_STATUSES, set()))
                if node_id is not None:
                    nodes.add(node_id)
            due += [
                order_id
                for order_id, (closed, nodes) in seen.items()
                if any(_answers(node_id, closed, nodes) for node_id in wants[order_id])
            ]
        return self._look(due) if due else {}

    def _look(self, order_ids: list[str]) -> dict[str, Waiting]:
        found: dict[str, Waiting] = {}
        for start in range(0, len(order_ids), _BATCH):
            found.update(self._look_batch(order_ids[start : start + _BATCH]))
        return found

    def _look_batch(self, order_ids: list[str]) -> dict[str, Waiting]:
        with self.session_factory() as session:
            statuses, steps = repo.open_steps_of(session, order_ids=order_ids)
        by_order: dict[str, list[WorkOrderStep]] = defaultdict(list)
        for step in steps:
            by_order[step.order_id].append(step)
        return {
            order_id: Waiting(
                status=status,
                closed=status in CLOSED_STATUSES,
                steps=[] if status in CLOSED_STATUSES else by_order[order_id],
            )
            for order_id, status in statuses.items()
        }


def _answers(node_id: str | None, closed: bool, waiting: set[str]) -> bool:
    """Whether a waiter for `node_id` (None: any step) is answered by an order that is
    `closed` or has the steps `waiting` waiting."""
    return closed or (bool(waiting) and (node_id is None or node_id in waiting))


def start_step_listener(
    watch: StepWatch, session_factory: sessionmaker[Session], settings: Settings
) -> Listener | None:
    """Starts the process's LISTEN connection (PostgreSQL, unless `step_watch_listen` is
    off) waking `watch`, whose tick becomes the slower fallback; None on SQLite. Called from
    the app's lifespan, which stops it."""
    bind = session_factory.kw.get("bind")
    if not settings.step_watch_listen or bind is None or bind.dialect.name != "postgresql":
        return None
    watch.fallback = settings.step_watch_fallback_seconds
    listener = Listener(
        bind.url.render_as_string(hide_password=False), watch.wake, watch.listener_up
    )
    listener.start()
    return listener
