"""The billing tables."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Numeric,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from servflow.platform.base import Base, Money, utcnow


class PriceTable(Base):
    """A region's tariff: base fee per visit, and a surcharge per km beyond `free_km`."""

    __tablename__ = "price_table"
    __table_args__ = (
        UniqueConstraint("region_id", "currency", "valid_from"),
        CheckConstraint(
            "base_visit_fee >= 0 AND per_km_surcharge >= 0 AND free_km >= 0", name="non_negative"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    region_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"))
    currency: Mapped[str] = mapped_column(String(3), default="CNY")
    base_visit_fee: Mapped[Decimal] = mapped_column(Money)
    per_km_surcharge: Mapped[Decimal] = mapped_column(Money)
    free_km: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    valid_from: Mapped[datetime] = mapped_column()


class Settlement(Base):
    """One milestone's share of an order's job price."""

    __tablename__ = "settlement"
    __table_args__ = (
        CheckConstraint("share > 0 AND share <= 1", name="share_range"),
        CheckConstraint("amount >= 0 AND job_amount >= 0", name="amount_non_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("work_order.order_id"), index=True)
    milestone: Mapped[str] = mapped_column(String(64))
    share: Mapped[Decimal] = mapped_column(Numeric(7, 6))
    job_amount: Mapped[Decimal] = mapped_column(Money)
    amount: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3))
    breakdown: Mapped[dict[str, Any]] = mapped_column(default=dict)
    idempotency_key: Mapped[str] = mapped_column(String(300), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The order's scope when it was settled: finance lists money by it.
    org_path: Mapped[str] = mapped_column(String(400), default="", server_default="", index=True)
    region: Mapped[str] = mapped_column(String(64), default="", server_default="", index=True)
    # "paid": payouts written; "held": above the ceiling, waiting for finance's approval.
    status: Mapped[str] = mapped_column(String(16), default="paid", server_default="paid")
    approved_by: Mapped[str] = mapped_column(String(100), default="", server_default="")
    approved_at: Mapped[datetime | None] = mapped_column()

    payouts: Mapped[list[Payout]] = relationship(back_populates="settlement", order_by="Payout.id")


class Payout(Base):
    __tablename__ = "payout"
    __table_args__ = (
        CheckConstraint("payee_kind IN ('outlet', 'engineer', 'branch', 'hq')", name="payee_kind"),
        CheckConstraint("amount >= 0", name="amount_non_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    settlement_id: Mapped[int] = mapped_column(ForeignKey("settlement.id"), index=True)
    payee_kind: Mapped[str] = mapped_column(String(16))
    payee_id: Mapped[str] = mapped_column(String(64))
    amount: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3))

    settlement: Mapped[Settlement] = relationship(back_populates="payouts")
