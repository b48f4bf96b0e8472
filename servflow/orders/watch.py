"""Long polls on the read model: clients wait for an order's next human step without polling.

Every request waiting on `StepWatch.wait` is answered by one shared query per tick (all
waiting orders at once), so a hundred waiting field apps cost one small query every
`interval` seconds instead of a hundred HTTP round trips, and nothing asks the workflows.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from dataclasses import dataclass, field

from fastapi.concurrency import run_in_threadpool
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from servflow.orders import repo
from servflow.orders.models import WorkOrderStep
from servflow.orders.rules import CLOSED_STATUSES

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
    def __init__(self, session_factory: sessionmaker[Session], *, interval: float = 0.05) -> None:
        self.session_factory, self.interval = session_factory, interval
        self._waiters: dict[str, list[_Waiter]] = defaultdict(list)
        self._ticker: asyncio.Task[None] | None = None

    async def wait(self, order_id: str, *, node_id: str | None, timeout: float) -> Waiting | None:
        """The order's waiting steps once one waits (`node_id`: that one) or the order
        closes; None when `timeout` runs out first."""
        waiter = _Waiter(node_id, asyncio.get_running_loop().create_future())
        self._waiters[order_id].append(waiter)
        if self._ticker is None or self._ticker.done():
            self._ticker = asyncio.create_task(self._tick())
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

    async def now(self, order_id: str) -> Waiting:
        """The order's waiting steps as the read model has them at this moment (an order it
        does not know yet is running, with nothing waiting)."""
        found = await run_in_threadpool(self._look, [order_id])
        return found.get(order_id, Waiting(status="running", closed=False))

    async def _tick(self) -> None:
        while self._waiters:
            # What each order's waiters want, read here on the loop (the query runs in a
            # thread, which must not read the waiters while requests come and go).
            wants = {
                order_id: [w.node_id for w in waiters if not w.future.done()]
                for order_id, waiters in self._waiters.items()
            }
            try:
                found = await run_in_threadpool(self._answer, wants)
            except SQLAlchemyError:
                log.warning("read model not readable; waiting requests retry", exc_info=True)
                found = {}
            for order_id, seen in found.items():
                waiting = {s.node_id for s in seen.steps}
                for waiter in self._waiters.get(order_id, []):
                    if not waiter.future.done() and _answers(waiter.node_id, seen.closed, waiting):
                        waiter.future.set_result(seen)
            await asyncio.sleep(self.interval)

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
