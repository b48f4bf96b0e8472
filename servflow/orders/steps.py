"""The one writer of the work-order read model's orders and steps.

An automatic step's effect (report here, dispatch, settlement, notify elsewhere) runs inside
`run_step`'s transaction, once per idempotency key; a human step is written when it starts
waiting (`record_waiting`), when the API's Update answer carries it (`record_submitted`) and
when it changes hands (`hand_over`). Each path writes through `_write_timeline`, so a step
row means the same whoever wrote it, and a completed step is never reopened. When these
writes fell behind, the reconciler (servflow.orders.reconcile) repairs through
`repair_from_state` and `close_from_temporal`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from servflow.dispatch import service as dispatch
from servflow.orders import notify_pg, repo
from servflow.orders.models import WorkOrder
from servflow.orders.rules import order_defaults, step_rows
from servflow.org import service as org
from servflow.platform import effects
from servflow.platform.effects import Effect, OrderChanges, OrderFacts
from servflow.reporting import service as reporting
from servflow.reporting.rules import OrderView, StepView
from servflow.sla import service as sla
from workflows.contracts import (
    ActiveNode,
    OrderState,
    StepAccepted,
    StepInput,
    StepResult,
    TimelineEntry,
    WaitingStep,
)

log = logging.getLogger(__name__)

_ATTEMPTS = 5
Clock = Callable[[], datetime]


def facts_of(order: WorkOrder) -> OrderFacts:
    return OrderFacts(
        order_id=order.order_id,
        order_no=order.order_no,
        region=order.region,
        org_path=order.org_path,
        outlet_id=order.outlet_id,
        customer_id=order.customer_id,
        engineer_id=order.current_engineer_id,
        fault=order.fault,
    )


def run_step(
    session_factory: sessionmaker[Session],
    step: StepInput,
    *,
    activity: str,
    effect: Effect,
    clock: Clock,
    lock_order: bool = False,
) -> tuple[StepResult, bool]:
    """Applies `effect` once per idempotency key, with the read-model writes, in one transaction.

    The transaction claims the key first (`servflow.platform.effects.claim`), then runs the
    effect, applies its order changes, records the steps the read model has not seen and
    this step's own row, closes the order when `step.final`, stores the result and commits.
    A retry after a crash, or a concurrent execution of the same key, returns the stored
    result instead.

    Returns:
        The result and whether this call applied the effect (False: it was stored already).
    """
    for attempt in range(1, _ATTEMPTS + 1):
        try:
            return _run_once(session_factory, step, activity, effect, clock, lock_order)
        except IntegrityError:
            # Someone else committed the same key (or the same new row) first: use theirs.
            stored = _stored(session_factory, step.idempotency_key)
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


def _stored(session_factory: sessionmaker[Session], key: str) -> StepResult | None:
    with session_factory() as session:
        stored = effects.stored_result(session, idempotency_key=key)
    return StepResult.model_validate(stored) if stored is not None else None


def _run_once(
    session_factory: sessionmaker[Session],
    step: StepInput,
    activity: str,
    effect: Effect,
    clock: Clock,
    lock_order: bool,
) -> tuple[StepResult, bool]:
    with session_factory() as session:
        started = clock()
        key = step.idempotency_key
        if not effects.claim(session, idempotency_key=key, activity=activity, now=started):
            stored = effects.stored_result(session, idempotency_key=key)
            session.rollback()
            if stored is None:
                raise RuntimeError(f"effect {key} claimed without a result")
            return StepResult.model_validate(stored), False
        order = repo.ensure_order(
            session,
            order_id=step.order_id,
            now=started,
            defaults={**order_defaults(step), "sandbox": step.sandbox},
            lock=lock_order,
        )
        outcome = effect(session, step, started, facts_of(order))
        finished = clock()
        _move_order(session, step, order, outcome.changes, finished)
        own = TimelineEntry(
            node_id=step.node_id,
            node_type=step.node_type,
            visit=step.visit,
            actor="system",
            outcome="done",
            data=outcome.result.model_dump(mode="json")["output"],
            started_at=started,
            completed_at=finished,
        )
        own_rows = [own] if _is_the_node_step(step) else []
        _write_timeline(session, step.order_id, [*step.unrecorded_steps, *own_rows])
        _report(session, order, finished, settled=outcome.result.output)
        effects.save_result(
            session, idempotency_key=key, result=outcome.result.model_dump(mode="json")
        )
        if step.final:
            notify_pg.notify(session, step.order_id)  # on commit: long polls wake
        session.commit()
        return outcome.result, True


def _is_the_node_step(step: StepInput) -> bool:
    """False for an SLA notice or escalation (node type `<type>:sla…`): it runs under the
    node's id and visit beside the step still waiting, and written as that step it would
    complete it (issue 11)."""
    return not step.node_type.partition(":")[2].startswith("sla")


def _place(session: Session, step: StepInput, order: WorkOrder) -> None:
    """An order no step has placed yet belongs where its context says."""
    units = org.units_of(session, region=step.context.region, outlet=step.context.outlet)
    if units.unit is not None:
        order.org_path = units.unit.path
        order.outlet_id = units.outlet.id if units.outlet else order.outlet_id
    if units.region is not None:
        order.region = units.region.code


def _move_order(
    session: Session, step: StepInput, order: WorkOrder, changes: OrderChanges, now: datetime
) -> None:
    for column, value in changes.columns().items():
        if column != "order_no" or order.order_no is None:
            setattr(order, column, value)
    if not order.org_path:
        _place(session, step, order)
    if step.definition_key:
        order.definition_key = step.definition_key
        order.definition_version = step.definition_version
    order.current_node = step.node_id
    order.updated_at = now
    order.sandbox = order.sandbox or step.sandbox
    final_ok = step.final and step.status not in ("cancelled", "failed")
    order.status = "completed" if final_ok else step.status
    if step.final and order.completed_at is None:
        _close(session, order, now)
    session.flush()


def _close(session: Session, order: WorkOrder, now: datetime) -> None:
    """Closes an open order with the status it has: nothing of it waits any more, and its
    engineer's slot is free (the caller checked `completed_at`, so this happens once)."""
    order.completed_at = now
    # A cancelled or failed order leaves no step waiting in the read model.
    repo.close_waiting_steps(session, order_id=order.order_id, now=now, outcome=order.status)
    sla.close_clocks(session, order_id=order.order_id, done=None, now=now)
    dispatch.release_slot(session, engineer_id=order.current_engineer_id)


def _report(
    session: Session,
    order: WorkOrder | None,
    now: datetime,
    *,
    settled: dict[str, Any] | None = None,
) -> None:
    """Keeps the reporting counters (servflow.reporting) in step with the order, in the same
    transaction as the write that moved it."""
    if order is None:
        return
    session.flush()
    view = OrderView(
        order_id=order.order_id,
        org_path=order.org_path,
        status=order.status,
        created_at=order.created_at,
        definition_key=order.definition_key,
        definition_version=order.definition_version,
        completed_at=order.completed_at,
        sandbox=order.sandbox,
    )
    steps = [
        StepView(
            node_id=row.node_id,
            node_type=row.node_type,
            visit=row.visit,
            started_at=row.started_at,
            completed_at=row.completed_at,
            sla_deadline=row.sla_deadline,
            outcome=row.outcome,
            data=row.data or {},
        )
        for row in repo.list_steps(session, order_id=order.order_id)
    ]
    reporting.order_moved(session, order=view, steps=steps, now=now, settled=settled)


def _write_timeline(session: Session, order_id: str, entries: Iterable[TimelineEntry]) -> None:
    """Completed visits: new ones inserted, a waiting one completed, a completed one kept."""
    entries = list(entries)
    repo.record_steps(session, order_id=order_id, steps=step_rows(entries))
    done = [(e.node_id, e.visit, e.completed_at) for e in entries if e.completed_at is not None]
    if done:  # a completed step's SLA clock stops (servflow.sla)
        sla.close_clocks(session, order_id=order_id, done=done, now=done[-1][2])


def record_waiting(session_factory: sessionmaker[Session], step: WaitingStep, clock: Clock) -> None:
    """Writes a human step the moment it starts waiting, with whom it waits for and its SLA
    deadline, and the steps before it not yet written, in one transaction.

    Idempotent: a retry writes the same rows; a step completed meanwhile stays completed.
    """
    with session_factory() as session:
        now = clock()
        moved = repo.move_open_order(
            session, order_id=step.order_id, node_id=step.node_id, status=step.status, now=now
        )
        if not moved:
            _open_order_row(session, step, now)
        _write_timeline(session, step.order_id, step.unrecorded_steps)
        repo.record_waiting_step(session, order_id=step.order_id, step=_waiting_row(step))
        _report(session, repo.lock_order(session, order_id=step.order_id), now)
        notify_pg.notify(session, step.order_id)
        session.commit()


def _open_order_row(session: Session, step: WaitingStep, now: datetime) -> None:
    """Creates the row of an order that reached a human step before any activity wrote it
    (a pipeline that starts with one); a closed order's row is left as it is."""
    order = repo.ensure_order(
        session, order_id=step.order_id, now=now, defaults=order_defaults(step), lock=True
    )
    if order.completed_at is None:
        order.current_node, order.status, order.updated_at = step.node_id, step.status, now


def open_test_run(
    session: Session,
    *,
    order_id: str,
    definition_key: str,
    definition_version: int,
    region: str,
    org_path: str,
    started_by: str,
    now: datetime,
) -> None:
    """Writes a designer's test run as a sandbox order before its workflow starts.

    Every later writer finds the row and leaves `sandbox` as it is, so the order is kept out
    of lists, tasks and totals from its first step (a human one included), whatever carries
    the flag after it.
    """
    order = repo.ensure_order(
        session,
        order_id=order_id,
        now=now,
        defaults={
            "definition_key": definition_key,
            "definition_version": definition_version,
            "region": region,
            "org_path": org_path,
            "started_by": started_by,
            "status": "running",
            "sandbox": True,
        },
    )
    order.sandbox = True
    session.commit()


def record_submitted(
    session: Session, *, order_id: str, accepted: StepAccepted, now: datetime
) -> None:
    """Writes the step the `submit_step` Update accepted (idempotent on order/node/visit)."""
    if accepted.step is None:
        return
    # Lock the order row first, as the activities do, so the two writers queue up instead
    # of deadlocking (the step's foreign key would otherwise wait on their row lock).
    repo.ensure_order(
        session,
        order_id=order_id,
        now=now,
        lock=True,
        defaults={
            "definition_key": accepted.definition_key,
            "definition_version": accepted.definition_version,
            "region": accepted.context.region,
            "priority": accepted.context.priority,
            "started_by": accepted.context.started_by,
            "status": accepted.status,
        },
    )
    _write_timeline(session, order_id, [accepted.step])
    _report(session, repo.lock_order(session, order_id=order_id), now)
    notify_pg.notify(session, order_id)
    session.commit()


def hand_over(session: Session, *, order_id: str, node_id: str, username: str) -> None:
    """Moves the order's engineer and waiting step to `username` in the read model, so lists,
    the order's steps and "my tasks" follow a reassignment.

    The open-job count moves with it: the order releases its engineer's slot when it closes,
    so the slot must be the new engineer's by then.
    """
    target = org.get_user_by_username(session, username=username)
    engineer_id = dispatch.engineer_id_of(session, user_id=target.id) if target else None
    row = repo.lock_order(session, order_id=order_id)
    if engineer_id is None or row is None or row.completed_at is not None or row.sandbox:
        return  # a test run holds no engineer's slot, so there is none to move
    if row.current_engineer_id == engineer_id:
        return
    dispatch.move_slot(session, from_id=row.current_engineer_id, to_id=engineer_id)
    row.current_engineer_id = engineer_id
    repo.reassign_waiting_step(session, order_id=order_id, node_id=node_id, assignee=username)
    session.commit()


def repair_from_state(
    session_factory: sessionmaker[Session], state: OrderState, *, asked_at: datetime, now: datetime
) -> list[str]:
    """Writes what the read model lacks of a running order's live `state` (the reconciler's
    repair): the steps its timeline completed ("steps") and the human steps waiting with
    their assignee and SLA deadline ("waiting"); the order then points at the step waiting.

    Nothing is written when the order's row changed after `asked_at` (when `state` was
    read): a writer is at work, and the state may be older than the row. A completed step
    is never reopened, so running it twice changes nothing the second time.

    Returns:
        The kinds of repair made; empty when the read model had it all.
    """
    with session_factory() as session:
        order = repo.lock_order(session, order_id=state.order_id)
        if order is None or order.completed_at is not None or order.updated_at > asked_at:
            return []
        known = repo.step_visits(session, order_id=state.order_id)
        done = [
            entry
            for entry in state.timeline
            if entry.completed_at is not None and not known.get((entry.node_id, entry.visit))
        ]
        waiting = [a for a in state.active if a.human and (a.node_id, a.visit) not in known]
        _write_timeline(session, state.order_id, done)
        for active in waiting:
            repo.record_waiting_step(session, order_id=state.order_id, step=_waiting_row(active))
        if waiting:
            order.current_node, order.status = waiting[0].node_id, state.status
            order.updated_at = now
            notify_pg.notify(session, state.order_id)
        _report(session, order, now)
        session.commit()
    return [kind for kind, rows in (("steps", done), ("waiting", waiting)) if rows]


def _waiting_row(step: WaitingStep | ActiveNode) -> dict[str, object]:
    """The read-model row of a human step waiting for `step.assignee`."""
    return {
        "node_id": step.node_id,
        "node_type": step.node_type,
        "visit": step.visit,
        "assignee": step.assignee,
        "sla_deadline": step.sla_deadline,
        "started_at": step.since,
    }


def close_from_temporal(
    session_factory: sessionmaker[Session], *, order_id: str, status: str, now: datetime
) -> bool:
    """Closes an order Temporal has closed but the read model still shows open (its last
    write failed, or it was terminated): `status` as Temporal tells it, its waiting steps
    closed, its engineer's slot released — once; a closed order is left as it is.

    Returns:
        Whether this call closed the order.
    """
    with session_factory() as session:
        order = repo.lock_order(session, order_id=order_id)
        if order is None or order.completed_at is not None:
            return False
        order.status, order.updated_at = status, now
        _close(session, order, now)
        _report(session, order, now)
        notify_pg.notify(session, order_id)
        session.commit()
    return True
