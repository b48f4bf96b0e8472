"""Typed SQLAlchemy models of servflow's master data, money and work-order read model.

Table names are singular snake_case; every timestamp is an aware UTC `*_at`; money is
NUMERIC(18,2) next to a currency code; JSON is JSONB on PostgreSQL.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from store.base import Base, JSONType, Money, utcnow

ROLES = (
    "designer",
    "dispatcher",
    "engineer",
    "outlet_manager",
    "region_manager",
    "finance",
    "hq_admin",
    "api_client",
)
CLOSED_STATUSES = ("completed", "cancelled", "failed")


class OrgUnit(Base):
    """A node of the org tree HQ → region → branch → outlet.

    `path` ("/hq/huabei/bj-branch/bj-001") makes scope checks a prefix match.
    """

    __tablename__ = "org_unit"
    __table_args__ = (CheckConstraint("kind IN ('hq', 'region', 'branch', 'outlet')", name="kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id"), index=True)
    path: Mapped[str] = mapped_column(String(400), unique=True)
    city: Mapped[str] = mapped_column(String(100), default="")
    lat: Mapped[float | None] = mapped_column(Float)
    lng: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    parent: Mapped[OrgUnit | None] = relationship(remote_side=[id])


class AppUser(Base):
    __tablename__ = "app_user"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    password_hash: Mapped[str] = mapped_column(String(100))
    display_name: Mapped[str] = mapped_column(String(200), default="")
    roles: Mapped[list[str]] = mapped_column(JSONType, default=list)
    org_unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id"), index=True)
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    org_unit: Mapped[OrgUnit | None] = relationship()


class ApiKey(Base):
    """An API client's key; only its SHA-256 is stored (keys are long random tokens)."""

    __tablename__ = "api_key"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), index=True)
    name: Mapped[str] = mapped_column(String(100), default="")
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column()

    user: Mapped[AppUser] = relationship()


class Engineer(Base):
    __tablename__ = "engineer"
    __table_args__ = (
        CheckConstraint("state IN ('available', 'busy', 'off')", name="state"),
        CheckConstraint("current_load >= 0", name="current_load_non_negative"),
        CheckConstraint("max_load >= 1", name="max_load_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    phone: Mapped[str] = mapped_column(String(32), default="")
    outlet_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"), index=True)
    skills: Mapped[list[str]] = mapped_column(JSONType, default=list)
    lat: Mapped[float | None] = mapped_column(Float)
    lng: Mapped[float | None] = mapped_column(Float)
    state: Mapped[str] = mapped_column(String(16), default="available")
    current_load: Mapped[int] = mapped_column(Integer, default=0)
    max_load: Mapped[int] = mapped_column(Integer, default=3)

    outlet: Mapped[OrgUnit] = relationship()
    user: Mapped[AppUser | None] = relationship()


class Customer(Base):
    __tablename__ = "customer"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(32), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    addresses: Mapped[list[CustomerAddress]] = relationship(
        back_populates="customer", order_by="CustomerAddress.id"
    )


class CustomerAddress(Base):
    __tablename__ = "customer_address"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    address: Mapped[str] = mapped_column(String(400), default="")
    city: Mapped[str] = mapped_column(String(100), default="")
    lat: Mapped[float | None] = mapped_column(Float)
    lng: Mapped[float | None] = mapped_column(Float)

    customer: Mapped[Customer] = relationship(back_populates="addresses")


class Warehouse(Base):
    __tablename__ = "warehouse"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    region_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"), index=True)
    city: Mapped[str] = mapped_column(String(100), default="")
    lat: Mapped[float | None] = mapped_column(Float)
    lng: Mapped[float | None] = mapped_column(Float)


class Part(Base):
    __tablename__ = "part"
    __table_args__ = (CheckConstraint("price >= 0", name="price_non_negative"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    sku: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(64), default="")
    price: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3), default="CNY")


class StockLevel(Base):
    __tablename__ = "stock_level"
    __table_args__ = (
        UniqueConstraint("warehouse_id", "part_id"),
        CheckConstraint("on_hand >= 0", name="on_hand_non_negative"),
        CheckConstraint("reserved >= 0", name="reserved_non_negative"),
        CheckConstraint("reserved <= on_hand", name="reserved_within_on_hand"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouse.id"))
    part_id: Mapped[int] = mapped_column(ForeignKey("part.id"), index=True)
    on_hand: Mapped[int] = mapped_column(Integer, default=0)
    reserved: Mapped[int] = mapped_column(Integer, default=0)


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


class Definition(Base):
    """A pipeline being designed: its editable draft and the designer's layout."""

    __tablename__ = "definition"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    draft: Mapped[dict[str, Any]] = mapped_column(default=dict)
    layout: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_by: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class DefinitionVersion(Base):
    """A published, immutable snapshot of a definition."""

    __tablename__ = "definition_version"
    __table_args__ = (UniqueConstraint("key", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    definition_id: Mapped[int] = mapped_column(ForeignKey("definition.id"), index=True)
    key: Mapped[str] = mapped_column(String(100))
    version: Mapped[int] = mapped_column(Integer)
    body: Mapped[dict[str, Any]] = mapped_column()
    layout: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default=text("'{}'"))
    published_by: Mapped[str] = mapped_column(String(100), default="")
    published_at: Mapped[datetime] = mapped_column(default=utcnow)


class NodeTemplate(Base):
    """A named, reusable preset of a node that definitions use with overrides."""

    __tablename__ = "node_template"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    node_type: Mapped[str] = mapped_column(String(32))
    description: Mapped[str] = mapped_column(Text, default="")
    preset: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


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
    outcome: Mapped[str] = mapped_column(String(64), default="")
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    started_at: Mapped[datetime] = mapped_column()
    completed_at: Mapped[datetime | None] = mapped_column()
    # A human step waiting for input has no completed_at yet and names whom it waits for.
    assignee: Mapped[str] = mapped_column(String(100), default="", server_default="", index=True)
    sla_deadline: Mapped[datetime | None] = mapped_column()


class DispatchDecision(Base):
    __tablename__ = "dispatch_decision"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("work_order.order_id"), index=True)
    node_id: Mapped[str] = mapped_column(String(64))
    visit: Mapped[int] = mapped_column(Integer)
    engineer_id: Mapped[int] = mapped_column(ForeignKey("engineer.id"), index=True)
    outlet_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"))
    strategy: Mapped[str] = mapped_column(String(32))
    distance_km: Mapped[Decimal | None] = mapped_column(Numeric(10, 2))
    score: Mapped[float] = mapped_column(Float)
    reason: Mapped[str] = mapped_column(String(500))
    candidates: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    engineer: Mapped[Engineer] = relationship()


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


class Notification(Base):
    """Outbox of messages; `sent_at` is set once the notifier has delivered it."""

    __tablename__ = "notification"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[str | None] = mapped_column(String(200), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    recipients: Mapped[list[str]] = mapped_column(JSONType, default=list)
    message: Mapped[str] = mapped_column(Text)
    idempotency_key: Mapped[str] = mapped_column(String(300), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column()


class ActivityEffect(Base):
    """The once-only guard: one row per applied activity effect, with its result."""

    __tablename__ = "activity_effect"

    id: Mapped[int] = mapped_column(primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(300), unique=True)
    activity: Mapped[str] = mapped_column(String(64))
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Counter(Base):
    """Named counters (e.g. the daily order number sequence), portable across backends."""

    __tablename__ = "counter"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[int] = mapped_column(Integer, default=0)
