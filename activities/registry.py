"""The activities the worker registers, built around injected dependencies."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from temporalio import activity

from activities import billing, dispatch, inventory, notify, orders, sla
from activities.support import ActivityDeps
from workflows.constants import (
    ACTIVITY_CLOSE_ORDER,
    ACTIVITY_DISPATCH,
    ACTIVITY_NOTIFY,
    ACTIVITY_RECORD_WAITING,
    ACTIVITY_REPORT,
    ACTIVITY_SETTLEMENT,
    ACTIVITY_SLA_CLOCK,
    ACTIVITY_SLA_ESCALATE,
)
from workflows.contracts import StepInput, StepResult, WaitingStep

__all__ = ["ActivityDeps", "build_activities"]

_IMPLEMENTATIONS: dict[str, Callable[[ActivityDeps, StepInput], StepResult]] = {
    ACTIVITY_REPORT: orders.report,
    ACTIVITY_DISPATCH: dispatch.dispatch,
    ACTIVITY_SETTLEMENT: billing.settlement,
    ACTIVITY_NOTIFY: notify.notify,
    ACTIVITY_CLOSE_ORDER: orders.close_order,
    inventory.c.ACTIVITY_SOURCE_PARTS: inventory.source_parts,
    inventory.c.ACTIVITY_CONSUME_PARTS: inventory.consume_parts,
    ACTIVITY_SLA_CLOCK: sla.clock,
    ACTIVITY_SLA_ESCALATE: sla.escalate,
}


def _wrap(name: str, deps: ActivityDeps) -> Callable[..., Any]:
    implementation = _IMPLEMENTATIONS[name]

    # The database work is blocking; a thread keeps the worker's event loop free, so the
    # worker needs no activity executor.
    async def run(step: StepInput) -> StepResult:
        return await asyncio.to_thread(implementation, deps, step)

    run.__name__ = f"{name}_activity"
    run.__qualname__ = run.__name__
    return activity.defn(name=name)(run)


def _record_waiting(deps: ActivityDeps) -> Callable[..., Any]:
    @activity.defn(name=ACTIVITY_RECORD_WAITING)
    async def record_waiting_activity(step: WaitingStep) -> None:
        await asyncio.to_thread(orders.record_waiting, deps, step)

    return record_waiting_activity


def build_activities(deps: ActivityDeps) -> list[Callable[..., Any]]:
    """One `@activity.defn` per automatic node type, close_order and the local activity
    record_waiting, sharing `deps`."""
    wrapped = [_wrap(name, deps) for name in _IMPLEMENTATIONS]
    return [*wrapped, _record_waiting(deps), *inventory.build(deps), *billing.build(deps)]
