"""Every order with its steps, read as plain rows in batches, as the reporting rules see
them: the input of a reporting backfill (`servflow reporting rebuild`)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session

from servflow.orders.models import WorkOrder, WorkOrderStep
from servflow.reporting.rules import OrderView, StepView


def order_views(
    session: Session, *, batch: int = 2000
) -> Iterator[tuple[OrderView, list[StepView]]]:
    """Every order (test runs included: the caller decides) and its steps, oldest row
    first, `batch` orders a query."""
    o, st = WorkOrder.__table__.c, WorkOrderStep.__table__.c
    last = 0
    while True:
        rows = session.execute(
            select(o.id, o.order_id, o.org_path, o.status, o.created_at, o.definition_key,
                   o.definition_version, o.completed_at, o.sandbox)
            .where(o.id > last).order_by(o.id).limit(batch)
        ).all()  # fmt: skip
        if not rows:
            return
        steps: dict[str, list[StepView]] = defaultdict(list)
        query = select(st.order_id, st.node_id, st.node_type, st.visit, st.started_at,
                       st.completed_at, st.sla_deadline, st.outcome, st.data)  # fmt: skip
        ids = [r.order_id for r in rows]
        for s in session.execute(query.where(st.order_id.in_(ids)).order_by(st.id)):
            steps[s.order_id].append(
                StepView(s.node_id, s.node_type, s.visit, s.started_at, s.completed_at,
                         s.sla_deadline, s.outcome, s.data or {})
            )  # fmt: skip
        for r in rows:
            yield OrderView(*r[1:9]), steps[r.order_id]
        last = rows[-1].id
