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
            order_ids = list(self._waiters)
            try:
                found = await run_in_threadpool(self._look, order_ids)
            except SQLAlchemyError:
                log.warning("read model not readable; waiting requests retry", exc_info=True)
                found = {}
            for order_id, seen in found.items():
                for waiter in self._waiters.get(order_id, []):
                    wanted = waiter.node_id is None or any(
                        s.node_id == waiter.node_id for s in seen.steps
                    )
                    if (seen.closed or (seen.steps and wanted)) and not waiter.future.done():
                        waiter.future.set_result(seen)
            await asyncio.sleep(self.interval)

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
