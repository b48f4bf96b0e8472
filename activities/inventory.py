"""inventory: the transfer saga's steps, the safety-stock scan, and the parts and consume
nodes of an order (servflow.inventory)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from temporalio import activity
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    ScheduleSpec,
)
from temporalio.exceptions import ApplicationError

from activities.support import ActivityDeps, business_rules
from servflow.inventory import service
from servflow.orders import steps
from servflow.platform.errors import AppError
from workflows import constants as c
from workflows.contracts import StepInput, StepResult, TransferState, TransferStep

SCAN_SCHEDULE_ID = "inventory-safety-scan"


def _state(view: service.TransferView) -> TransferState:
    t = view.transfer
    return TransferState(
        code=t.code,
        status=t.status,  # type: ignore[arg-type]
        source=view.source.code,
        destination=view.destination.code,
        sku=view.part.sku,
        qty=t.qty,
        carrier=t.carrier,
        tracking_no=t.tracking_no,
        order_id=t.order_id,
        error=t.reason,
    )


def transfer_step(deps: ActivityDeps, step: TransferStep) -> TransferState:
    """One step of the saga in one transaction; each is idempotent (journal keys)."""
    t, now = step.transfer, deps.clock()
    try:
        with deps.session_factory() as session:
            if step.action == "open":
                view = service.open_transfer(
                    session,
                    code=t.code,
                    order_id=t.order_id,
                    line_key=t.line_key,
                    sku=t.sku,
                    qty=t.qty,
                    source=t.source,
                    destination=t.destination,
                    now=now,
                )
            elif step.action == "ship":
                view = service.ship_transfer(
                    session,
                    code=t.code,
                    carrier=step.carrier,
                    tracking_no=step.tracking_no,
                    now=now,
                    actor=step.actor,
                )
            elif step.action == "receive":
                view = service.receive_transfer(session, code=t.code, now=now, actor=step.actor)
            else:
                view = service.cancel_transfer(session, code=t.code, reason=step.reason, now=now)
            state = _state(view)
            session.commit()
            return state
    except AppError as exc:
        raise ApplicationError(
            exc.message, exc.extra, type=c.ERROR_BUSINESS_RULE, non_retryable=True
        ) from exc


def scan(deps: ActivityDeps) -> int:
    with deps.session_factory() as session:
        checked = service.scan_safety(session, now=deps.clock())
        session.commit()
    return checked


@business_rules
def source_parts(deps: ActivityDeps, step: StepInput) -> StepResult:
    return steps.run_step(
        deps.session_factory,
        step,
        activity=c.ACTIVITY_SOURCE_PARTS,
        effect=service.source_for_order,
        clock=deps.clock,
    )[0]


@business_rules
def consume_parts(deps: ActivityDeps, step: StepInput) -> StepResult:
    return steps.run_step(
        deps.session_factory,
        step,
        activity=c.ACTIVITY_CONSUME_PARTS,
        effect=service.consume_for_step,
        clock=deps.clock,
    )[0]


def build(deps: ActivityDeps) -> list[Callable[..., Any]]:
    """The transfer and scan activities (the node activities go through the registry)."""

    @activity.defn(name=c.ACTIVITY_INVENTORY_TRANSFER)
    async def inventory_transfer_activity(step: TransferStep) -> TransferState:
        return await asyncio.to_thread(transfer_step, deps, step)

    @activity.defn(name=c.ACTIVITY_INVENTORY_SCAN)
    async def inventory_scan_activity() -> int:
        return await asyncio.to_thread(scan, deps)

    return [inventory_transfer_activity, inventory_scan_activity]


async def ensure_scan_schedule(
    client: Client, *, task_queue: str, every: timedelta = timedelta(hours=1)
) -> None:
    """Creates the Temporal Schedule that runs the safety-stock scan `every` (once; an
    existing schedule is left as it is)."""
    with contextlib.suppress(ScheduleAlreadyRunningError):
        await client.create_schedule(
            SCAN_SCHEDULE_ID,
            Schedule(
                action=ScheduleActionStartWorkflow(
                    c.INVENTORY_SCAN_WORKFLOW, id=SCAN_SCHEDULE_ID, task_queue=task_queue
                ),
                spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=every)]),
            ),
        )
