"""The read model learns of a human step the moment it starts waiting, and for whom.

Run as a local activity by the interpreter, so a field app or integration polling the
order (GET /api/orders/{id}?live=false, "my tasks") sees the step without asking the
workflow itself.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import Session

from activities.common import ActivityDeps, order_defaults, timeline_rows
from servflow.orders import repo as orders
from servflow.orders.models import WorkOrder
from workflows.contracts import WaitingStep


def record_waiting(deps: ActivityDeps, step: WaitingStep) -> None:
    """Upserts the waiting step (and the steps before it not yet written) in one transaction.

    Idempotent: a retry writes the same rows; a step completed meanwhile stays completed.
    """
    with deps.session_factory() as session:
        now = deps.clock()
        # The order row exists once its report ran: one UPDATE, which also takes SQLite's
        # write lock (PostgreSQL's row lock) before the steps are written.
        moved = session.execute(
            update(WorkOrder)
            .where(WorkOrder.order_id == step.order_id, WorkOrder.completed_at.is_(None))
            .values(current_node=step.node_id, status=step.status, updated_at=now)
            .returning(WorkOrder.id)
        ).all()
        if not moved:
            _ensure_order(session, step, now)
        orders.record_steps(
            session, order_id=step.order_id, steps=timeline_rows(step.unrecorded_steps)
        )
        orders.record_waiting_step(
            session,
            order_id=step.order_id,
            step={
                "node_id": step.node_id,
                "node_type": step.node_type,
                "visit": step.visit,
                "assignee": step.assignee,
                "sla_deadline": step.sla_deadline,
                "started_at": step.since,
            },
        )
        session.commit()


def _ensure_order(session: Session, step: WaitingStep, now: datetime) -> None:
    """Creates the row of an order that reached a human step before any activity wrote it
    (a pipeline that starts with one); a closed order's row is left as it is."""
    order = orders.ensure_order(
        session,
        order_id=step.order_id,
        now=now,
        defaults=order_defaults(step),
        lock=True,
    )
    if order.completed_at is None:
        order.current_node, order.status, order.updated_at = step.node_id, step.status, now
