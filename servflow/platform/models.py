"""The platform tables."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Integer,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from servflow.platform.base import Base, JSONType, utcnow


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
