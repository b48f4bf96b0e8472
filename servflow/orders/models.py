"""The orders tables."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from servflow.orders.rules import STEP_OUTCOME_LENGTH
from servflow.platform.base import Base, utcnow

if TYPE_CHECKING:
    from servflow.customers.models import Customer
    from servflow.dispatch.models import Engineer
    from servflow.org.models import OrgUnit


class WorkOrder(Base):
    """Read model: one row per order (= Temporal workflow), kept current by activities.

    `org_path` is the path of the order's outlet (or region) so scope is a prefix match.
    """

    __tablename__ = "work_order"
    __table_args__ = (Index("ix_work_order_customer_fault", "customer_id", "fault"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[str] = mapped_column(String(200), unique=True)
    order_no: Mapped[str | None] = mapped_column(String(32), unique=True)
    definition_key: Mapped[str] = mapped_column(String(100), default="")
    definition_version: Mapped[int] = mapped_column(Integer, default=0)
    region: Mapped[str] = mapped_column(String(64), default="", index=True)
    outlet_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id"), index=True)
    org_path: Mapped[str] = mapped_column(String(400), default="", index=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customer.id"))
    fault: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(String(32), default="running", index=True)
    current_node: Mapped[str] = mapped_column(String(64), default="")
    current_engineer_id: Mapped[int | None] = mapped_column(ForeignKey("engineer.id"), index=True)
    priority: Mapped[int] = mapped_column(Integer, default=3)
    started_by: Mapped[str] = mapped_column(String(100), default="")
    # A designer's test run: kept apart from every list, task and total.
    sandbox: Mapped[bool] = mapped_column(default=False, server_default=false(), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column()

    customer: Mapped[Customer | None] = relationship()
    outlet: Mapped[OrgUnit | None] = relationship()
    current_engineer: Mapped[Engineer | None] = relationship()


class WorkOrderStep(Base):
    """Read model: one row per node visit of an order, from the moment a human step waits
    (automatic steps: once done)."""

    __tablename__ = "work_order_step"
    __table_args__ = (UniqueConstraint("order_id", "node_id", "visit"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("work_order.order_id"))
    node_id: Mapped[str] = mapped_column(String(64))
    visit: Mapped[int] = mapped_column(Integer)
    node_type: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(100), default="")
    outcome: Mapped[str] = mapped_column(String(STEP_OUTCOME_LENGTH), default="")
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    started_at: Mapped[datetime] = mapped_column()
    completed_at: Mapped[datetime | None] = mapped_column()
    # A human step waiting for input has no completed_at yet and names whom it waits for.
    assignee: Mapped[str] = mapped_column(String(100), default="", server_default="", index=True)
    sla_deadline: Mapped[datetime | None] = mapped_column()
