"""Queries of the work-order read model (orders and their steps)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select, update
from sqlalchemy.orm import Session, joinedload

from servflow.orders.models import WorkOrder, WorkOrderStep
from servflow.orders.rules import CLOSED_STATUSES
from servflow.platform import counters
from servflow.platform.scope import under
from servflow.platform.sql import insert_ignore, upsert


@dataclass(frozen=True)
class OrderSearch:
    """The order desk's filters beyond status and pipeline: a text (order number or id, or
    one of `customer_ids`, the customers whose name or phone matched it), creation time and
    version."""

    text: str = ""
    customer_ids: list[int] | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    definition_version: int | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        out: list[ColumnElement[bool]] = []
        if self.text:
            matches = [
                WorkOrder.order_no.contains(self.text, autoescape=True),
                WorkOrder.order_id == self.text,
            ]
            if self.customer_ids is not None:
                matches.append(WorkOrder.customer_id.in_(self.customer_ids))
            out.append(or_(*matches))
        if self.created_from is not None:
            out.append(WorkOrder.created_at >= self.created_from)
        if self.created_to is not None:
            out.append(WorkOrder.created_at < self.created_to)
        if self.definition_version is not None:
            out.append(WorkOrder.definition_version == self.definition_version)
        return out


def get_order(session: Session, *, order_id: str) -> WorkOrder | None:
    return session.scalar(
        select(WorkOrder)
        .options(joinedload(WorkOrder.customer), joinedload(WorkOrder.current_engineer))
        .where(WorkOrder.order_id == order_id)
    )


def list_orders(
    session: Session,
    *,
    scope_path: str | None = None,
    status: str | None = None,
    region: str | None = None,
    definition_key: str | None = None,
    engineer_id: int | None = None,
    customer_id: int | None = None,
    limit: int = 50,
    offset: int = 0,
    search: OrderSearch | None = None,
) -> tuple[list[WorkOrder], int]:
    """Orders newest first, filtered; `scope_path` limits to orders at or under that unit.

    Returns:
        The page of orders and the total count matching the filters.
    """
    # Test runs are the designer's alone: no list, count or total counts them.
    query = select(WorkOrder).where(WorkOrder.sandbox.is_(False))
    if scope_path is not None:
        query = query.where(under(WorkOrder.org_path, scope_path))
    if status:
        query = query.where(WorkOrder.status == status)
    if region:
        query = query.where(WorkOrder.region == region)
    if definition_key:
        query = query.where(WorkOrder.definition_key == definition_key)
    if engineer_id is not None:
        query = query.where(WorkOrder.current_engineer_id == engineer_id)
    if customer_id is not None:
        query = query.where(WorkOrder.customer_id == customer_id)
    if search is not None:
        query = query.where(*search.conditions())
    count = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(WorkOrder.created_at.desc(), WorkOrder.id.desc()).limit(limit).offset(offset)
    )
    return list(rows), count


def list_steps(session: Session, *, order_id: str) -> list[WorkOrderStep]:
    return list(
        session.scalars(
            select(WorkOrderStep)
            .where(WorkOrderStep.order_id == order_id)
            .order_by(WorkOrderStep.started_at, WorkOrderStep.id)
        )
    )


def find_open_order(
    session: Session, *, customer_id: int, fault: str, exclude_order_id: str
) -> WorkOrder | None:
    """A real order for this customer and fault that is neither completed, cancelled nor
    failed (a test run never blocks a customer's order, nor another test run)."""
    return session.scalar(
        select(WorkOrder)
        .where(
            WorkOrder.sandbox.is_(False),
            WorkOrder.customer_id == customer_id,
            WorkOrder.fault == fault,
            WorkOrder.order_id != exclude_order_id,
            WorkOrder.status.not_in(CLOSED_STATUSES),
            WorkOrder.completed_at.is_(None),
        )
        .limit(1)
    )


def next_order_no(session: Session, *, now: datetime) -> str:
    """The next order number of the day, e.g. "SF20261122-000123" (a per-day DB counter)."""
    day = now.strftime("%Y%m%d")
    return f"SF{day}-{counters.next_value(session, name=f'order_no:{day}'):06d}"


def ensure_order(
    session: Session,
    *,
    order_id: str,
    now: datetime,
    defaults: dict[str, Any],
    lock: bool = False,
) -> WorkOrder:
    """The read-model row of `order_id`, created with `defaults` when missing.

    `lock` takes a row lock on PostgreSQL (SELECT ... FOR UPDATE) so that two activities of
    one order that touch money serialize; SQLite serializes writers anyway.
    """
    insert_ignore(
        session,
        WorkOrder.__table__,  # type: ignore[arg-type]
        [{"order_id": order_id, "created_at": now, "updated_at": now, **defaults}],
        conflict=["order_id"],
    )
    query = select(WorkOrder).where(WorkOrder.order_id == order_id)
    if lock:
        query = query.with_for_update()
    order = session.scalars(query.execution_options(populate_existing=True)).one()
    return order


def record_steps(session: Session, *, order_id: str, steps: Iterable[dict[str, Any]]) -> None:
    """Writes step rows: new visits are inserted, a waiting step takes its completion, and a
    step already completed is left alone (unique order, node, visit)."""
    table = WorkOrderStep.__table__
    insert_or_complete = [{"assignee": "", "order_id": order_id, **step} for step in steps]
    upsert(
        session,
        table,  # type: ignore[arg-type]
        insert_or_complete,
        conflict=["order_id", "node_id", "visit"],
        update=["actor", "outcome", "data", "completed_at"],
        where=lambda new: table.c.completed_at.is_(None) & new.completed_at.is_not(None),
    )


def record_waiting_step(session: Session, *, order_id: str, step: dict[str, Any]) -> None:
    """Writes a human step that waits for `step["assignee"]`; a step already waiting only
    changes hands (SLA reassignment), one completed is left alone."""
    table = WorkOrderStep.__table__
    upsert(
        session,
        table,  # type: ignore[arg-type]
        [{"order_id": order_id, "actor": "", "outcome": "", "data": {}, **step}],
        conflict=["order_id", "node_id", "visit"],
        update=["assignee", "sla_deadline"],
        where=lambda _new: table.c.completed_at.is_(None),
    )


def close_waiting_steps(session: Session, *, order_id: str, now: datetime, outcome: str) -> None:
    """Ends the steps still waiting when their order closes (cancelled, failed)."""
    session.execute(
        update(WorkOrderStep)
        .where(WorkOrderStep.order_id == order_id, WorkOrderStep.completed_at.is_(None))
        .values(completed_at=now, outcome=outcome)
    )


def move_open_order(
    session: Session, *, order_id: str, node_id: str, status: str, now: datetime
) -> bool:
    """Sets where an open order stands (one UPDATE, which also takes SQLite's write lock or
    PostgreSQL's row lock); False when there is no open row."""
    moved = session.execute(
        update(WorkOrder)
        .where(WorkOrder.order_id == order_id, WorkOrder.completed_at.is_(None))
        .values(current_node=node_id, status=status, updated_at=now)
        .returning(WorkOrder.id)
    ).all()
    return bool(moved)


def lock_order(session: Session, *, order_id: str) -> WorkOrder | None:
    return session.scalar(select(WorkOrder).where(WorkOrder.order_id == order_id).with_for_update())


def reassign_waiting_step(session: Session, *, order_id: str, node_id: str, assignee: str) -> None:
    session.execute(
        update(WorkOrderStep)
        .where(
            WorkOrderStep.order_id == order_id,
            WorkOrderStep.node_id == node_id,
            WorkOrderStep.completed_at.is_(None),
        )
        .values(assignee=assignee)
    )


def waiting_steps(
    session: Session,
    *,
    username: str,
    role_assignees: list[str],
    scope_path: str = "",
    engineer_id: int = 0,
    limit: int,
) -> list[tuple[WorkOrderStep, WorkOrder]]:
    """Steps waiting on open orders, assigned to `username`, or to one of `role_assignees`
    on an order under `scope_path` (or, given `engineer_id`, of that engineer), most urgent
    order first. A test run's steps are no one's task: its designer follows it in the
    designer."""
    seen = (
        WorkOrder.current_engineer_id == engineer_id
        if engineer_id
        else under(WorkOrder.org_path, scope_path)
    )
    query = (
        select(WorkOrderStep, WorkOrder)
        .join(WorkOrder, WorkOrder.order_id == WorkOrderStep.order_id)
        .where(
            WorkOrderStep.completed_at.is_(None),
            WorkOrder.status.not_in(CLOSED_STATUSES),
            WorkOrder.sandbox.is_(False),
            or_(
                WorkOrderStep.assignee == username,
                and_(WorkOrderStep.assignee.in_(role_assignees), seen),
            ),
        )
        .order_by(WorkOrder.priority, WorkOrderStep.started_at)
        .limit(limit)
    )
    return [(step, order) for step, order in session.execute(query).tuples()]


def open_steps_of(
    session: Session, *, order_ids: list[str]
) -> tuple[dict[str, str], list[WorkOrderStep]]:
    """The status of each known order among `order_ids`, and their steps not completed."""
    rows = session.execute(
        select(WorkOrder.order_id, WorkOrder.status).where(WorkOrder.order_id.in_(order_ids))
    ).tuples()
    statuses = {order_id: status for order_id, status in rows}
    steps = session.scalars(
        select(WorkOrderStep)
        .where(WorkOrderStep.order_id.in_(order_ids), WorkOrderStep.completed_at.is_(None))
        .order_by(WorkOrderStep.started_at)
    ).all()
    return statuses, list(steps)


def waiting_node_ids_of(
    session: Session, *, order_ids: list[str]
) -> list[tuple[str, str, str | None]]:
    """(order id, status, node id of a step not completed, or None) of each known order
    among `order_ids`: one query of plain rows, for the long polls' tick (the full rows are
    read only for an order a waiter is answered with)."""
    orders, steps = WorkOrder.__table__, WorkOrderStep.__table__
    joined = orders.outerjoin(
        steps, and_(steps.c.order_id == orders.c.order_id, steps.c.completed_at.is_(None))
    )
    query = (
        select(orders.c.order_id, orders.c.status, steps.c.node_id)
        .select_from(joined)
        .where(orders.c.order_id.in_(order_ids))
    )
    return [(o, status, node) for o, status, node in session.connection().execute(query)]


def stale_open_orders(
    session: Session, *, before: datetime, limit: int, after: tuple[datetime, int] | None = None
) -> list[tuple[str, datetime, int]]:
    """Open orders (not closed) not updated since `before`, oldest first: their order id,
    `updated_at` and row id; `after` (an `updated_at`, row id pair) continues a scan."""
    query = select(WorkOrder.order_id, WorkOrder.updated_at, WorkOrder.id).where(
        WorkOrder.completed_at.is_(None),
        WorkOrder.status.not_in(CLOSED_STATUSES),
        WorkOrder.updated_at < before,
    )
    if after is not None:
        at, row_id = after
        query = query.where(
            or_(WorkOrder.updated_at > at, and_(WorkOrder.updated_at == at, WorkOrder.id > row_id))
        )
    rows = session.execute(query.order_by(WorkOrder.updated_at, WorkOrder.id).limit(limit))
    return [(order_id, updated_at, row_id) for order_id, updated_at, row_id in rows.tuples()]


def step_visits(session: Session, *, order_id: str) -> dict[tuple[str, int], bool]:
    """The order's step rows: (node id, visit) -> whether the step is completed."""
    rows = session.execute(
        select(WorkOrderStep.node_id, WorkOrderStep.visit, WorkOrderStep.completed_at).where(
            WorkOrderStep.order_id == order_id
        )
    ).tuples()
    return {(node_id, visit): done is not None for node_id, visit, done in rows}


def open_order_counts(session: Session) -> list[tuple[str, str, int]]:
    """(status, region, count) of the orders not yet closed, test runs left out."""
    rows = session.execute(
        select(WorkOrder.status, WorkOrder.region, func.count())
        .where(WorkOrder.sandbox.is_(False), WorkOrder.status.not_in(CLOSED_STATUSES))
        .group_by(WorkOrder.status, WorkOrder.region)
    ).tuples()
    return [(status, region, count) for status, region, count in rows]


def steps_past_deadline(session: Session, *, now: datetime) -> int:
    """Steps of open orders (not test runs) still waiting after their SLA deadline."""
    return (
        session.scalar(
            select(func.count())
            .select_from(WorkOrderStep)
            .join(WorkOrder, WorkOrder.order_id == WorkOrderStep.order_id)
            .where(
                WorkOrder.sandbox.is_(False),
                WorkOrder.status.not_in(CLOSED_STATUSES),
                WorkOrderStep.completed_at.is_(None),
                WorkOrderStep.sla_deadline < now,
            )
        )
        or 0
    )
