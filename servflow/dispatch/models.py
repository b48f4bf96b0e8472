"""The dispatch tables."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    CheckConstraint,
    Float,
    ForeignKey,
    Integer,
    Numeric,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from servflow.platform.base import Base, JSONType, utcnow

if TYPE_CHECKING:
    from servflow.org.models import AppUser, OrgUnit


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
