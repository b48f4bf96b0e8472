"""SLA rules (pure): the policy format, choosing a policy's rule, and a clock's moments.

A clock runs in business time (workflows.business_time): its deadline is `target` of working
time after the step started, plus the working time it spent paused. Each ladder level fires
at a share of the target (`at`, percent) plus `after` more working time: 80 → remind the
engineer; 100 → the dispatcher and region manager; 100 + PT2H → HQ.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from workflows.business_time import BusinessCalendar, add_business_time
from workflows.durations import parse_duration

KEY = r"^[a-z][a-z0-9_-]{1,63}$"
AT_RISK_PERCENT = 80
"""A step whose ladder has no level below 100 % is at risk from this share of its target."""


def _duration(value: str) -> str:
    if value:
        parse_duration(value)
    return value


class LadderLevel(BaseModel):
    """One escalation level: when (`at` percent of the target, then `after` more working
    time) and what: `notify` roles and/or the assignee, `reassign` the step to a user or
    open it to a role, or `raise_priority` (to `priority`, or one step up)."""

    model_config = ConfigDict(extra="forbid")

    at: int = Field(ge=1, le=1000, description="percent of the target, e.g. 80 or 100")
    after: str = Field(default="", description="ISO-8601 working time after `at`, e.g. PT2H")
    action: Literal["notify", "reassign", "raise_priority"]
    to_roles: list[str] = Field(default_factory=list, max_length=10)
    to_assignee: bool = False
    reassign_to: str = Field(default="", max_length=100, description="user who takes over")
    escalate_to: str = Field(default="", max_length=64, description="role that may complete")
    priority: int = Field(default=0, ge=0, le=5, description="0: one step up (1 is highest)")

    @field_validator("after")
    @classmethod
    def _after(cls, value: str) -> str:
        return _duration(value)

    def offset(self, target: timedelta) -> timedelta:
        """Working time from the clock's start to this level."""
        extra = parse_duration(self.after) if self.after else timedelta(0)
        return target * self.at / 100 + extra


class PolicyRule(BaseModel):
    """Orders matching every non-empty list get `within` and `ladder`; the first rule of a
    policy that matches wins."""

    model_config = ConfigDict(extra="forbid")

    priorities: list[int] = Field(default_factory=list, max_length=10)
    tiers: list[str] = Field(default_factory=list, max_length=20)
    channels: list[str] = Field(default_factory=list, max_length=20)
    within: str = Field(description="target in working time (ISO-8601), e.g. PT2H")
    ladder: list[LadderLevel] = Field(default_factory=list, max_length=10)

    @field_validator("within")
    @classmethod
    def _within(cls, value: str) -> str:
        parse_duration(value)
        return value

    def matches(self, *, priority: int, tier: str, channel: str) -> bool:
        return (
            (not self.priorities or priority in self.priorities)
            and (not self.tiers or tier in self.tiers)
            and (not self.channels or channel in self.channels)
        )


class PolicyBody(BaseModel):
    """What a policy version holds (the API's and the demo file's format)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    calendar: str = Field(default="", description="calendar key; empty: the order's own")
    rules: list[PolicyRule] = Field(min_length=1, max_length=50)


@dataclass(frozen=True)
class Terms:
    """What a clock counts: the target, the ladder, and where they came from."""

    target: timedelta
    ladder: list[LadderLevel]
    policy_key: str = ""
    policy_version: int = 0


def choose_rule(body: PolicyBody, *, priority: int, tier: str, channel: str) -> PolicyRule | None:
    """The first rule of `body` that matches the order, or None."""
    return next(
        (r for r in body.rules if r.matches(priority=priority, tier=tier, channel=channel)), None
    )


def node_ladder(
    *, on_breach: str, notify: list[str], escalate_to: str, reassign_to: str
) -> list[LadderLevel]:
    """A node's own `sla` (no policy) as a one-level ladder at 100 %."""
    if on_breach == "reassign":
        return [LadderLevel(at=100, action="reassign", reassign_to=reassign_to, to_roles=notify)]
    if on_breach == "escalate":
        return [
            LadderLevel(
                at=100, action="reassign", escalate_to=escalate_to, to_roles=[*notify, escalate_to]
            )
        ]
    return [LadderLevel(at=100, action="notify", to_roles=notify)]


@dataclass(frozen=True)
class Moments:
    """A running clock's deadline, at-risk moment and level times (UTC)."""

    deadline: datetime
    at_risk_at: datetime
    levels: list[datetime]


def moments(
    *,
    started_at: datetime,
    target: timedelta,
    paused: timedelta,
    ladder: list[LadderLevel],
    calendar: BusinessCalendar,
) -> Moments:
    """Where a clock's moments fall: each is its share of working time after `started_at`,
    moved by the working time spent paused."""

    def at(offset: timedelta) -> datetime:
        return add_business_time(started_at, offset + paused, calendar)

    early = [level.offset(target) for level in ladder if level.at < 100]
    risk = min(early) if early else target * AT_RISK_PERCENT / 100
    return Moments(
        deadline=at(target),
        at_risk_at=at(risk),
        levels=[at(level.offset(target)) for level in ladder],
    )


def mainland_days_off(first_year: int, last_year: int) -> tuple[list[date], list[date]]:
    """Mainland China's public holidays and make-up workdays (调休) in the years given, as
    the `chinese-calendar` package knows them (its release says up to which year)."""
    import chinese_calendar

    def within(day: date) -> bool:
        return first_year <= day.year <= last_year

    holidays = sorted(d for d in chinese_calendar.holidays if within(d))
    workdays = sorted(d for d in chinese_calendar.workdays if within(d) and d.isoweekday() >= 6)
    return holidays, workdays
