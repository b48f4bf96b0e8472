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

from servflow.platform.base import Base, JSONType, Money, utcnow


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
    # "paid": payouts written; "held": above the ceiling, waiting for finance's approval;
    # "accrued": payouts written, paid out by the monthly settlement run (periodic mode).
    status: Mapped[str] = mapped_column(String(16), default="paid", server_default="paid")
    approved_by: Mapped[str] = mapped_column(String(100), default="", server_default="")
    approved_at: Mapped[datetime | None] = mapped_column()

    payouts: Mapped[list[Payout]] = relationship(back_populates="settlement", order_by="Payout.id")


class Payout(Base):
    __tablename__ = "payout"
    __table_args__ = (
        CheckConstraint(
            "payee_kind IN ('outlet', 'engineer', 'branch', 'hq', 'region', 'agent')",
            name="payee_kind",
        ),
        CheckConstraint("amount >= 0", name="amount_non_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    settlement_id: Mapped[int] = mapped_column(ForeignKey("settlement.id"), index=True)
    payee_kind: Mapped[str] = mapped_column(String(16))
    payee_id: Mapped[str] = mapped_column(String(64))
    amount: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3))
    # The org unit that answers for the payee (their statement's scope).
    party_path: Mapped[str] = mapped_column(String(400), default="", server_default="")

    settlement: Mapped[Settlement] = relationship(back_populates="payouts")


class PriceRule(Base):
    """One version of a price rule, scoped to HQ, a region or an outlet (`scope_path`),
    effective from `valid_from` until `valid_to` or its retirement.

    `kind` says how `body` reads: rate (visit_fee, labour_per_hour, parts_markup per job
    type), coefficient (factor), surcharge (amount, or per-km distance bands), tax (rate),
    fx (from, to, rate), deduction (amount or rate of the settled milestone). `condition`
    is a safe expression over the pricing facts (empty: always). A rule at HQ may carry
    `bounds` in its body: the range regions may set each field to.
    """

    __tablename__ = "price_rule"
    __table_args__ = (
        UniqueConstraint("code", "version"),
        CheckConstraint(
            "kind IN ('rate', 'coefficient', 'surcharge', 'tax', 'fx', 'deduction')",
            name="rule_kind",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), index=True)
    version: Mapped[int] = mapped_column()
    kind: Mapped[str] = mapped_column(String(16))
    scope_path: Mapped[str] = mapped_column(String(400), index=True)
    job_type: Mapped[str] = mapped_column(String(64), default="*")
    condition: Mapped[str] = mapped_column(String(500), default="")
    body: Mapped[dict[str, Any]] = mapped_column(default=dict)
    currency: Mapped[str] = mapped_column(String(3), default="CNY")
    valid_from: Mapped[datetime] = mapped_column()
    valid_to: Mapped[datetime | None] = mapped_column()
    retired_at: Mapped[datetime | None] = mapped_column()
    created_by: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ShareAgreement(Base):
    """One version of a revenue-share agreement: who gets which ratio of every settled
    amount in `scope_path` (parties JSON), tiers that move share with volume, and an
    optional condition; effective-dated like price rules."""

    __tablename__ = "share_agreement"
    __table_args__ = (UniqueConstraint("code", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), index=True)
    version: Mapped[int] = mapped_column()
    scope_path: Mapped[str] = mapped_column(String(400), index=True)
    job_type: Mapped[str] = mapped_column(String(64), default="*")
    condition: Mapped[str] = mapped_column(String(500), default="")
    parties: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    tiers: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    valid_from: Mapped[datetime] = mapped_column()
    valid_to: Mapped[datetime | None] = mapped_column()
    retired_at: Mapped[datetime | None] = mapped_column()
    created_by: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Statement(Base):
    """What one party was paid in one month and currency, made by the settlement run;
    the party confirms it or disputes it (with the reason)."""

    __tablename__ = "statement"
    __table_args__ = (
        UniqueConstraint("period", "party_kind", "party_id", "currency"),
        CheckConstraint("status IN ('open', 'confirmed', 'disputed')", name="statement_status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    period: Mapped[str] = mapped_column(String(7), index=True)
    party_kind: Mapped[str] = mapped_column(String(16))
    party_id: Mapped[str] = mapped_column(String(64))
    party_path: Mapped[str] = mapped_column(String(400), default="", index=True)
    currency: Mapped[str] = mapped_column(String(3))
    total: Mapped[Decimal] = mapped_column(Money)
    lines: Mapped[int] = mapped_column()
    status: Mapped[str] = mapped_column(String(16), default="open")
    dispute_reason: Mapped[str] = mapped_column(String(1000), default="")
    answered_by: Mapped[str] = mapped_column(String(100), default="")
    answered_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
