"""The inventory tables: the catalogue, warehouses, and stock as a movement journal.

`stock_movement` is the truth: append-only, one row per receipt, reservation, release,
transfer out/in, consumption or adjustment, each with its deltas on on-hand and reserved.
`stock_level` is the balance of a part in a warehouse, updated in the same transaction as
the journal row that moves it (so reads and the never-oversell conditional update need no
sum); `service.journal_mismatches` proves the two agree.
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
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from servflow.platform.base import Base, JSONType, Money

WAREHOUSE_KINDS = ("central", "regional", "outlet", "van")
MOVEMENT_KINDS = (
    "receipt",
    "reservation",
    "release",
    "transfer_out",
    "transfer_in",
    "consumption",
    "adjustment",
)


class Warehouse(Base):
    __tablename__ = "warehouse"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    region_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"), index=True)
    city: Mapped[str] = mapped_column(String(100), default="")
    lat: Mapped[float | None] = mapped_column(Float)
    lng: Mapped[float | None] = mapped_column(Float)
    kind: Mapped[str] = mapped_column(String(16), default="regional", server_default="regional")
    # An engineer's van: the engineer's code (dispatch), so sourcing tries it first.
    engineer_code: Mapped[str] = mapped_column(String(64), default="", server_default="")
    lead_time_hours: Mapped[int] = mapped_column(Integer, default=24, server_default="24")


class Part(Base):
    __tablename__ = "part"
    __table_args__ = (
        CheckConstraint("price >= 0", name="price_non_negative"),
        CheckConstraint("cost >= 0", name="cost_non_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sku: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(64), default="")
    price: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3), default="CNY")
    name_en: Mapped[str] = mapped_column(String(200), default="", server_default="")
    unit: Mapped[str] = mapped_column(String(16), default="pcs", server_default="pcs")
    cost: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"), server_default="0")
    compatible_products: Mapped[list[str]] = mapped_column(
        JSONType, default=list, server_default="[]"
    )
    fault_types: Mapped[list[str]] = mapped_column(JSONType, default=list, server_default="[]")


class StockLevel(Base):
    """The balance of one part in one warehouse (kept by the journal's writer)."""

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
    safety_level: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    reorder_point: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class StockMovement(Base):
    """One line of the append-only journal. `key` makes every movement happen once (a
    retried activity or request finds its movement and does not move stock again)."""

    __tablename__ = "stock_movement"
    __table_args__ = (Index("ix_stock_movement_pair", "warehouse_id", "part_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouse.id"))
    part_id: Mapped[int] = mapped_column(ForeignKey("part.id"))
    kind: Mapped[str] = mapped_column(String(16))
    qty: Mapped[int] = mapped_column(Integer)
    on_hand_delta: Mapped[int] = mapped_column(Integer)
    reserved_delta: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(500), default="")
    ref: Mapped[str] = mapped_column(String(200), default="", index=True)
    actor: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime]


class Reservation(Base):
    """Stock held for one order line (`key`: `<order id>/<line>`), until consumed, shipped
    on a transfer, released (cancel) or expired."""

    __tablename__ = "stock_reservation"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    order_id: Mapped[str] = mapped_column(String(100), index=True)
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouse.id"))
    part_id: Mapped[int] = mapped_column(ForeignKey("part.id"))
    qty: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="held")
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]


class Transfer(Base):
    """A transfer between warehouses for an order line, run by the transfer workflow;
    this row is its read model (status, carrier, tracking)."""

    __tablename__ = "stock_transfer"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(100), unique=True)
    order_id: Mapped[str] = mapped_column(String(100), default="", index=True)
    line_key: Mapped[str] = mapped_column(String(200), default="")
    part_id: Mapped[int] = mapped_column(ForeignKey("part.id"))
    qty: Mapped[int] = mapped_column(Integer)
    source_id: Mapped[int] = mapped_column(ForeignKey("warehouse.id"))
    destination_id: Mapped[int] = mapped_column(ForeignKey("warehouse.id"))
    status: Mapped[str] = mapped_column(String(16), default="requested")
    carrier: Mapped[str] = mapped_column(String(64), default="")
    tracking_no: Mapped[str] = mapped_column(String(64), default="")
    reason: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class StockAlert(Base):
    """A part × warehouse that fell below its safety level: one open alert per crossing.
    `open_pair` is `<warehouse id>:<part id>` while the alert is open and NULL after, so
    a unique constraint keeps a second open alert from ever being written."""

    __tablename__ = "stock_alert"

    id: Mapped[int] = mapped_column(primary_key=True)
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouse.id"))
    part_id: Mapped[int] = mapped_column(ForeignKey("part.id"))
    open_pair: Mapped[str | None] = mapped_column(String(40), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="open")
    available: Mapped[int] = mapped_column(Integer)
    safety_level: Mapped[int] = mapped_column(Integer)
    suggestion: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime]
    acknowledged_by: Mapped[str] = mapped_column(String(100), default="")
    acknowledged_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
