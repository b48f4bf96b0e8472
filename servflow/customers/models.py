"""The customers tables."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    Date,
    Float,
    ForeignKey,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from servflow.platform.base import Base, JSONType, utcnow


class Customer(Base):
    __tablename__ = "customer"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(32), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    org_path: Mapped[str] = mapped_column(String(400), default="", server_default="", index=True)
    """The outlet nearest to where the customer was first located (who may see them)."""

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


class CustomerIdentity(Base):
    """One way to recognise a customer on a channel: phone, wecom (external userid),
    douyin / tmall / jd (buyer ids), or a contact name someone gave with the phone."""

    __tablename__ = "customer_identity"
    __table_args__ = (UniqueConstraint("kind", "value"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    value: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CustomerMerge(Base):
    """Audit of a merge: `merged_id`'s identities, addresses, assets and orders moved to
    `kept_id` by `rule`, decided by `by`."""

    __tablename__ = "customer_merge"

    id: Mapped[int] = mapped_column(primary_key=True)
    kept_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    merged_id: Mapped[int] = mapped_column()
    rule: Mapped[str] = mapped_column(String(64))
    by: Mapped[str] = mapped_column(String(100))
    detail: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CustomerAsset(Base):
    """A product the customer owns (installed or serviced by us), with its warranty."""

    __tablename__ = "customer_asset"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    product: Mapped[str] = mapped_column(String(200))
    serial_no: Mapped[str] = mapped_column(String(100), default="")
    order_id: Mapped[str] = mapped_column(String(200), default="")
    installed_on: Mapped[date | None] = mapped_column(Date)
    warranty_until: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SignoffLink(Base):
    """A one-time link the customer signs off an order with (only its hash is kept)."""

    __tablename__ = "signoff_link"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    order_id: Mapped[str] = mapped_column(String(200), index=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customer.id"))
    org_path: Mapped[str] = mapped_column(String(400), default="")
    region: Mapped[str] = mapped_column(String(64), default="")
    outlet: Mapped[str] = mapped_column(String(64), default="")
    engineer: Mapped[str] = mapped_column(String(100), default="")
    node_id: Mapped[str] = mapped_column(String(64), default="", server_default="")
    """The order's waiting `signoff` step the customer's sign-off completes ("" for a
    survey only: no such step waited, or its form asks for more than the customer gives)."""
    expires_at: Mapped[datetime] = mapped_column()
    used_at: Mapped[datetime | None] = mapped_column()
    step_submitted_at: Mapped[datetime | None] = mapped_column()
    """When the order took the customer's sign-off as its step `node_id`."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Survey(Base):
    """The customer's sign-off: signature, rating 0-10 (NPS) and comment, one per order."""

    __tablename__ = "survey"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[str] = mapped_column(String(200), unique=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customer.id"), index=True)
    org_path: Mapped[str] = mapped_column(String(400), default="", index=True)
    region: Mapped[str] = mapped_column(String(64), default="")
    outlet: Mapped[str] = mapped_column(String(64), default="")
    engineer: Mapped[str] = mapped_column(String(100), default="")
    rating: Mapped[int] = mapped_column()
    comment: Mapped[str] = mapped_column(Text, default="")
    signature_file: Mapped[str] = mapped_column(String(200), default="")
    follow_up: Mapped[bool] = mapped_column(default=False)
    """A detractor's score (0-6): a follow-up task is opened for customer care."""
    follow_up_order_id: Mapped[str] = mapped_column(String(200), default="", server_default="")
    """The follow-up order opened for this survey ("" until the worker opened it)."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
