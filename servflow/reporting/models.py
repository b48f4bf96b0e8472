"""The reporting read model's tables: counters the dashboards read, and what each order
added to them (so a later move of the order changes the counters by the difference)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, Date, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from servflow.platform.base import Base, JSONType, Money


class ReportCounter(Base):
    """One aggregate cell: `n` (and `amount`, for revenue) of `metric`/`key`/`bin` for the
    orders created on `day` at or under the unit `org_path` (node times: the first day of
    the month). An order counts in the cells of its unit and of every unit above it (`depth`
    is the unit's level: 1 HQ, 2 region, 3 branch, 4 outlet), so a dashboard reads its own
    unit's cells and its children's, never a sum over every outlet, and never orders.
    """

    __tablename__ = "report_counter"
    __table_args__ = (
        UniqueConstraint("org_path", "metric", "day", "key", "bin"),
        Index("ix_report_counter_depth", "depth", "metric", "day"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    metric: Mapped[str] = mapped_column(String(16))
    day: Mapped[date] = mapped_column(Date)
    org_path: Mapped[str] = mapped_column(String(400))
    depth: Mapped[int] = mapped_column(Integer)
    region: Mapped[str] = mapped_column(String(64), default="")
    key: Mapped[str] = mapped_column(String(200), default="")
    bin: Mapped[int] = mapped_column(Integer, default=0)
    n: Mapped[int] = mapped_column(BigInteger, default=0)
    amount: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))


class ReportOrder(Base):
    """What one order has added to the counters (`cells`), its settled revenue by currency,
    where its customer is, and the next SLA deadline of its waiting steps."""

    __tablename__ = "report_order"

    order_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    org_path: Mapped[str] = mapped_column(String(400), default="", index=True)
    city: Mapped[str] = mapped_column(String(100), default="")
    province: Mapped[str] = mapped_column(String(32), default="")
    revenue: Mapped[dict[str, Any]] = mapped_column(default=dict)
    cells: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    # The earliest SLA deadline of the order's waiting steps (None: nothing waits on one).
    sla_next: Mapped[datetime | None] = mapped_column(index=True)
    updated_at: Mapped[datetime] = mapped_column()
