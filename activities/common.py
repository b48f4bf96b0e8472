"""What every step activity shares: one transaction, once-only effect, read-model upkeep."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from temporalio.exceptions import ApplicationError

from servflow.billing.rules import ENGINEER_SHARE
from servflow.dispatch.repo import add_load
from servflow.notify.notifier import LoggingNotifier, Notifier
from servflow.orders import repo as orders
from servflow.orders.models import WorkOrder
from servflow.org import repo as org
from servflow.org.models import OrgUnit
from servflow.platform import effects
from servflow.platform.base import utcnow
from workflows.contracts import StepInput, StepResult, TimelineEntry, WaitingStep

log = logging.getLogger(__name__)

BUSINESS_RULE = "BusinessRuleViolation"
_ATTEMPTS = 5


@dataclass
class ActivityDeps:
    """What the activities need from outside, injected by worker.py and the tests."""

    session_factory: sessionmaker[Session]
    clock: Callable[[], datetime] = utcnow
    notifier: Notifier = field(default_factory=LoggingNotifier)
    engineer_share: Decimal = ENGINEER_SHARE


def business_error(message: str) -> ApplicationError:
    """A failure retrying cannot fix: the workflow sees it at once, with this message."""
    return ApplicationError(message, type=BUSINESS_RULE, non_retryable=True)


Effect = Callable[[Session, StepInput, datetime, WorkOrder], StepResult]


def run_step(
    deps: ActivityDeps,
    step: StepInput,
    *,
    activity: str,
    effect: Effect,
    lock_order: bool = False,
) -> tuple[StepResult, bool]:
    """Applies `effect` once per idempotency key, with the read-model writes, in one transaction.

    The transaction claims the key first (`servflow.platform.effects.claim`), then runs the effect,
    upserts the order row, records the steps the read model has not seen and this step's own
    row, closes the order when `step.final`, stores the result and commits. A retry after a
    crash, or a concurrent execution of the same key, returns the stored result instead.

    Returns:
        The result and whether this call applied the effect (False: it was stored already).
    """
    for attempt in range(1, _ATTEMPTS + 1):
        try:
            return _run_once(deps, step, activity=activity, effect=effect, lock_order=lock_order)
        except IntegrityError:
            # Someone else committed the same key (or the same new row) first: use theirs.
            stored = _stored(deps, step.idempotency_key)
            if stored is not None:
                return stored, False
            if attempt == _ATTEMPTS:
                raise
        except OperationalError as exc:
            if "locked" not in str(exc).lower() or attempt == _ATTEMPTS:
                raise
            log.warning("database locked, retrying %s (%s)", step.idempotency_key, attempt)
        time.sleep(0.05 * attempt)
    raise AssertionError("unreachable")


def _stored(deps: ActivityDeps, key: str) -> StepResult | None:
    with deps.session_factory() as session:
        stored = effects.stored_result(session, idempotency_key=key)
    return StepResult.model_validate(stored) if stored is not None else None


def _run_once(
    deps: ActivityDeps, step: StepInput, *, activity: str, effect: Effect, lock_order: bool
) -> tuple[StepResult, bool]:
    with deps.session_factory() as session:
        started = deps.clock()
        if not effects.claim(
            session, idempotency_key=step.idempotency_key, activity=activity, now=started
        ):
            stored = effects.stored_result(session, idempotency_key=step.idempotency_key)
            session.rollback()
            if stored is None:
                raise RuntimeError(f"effect {step.idempotency_key} claimed without a result")
            return StepResult.model_validate(stored), False
        order = orders.ensure_order(
            session,
            order_id=step.order_id,
            now=started,
            defaults=order_defaults(step),
            lock=lock_order,
        )
        result = effect(session, step, started, order)
        finished = deps.clock()
        _update_order(session, step, order, finished)
        _record_steps(session, step, result, started, finished)
        effects.save_result(
            session, idempotency_key=step.idempotency_key, result=result.model_dump(mode="json")
        )
        session.commit()
        return result, True


def order_defaults(step: StepInput | WaitingStep) -> dict[str, Any]:
    """The columns of a new read-model order row, from what a step knows of its order."""
    return {
        "definition_key": step.definition_key,
        "definition_version": step.definition_version,
        "region": step.context.region,
        "priority": step.context.priority,
        "started_by": step.context.started_by,
        "status": step.status,
        "current_node": step.node_id,
    }


def resolve_units(session: Session, step: StepInput) -> tuple[OrgUnit | None, OrgUnit | None]:
    """The order's region and outlet units named by its context (either may be unknown)."""
    outlet = (
        org.get_unit_by_code(session, code=step.context.outlet) if step.context.outlet else None
    )
    region = None
    if step.context.region:
        region = org.find_region(session, code_or_name=step.context.region)
    if region is None and outlet is not None:
        region = org.region_of(session, unit=outlet)
    return region, outlet


def _update_order(session: Session, step: StepInput, order: WorkOrder, now: datetime) -> None:
    if not order.org_path:
        region, outlet = resolve_units(session, step)
        unit = outlet or region
        if unit is not None:
            order.org_path = unit.path
            order.outlet_id = outlet.id if outlet else order.outlet_id
        if region is not None:
            order.region = region.code
    if step.definition_key:
        order.definition_key = step.definition_key
        order.definition_version = step.definition_version
    order.current_node = step.node_id
    order.updated_at = now
    if step.final and step.status not in ("cancelled", "failed"):
        order.status = "completed"
    else:
        order.status = step.status
    if step.final and order.completed_at is None:
        order.completed_at = now
        # A cancelled or failed order leaves no step waiting in the read model.
        orders.close_waiting_steps(session, order_id=step.order_id, now=now, outcome=order.status)
        if order.current_engineer_id is not None:
            # The job is over: the engineer's open-job count goes back down.
            add_load(session, engineer_id=order.current_engineer_id, delta=-1)
    session.flush()


def timeline_rows(entries: Iterable[TimelineEntry]) -> list[dict[str, Any]]:
    """Read-model step rows for timeline entries the read model has not seen."""
    return [
        {
            "node_id": e.node_id,
            "node_type": e.node_type,
            "visit": e.visit,
            "actor": e.actor,
            "outcome": e.outcome,
            "data": e.model_dump(mode="json")["data"],
            "started_at": e.started_at,
            "completed_at": e.completed_at,
        }
        for e in entries
    ]


def _record_steps(
    session: Session, step: StepInput, result: StepResult, started: datetime, finished: datetime
) -> None:
    rows = timeline_rows(step.unrecorded_steps)
    rows.append(
        {
            "node_id": step.node_id,
            "node_type": step.node_type,
            "visit": step.visit,
            "actor": "system",
            "outcome": "done",
            "data": result.model_dump(mode="json")["output"],
            "started_at": started,
            "completed_at": finished,
        }
    )
    orders.record_steps(session, order_id=step.order_id, steps=rows)
