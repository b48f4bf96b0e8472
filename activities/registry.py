"""The activities the worker registers, built around injected dependencies."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from temporalio import activity

from activities import dispatch, notify, orders, settlement
from activities.common import ActivityDeps
from workflows.constants import (
    ACTIVITY_CLOSE_ORDER,
    ACTIVITY_DISPATCH,
    ACTIVITY_NOTIFY,
    ACTIVITY_REPORT,
    ACTIVITY_SETTLEMENT,
)
from workflows.contracts import StepInput, StepResult

__all__ = ["ActivityDeps", "build_activities"]

_IMPLEMENTATIONS: dict[str, Callable[[ActivityDeps, StepInput], StepResult]] = {
    ACTIVITY_REPORT: orders.report,
    ACTIVITY_DISPATCH: dispatch.dispatch,
    ACTIVITY_SETTLEMENT: settlement.settlement,
    ACTIVITY_NOTIFY: notify.notify,
    ACTIVITY_CLOSE_ORDER: orders.close_order,
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


def build_activities(deps: ActivityDeps) -> list[Callable[..., Any]]:
    """One `@activity.defn` per automatic node type (and close_order), sharing `deps`."""
    return [_wrap(name, deps) for name in _IMPLEMENTATIONS]
