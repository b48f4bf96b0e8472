"""The notify tables: the outbox."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Index,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from servflow.platform.base import Base, JSONType, utcnow


class Notification(Base):
    """Outbox of messages, written in the transaction of the effect that caused them.

    A relay delivers each row: it claims it (`claimed_until`, so two relays never send one
    row at once), sends it, and marks it `sent` (`sent_at`), or counts the attempt, keeps the
    error and sets `next_attempt_at` (backoff) until `max attempts`, when it is `dead`.
    """

    __tablename__ = "notification"
    __table_args__ = (Index("ix_notification_status_next", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[str | None] = mapped_column(String(200), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    recipients: Mapped[list[str]] = mapped_column(JSONType, default=list)
    message: Mapped[str] = mapped_column(Text)
    idempotency_key: Mapped[str] = mapped_column(String(300), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column()
    kind: Mapped[str] = mapped_column(String(16), default="text", server_default="text")
    """text, markdown, textcard, template_card (accept/decline) or robot (group webhook)."""
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    org_path: Mapped[str] = mapped_column(String(400), default="", server_default="")
    status: Mapped[str] = mapped_column(String(16), default="pending", server_default="pending")
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    next_attempt_at: Mapped[datetime | None] = mapped_column()
    claimed_until: Mapped[datetime | None] = mapped_column()
    last_error: Mapped[str] = mapped_column(Text, default="", server_default="")
