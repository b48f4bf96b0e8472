"""The notify tables."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from servflow.platform.base import Base, JSONType, utcnow


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
