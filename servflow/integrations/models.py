"""The integrations tables: WeCom cards and clicks, marketplace messages in and out."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from servflow.platform.base import Base, JSONType, utcnow


class WecomCard(Base):
    """A template card with accept/decline buttons sent to a dispatched engineer.

    `task_id` is the card's id at WeCom (unique per app); the first click on it is the
    one applied (`status` accepted/declined), every later delivery of a click is ignored.
    """

    __tablename__ = "wecom_card"

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[str] = mapped_column(String(128), unique=True)
    order_id: Mapped[str] = mapped_column(String(200), index=True)
    node_id: Mapped[str] = mapped_column(String(100))
    username: Mapped[str] = mapped_column(String(100))
    wecom_userid: Mapped[str] = mapped_column(String(100), default="")
    org_path: Mapped[str] = mapped_column(String(400), default="")
    status: Mapped[str] = mapped_column(String(16), default="sent")
    clicked_at: Mapped[datetime | None] = mapped_column()
    response_code: Mapped[str] = mapped_column(String(200), default="")
    applied: Mapped[str] = mapped_column(String(16), default="")
    """"" until the click was applied to the order; then "done" or "failed"."""
    apply_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class InboundMessage(Base):
    """A marketplace message as received (stored before it is processed).

    `(platform, msg_id)` is unique: a replay is dropped at the insert. The body is sealed
    (AES-GCM, servflow.integrations.sealing) because it holds the buyer's name, phone and
    address; it is opened only to make the order.
    """

    __tablename__ = "inbound_message"
    __table_args__ = (UniqueConstraint("platform", "msg_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    msg_id: Mapped[str] = mapped_column(String(128))
    tag: Mapped[str] = mapped_column(String(32), default="")
    external_order_id: Mapped[str] = mapped_column(String(128), default="", index=True)
    sealed_body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="received", index=True)
    """received → done (order started, or nothing to do) or failed (after max attempts)."""
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")
    order_id: Mapped[str] = mapped_column(String(200), default="")
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column()


class OutboundUpdate(Base):
    """A status change to write back to a marketplace (the outbound queue)."""

    __tablename__ = "outbound_update"

    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    external_order_id: Mapped[str] = mapped_column(String(128), index=True)
    order_id: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    idempotency_key: Mapped[str] = mapped_column(String(300), unique=True)
    state: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column()
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column()
