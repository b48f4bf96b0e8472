"""The SLA tables: calendars, policies (versioned) and the clock of each timed step."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from servflow.platform.base import Base, JSONType, utcnow

PAUSE_REASON_MAX = 200
"""The longest pause reason stored (the API takes at most this many characters)."""


class SlaCalendar(Base):
    """Working hours, holidays and make-up workdays (workflows.business_time.BusinessCalendar)
    for the org units at or under `scope_path`; the deepest scope covering an order wins."""

    __tablename__ = "sla_calendar"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    scope_path: Mapped[str] = mapped_column(String(400), index=True)
    body: Mapped[dict[str, Any]] = mapped_column(JSONType)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(100), default="")


class SlaPolicy(Base):
    """One version of an SLA policy: targets and escalation ladders by priority, customer
    tier and channel (servflow.sla.rules.PolicyBody). A save adds a version; clocks keep
    the version they started with."""

    __tablename__ = "sla_policy"
    __table_args__ = (UniqueConstraint("key", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), index=True)
    version: Mapped[int] = mapped_column(Integer)
    scope_path: Mapped[str] = mapped_column(String(400), index=True)
    body: Mapped[dict[str, Any]] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(100), default="")


class SlaClock(Base):
    """The business-time clock of one step visit: its deadline and at-risk moment as last
    computed (None while paused), what it was computed from, and the ladder levels fired.
    `pause_reason` is the reason given with the pause in force (None while it runs).
    The breach list reads these stored moments, so a breach shows at its deadline whatever
    the workflow's timer does. `closed_at` is set when the step completes or the order
    closes."""

    __tablename__ = "sla_clock"
    __table_args__ = (UniqueConstraint("order_id", "node_id", "visit"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[str] = mapped_column(String(200), index=True)
    node_id: Mapped[str] = mapped_column(String(64))
    visit: Mapped[int] = mapped_column(Integer)
    node_name: Mapped[str] = mapped_column(String(200), default="")
    org_path: Mapped[str] = mapped_column(String(400), index=True)
    region: Mapped[str] = mapped_column(String(64), default="")
    assignee: Mapped[str] = mapped_column(String(100), default="")
    priority: Mapped[int] = mapped_column(Integer, default=3)
    sandbox: Mapped[bool] = mapped_column(default=False)
    policy_key: Mapped[str] = mapped_column(String(64), default="")
    policy_version: Mapped[int] = mapped_column(Integer, default=0)
    calendar_key: Mapped[str] = mapped_column(String(64), default="")
    calendar: Mapped[dict[str, Any]] = mapped_column(JSONType)
    target_seconds: Mapped[int] = mapped_column(Integer)
    ladder: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    fired: Mapped[list[int]] = mapped_column(JSONType, default=list)
    started_at: Mapped[datetime] = mapped_column()
    paused_at: Mapped[datetime | None] = mapped_column()
    pause_reason: Mapped[str | None] = mapped_column(String(PAUSE_REASON_MAX))
    paused_seconds: Mapped[int] = mapped_column(Integer, default=0)
    deadline: Mapped[datetime | None] = mapped_column(index=True)
    at_risk_at: Mapped[datetime | None] = mapped_column(index=True)
    closed_at: Mapped[datetime | None] = mapped_column(index=True)
