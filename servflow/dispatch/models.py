"""The dispatch tables."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Integer,
    Numeric,
    String,
    UniqueConstraint,
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
    # [{"skill": "refrigeration", "level": 2, "expires": "2027-06-30"}]: checked against
    # the skill catalogue; a skill in `skills` without a certificate counts as level 1.
    certificates: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    # {"days": [1, ..., 7], "start": "08:00", "end": "20:00"} (local time); {}: always.
    shift: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    # [{"from": "2026-12-01", "to": "2026-12-03"}], both days included.
    leaves: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    # Every change dispatch sees (position, state, certificates) moves this: the spatial
    # index catches up from it.
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)

    outlet: Mapped[OrgUnit] = relationship()
    user: Mapped[AppUser | None] = relationship()


class Skill(Base):
    """A skill of the catalogue an engineer may hold a certificate in."""

    __tablename__ = "skill"
    __table_args__ = (CheckConstraint("levels >= 1", name="levels_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name_zh: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100))
    levels: Mapped[int] = mapped_column(Integer, default=1)
    # How long a new certificate is valid when its expiry is not given (None: no expiry).
    validity_days: Mapped[int | None] = mapped_column(Integer)


class DispatchPolicy(Base):
    """One version of a dispatch policy (servflow.dispatch.policies.Policy as `body`)."""

    __tablename__ = "dispatch_policy"
    __table_args__ = (UniqueConstraint("key", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), index=True)
    version: Mapped[int] = mapped_column(Integer)
    region: Mapped[str] = mapped_column(String(64), default="")
    pipeline: Mapped[str] = mapped_column(String(64), default="")
    body: Mapped[dict[str, Any]] = mapped_column(JSONType)
    created_by: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ServiceArea(Base):
    """An outlet's service area: a GeoJSON Polygon or MultiPolygon geometry."""

    __tablename__ = "service_area"

    id: Mapped[int] = mapped_column(primary_key=True)
    outlet_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"), unique=True)
    geometry: Mapped[dict[str, Any]] = mapped_column(JSONType)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    outlet: Mapped[OrgUnit] = relationship()


class RoutingRule(Base):
    """Sends a report to a queue by channel, service type and urgency (first match wins,
    by `position`); an empty channel or service type matches any; `up_to_priority` N > 0
    matches orders of priority 1 (most urgent) to N only."""

    __tablename__ = "routing_rule"

    id: Mapped[int] = mapped_column(primary_key=True)
    position: Mapped[int] = mapped_column(Integer, index=True)
    channel: Mapped[str] = mapped_column(String(32), default="")
    service_type: Mapped[str] = mapped_column(String(64), default="")
    up_to_priority: Mapped[int] = mapped_column(Integer, default=0)
    queue: Mapped[str] = mapped_column(String(32))
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class DispatchDecision(Base):
    __tablename__ = "dispatch_decision"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("work_order.order_id"), index=True)
    node_id: Mapped[str] = mapped_column(String(64))
    visit: Mapped[int] = mapped_column(Integer)
    # None while the order waits for a dispatcher (status "queued").
    engineer_id: Mapped[int | None] = mapped_column(ForeignKey("engineer.id"), index=True)
    outlet_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id"))
    strategy: Mapped[str] = mapped_column(String(32))
    # assigned | offered | accepted | declined | timeout | queued | picked
    status: Mapped[str] = mapped_column(String(16), default="assigned")
    rung: Mapped[str] = mapped_column(String(64), default="")
    policy_key: Mapped[str] = mapped_column(String(64), default="")
    policy_version: Mapped[int] = mapped_column(Integer, default=0)
    customer_id: Mapped[int | None] = mapped_column(Integer, index=True)
    fault: Mapped[str] = mapped_column(String(64), default="")
    # The rungs tried, the top candidates with their score parts, counts per exclusion.
    explanation: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    distance_km: Mapped[Decimal | None] = mapped_column(Numeric(10, 2))
    score: Mapped[float] = mapped_column(Float)
    reason: Mapped[str] = mapped_column(String(500))
    candidates: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    engineer: Mapped[Engineer | None] = relationship()
