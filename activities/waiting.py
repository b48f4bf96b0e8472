"""The read model learns of a human step the moment it starts waiting, and for whom.

Run as a local activity by the interpreter, so a field app or integration polling the
order (GET /api/orders/{id}?live=false, "my tasks") sees the step without asking the
workflow itself.
"""

from __future__ import annotations

from activities.common import ActivityDeps, timeline_rows
from store import orders
from workflows.contracts import WaitingStep


def record_waiting(deps: ActivityDeps, step: WaitingStep) -> None:
    """Upserts the waiting step (and the steps before it not yet written) in one transaction.

    Idempotent: a retry writes the same rows; a step completed meanwhile stays completed.
    """
    with deps.session_factory() as session:
        now = deps.clock()
        order = orders.ensure_order(
            session,
            order_id=step.order_id,
            now=now,
            defaults={
                "definition_key": step.definition_key,
                "definition_version": step.definition_version,
                "region": step.context.region,
                "priority": step.context.priority,
                "started_by": step.context.started_by,
                "status": step.status,
            },
            lock=True,
        )
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
        if order.completed_at is None:
            order.current_node = step.node_id
            order.status = step.status
            order.updated_at = now
        session.commit()
