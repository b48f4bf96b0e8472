"""SLA use cases: calendars and policies (scoped, editable by HQ and region admins), the
clock of each business-time step (start, pause, resume, escalate, close) and the list of
breached and at-risk steps."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy.orm import Session

from servflow.notify import service as notify
from servflow.org import service as org
from servflow.org.rules import Principal
from servflow.platform.effects import OrderChanges, OrderFacts, StepOutcome
from servflow.platform.errors import Forbidden, NotFound, invalid_field
from servflow.platform.scope import in_scope
from servflow.sla import repo
from servflow.sla.models import PAUSE_REASON_MAX, SlaCalendar, SlaClock, SlaPolicy
from servflow.sla.rules import (
    KEY,
    LadderLevel,
    PolicyBody,
    Terms,
    choose_rule,
    mainland_days_off,
    moments,
    node_ladder,
)
from workflows.business_time import ROUND_THE_CLOCK, BusinessCalendar, business_time_between
from workflows.contracts import SlaClockParams, SlaLevelPlan, SlaPlan, StepInput, StepResult
from workflows.durations import parse_duration
from workflows.nodes.base import DEFAULT_CHANNEL, Sla

log = logging.getLogger(__name__)
EDIT_ROLES = ("hq_admin", "region_manager")


# ---- calendars and policies -------------------------------------------------------------


class CalendarIn(BaseModel):
    """A calendar as the API takes it: `calendar` is the BusinessCalendar; `mainland_years`
    [first, last] adds mainland China's holidays and make-up workdays of those years."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    scope_path: str = Field(default="", max_length=400, description="default: your own scope")
    calendar: BusinessCalendar
    mainland_years: list[int] = Field(default_factory=list, max_length=2)


def _own_scope(user: Principal, scope_path: str, field: str) -> str:
    path = scope_path or user.scope_path
    if not user.has(*EDIT_ROLES) or not in_scope(path, user.scope_path):
        raise Forbidden(f"{field}: you may edit SLA settings only within your own scope")
    return path


def save_calendar(
    session: Session, user: Principal, *, key: str, data: CalendarIn, now: datetime
) -> SlaCalendar:
    """Creates or replaces the calendar `key` within the caller's scope."""
    if not _matches(KEY, key):
        raise invalid_field("key", "lower-case letters, digits, '-' and '_' (2-64)")
    path = _own_scope(user, data.scope_path, "scope_path")
    row = repo.get_calendar(session, key=key)
    if row is not None and not in_scope(row.scope_path, user.scope_path):
        raise NotFound(f"no calendar '{key}'")
    calendar = data.calendar
    if data.mainland_years:
        first, last = min(data.mainland_years), max(data.mainland_years)
        if last - first > 20:
            raise invalid_field("mainland_years", "at most 20 years")
        holidays, workdays = mainland_days_off(first, last)
        calendar = calendar.model_copy(
            update={
                "holidays": sorted({*calendar.holidays, *holidays}),
                "workdays": sorted({*calendar.workdays, *workdays}),
            }
        )
    body = BusinessCalendar.model_validate(calendar.model_dump()).model_dump(mode="json")
    if row is None:
        row = SlaCalendar(key=key)
        session.add(row)
    row.name, row.scope_path, row.body = data.name, path, body
    row.updated_at, row.updated_by = now, user.username
    session.flush()
    return row


def calendars(session: Session, user: Principal) -> Sequence[SlaCalendar]:
    return repo.visible_calendars(session, scope_path=user.scope_path)


class PolicyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scope_path: str = Field(default="", max_length=400, description="default: your own scope")
    policy: PolicyBody


def save_policy(
    session: Session, user: Principal, *, key: str, data: PolicyIn, now: datetime
) -> SlaPolicy:
    """Adds a version of policy `key` (1 for a new one); running clocks keep theirs."""
    if not _matches(KEY, key):
        raise invalid_field("key", "lower-case letters, digits, '-' and '_' (2-64)")
    path = _own_scope(user, data.scope_path, "scope_path")
    latest = repo.latest_policy(session, key=key)
    if latest is not None and not in_scope(latest.scope_path, user.scope_path):
        raise NotFound(f"no SLA policy '{key}'")
    if data.policy.calendar and repo.get_calendar(session, key=data.policy.calendar) is None:
        raise invalid_field("policy.calendar", f"no calendar '{data.policy.calendar}'")
    row = SlaPolicy(
        key=key,
        version=(latest.version if latest else 0) + 1,
        scope_path=path,
        body=data.policy.model_dump(mode="json"),
        created_at=now,
        created_by=user.username,
    )
    session.add(row)
    session.flush()
    return row


def policies(session: Session, user: Principal) -> Sequence[SlaPolicy]:
    return repo.latest_policies(session, scope_path=user.scope_path)


def _matches(pattern: str, value: str) -> bool:
    return len(value) <= 64 and re.fullmatch(pattern.strip("^$"), value) is not None


# ---- clocks -------------------------------------------------------------------------------


def _calendar(session: Session, *, org_path: str, key: str) -> tuple[str, BusinessCalendar]:
    row = repo.get_calendar(session, key=key) if key else None
    row = row or repo.calendar_for(session, org_path=org_path)
    if row is None:
        return "", ROUND_THE_CLOCK
    return row.key, BusinessCalendar.model_validate(row.body)


def _terms(
    session: Session, step: StepInput, params: SlaClockParams, org_path: str
) -> tuple[Terms, str]:
    """The target and ladder of a starting clock, and the calendar key its policy names."""
    row = repo.latest_policy(session, key=params.policy) if params.policy else None
    if row is None or not in_scope(org_path, row.scope_path):
        return terms_for(step, params, None)
    return terms_for(step, params, PolicyBody.model_validate(row.body), row.version)


def terms_for(
    step: StepInput, params: SlaClockParams, body: PolicyBody | None, version: int = 0
) -> tuple[Terms, str]:
    """The policy's first rule matching the order's priority, customer tier (`customer.tier`)
    and channel (variable `channel`, else `customer.channel`), with the calendar key the
    policy names; without one, the node's own `within` and breach action."""
    if body is not None:
        rule = choose_rule(
            body,
            priority=step.context.priority,
            tier=str(step.context.customer.get("tier", "")),
            channel=str(step.variables.get("channel") or step.context.customer.get("channel", "")),
        )
        if rule is not None:
            target = parse_duration(rule.within)
            return Terms(target, rule.ladder, params.policy, version), body.calendar
    ladder = node_ladder(
        on_breach=params.on_breach,
        notify=params.notify,
        escalate_to=params.escalate_to,
        reassign_to=params.reassign_to,
    )
    return Terms(parse_duration(params.within), ladder), ""


def clock_event(session: Session, step: StepInput, now: datetime, facts: OrderFacts) -> StepOutcome:
    """The `sla_clock` effect: starts, pauses or resumes the step's clock at `params.at`
    (workflow time) and answers its plan (SlaPlan). Repeating an event changes nothing."""
    params = SlaClockParams.model_validate(step.params)
    clock = repo.get_clock(session, order_id=step.order_id, node_id=step.node_id, visit=step.visit)
    if clock is None:
        clock = _start(session, step, params, facts)
    apply_event(clock, params)
    session.flush()
    plan = plan_of(clock)
    what = "paused" if plan.paused else f"due {plan.deadline:%Y-%m-%d %H:%M} UTC"
    summary = f"SLA {params.event}: {what}" + (f" ({params.reason})" if params.reason else "")
    return StepOutcome(result=StepResult(output=plan.model_dump(mode="json"), summary=summary))


def apply_event(clock: SlaClock, params: SlaClockParams) -> None:
    """Pauses or resumes `clock` at `params.at` (a start, or a repeat, changes nothing): a
    resumed clock's moments move by the working time it spent paused. A pause stores its
    reason (None if none given), a resume clears it."""
    if params.event == "pause" and clock.paused_at is None:
        clock.paused_at, clock.deadline, clock.at_risk_at = params.at, None, None
        clock.pause_reason = params.reason.strip()[:PAUSE_REASON_MAX] or None
    elif params.event == "resume" and clock.paused_at is not None:
        calendar = BusinessCalendar.model_validate(clock.calendar)
        spent = business_time_between(clock.paused_at, params.at, calendar)
        clock.paused_seconds += round(spent.total_seconds())
        clock.paused_at, clock.pause_reason = None, None
        place_moments(clock)


def new_clock(
    step: StepInput,
    params: SlaClockParams,
    *,
    terms: Terms,
    calendar_key: str,
    calendar: BusinessCalendar,
    org_path: str,
    region: str,
) -> SlaClock:
    """A started clock (not yet stored) with its moments placed."""
    clock = SlaClock(
        order_id=step.order_id,
        node_id=step.node_id,
        visit=step.visit,
        node_name=params.node_name,
        org_path=org_path,
        region=region,
        assignee=params.assignee,
        priority=step.context.priority,
        sandbox=step.sandbox,
        policy_key=terms.policy_key,
        policy_version=terms.policy_version,
        calendar_key=calendar_key,
        calendar=calendar.model_dump(mode="json"),
        target_seconds=int(terms.target.total_seconds()),
        ladder=[level.model_dump(mode="json") for level in terms.ladder],
        fired=[],
        started_at=params.at,
        paused_seconds=0,
    )
    try:
        place_moments(clock)
    except ValueError:
        # A calendar with no working time ahead must not hold the order: wall-clock time.
        log.warning(
            "calendar %r has no working time ahead; %s counts wall time",
            calendar_key,
            step.order_id,
        )
        clock.calendar = ROUND_THE_CLOCK.model_dump(mode="json")
        place_moments(clock)
    return clock


def _start(
    session: Session, step: StepInput, params: SlaClockParams, facts: OrderFacts
) -> SlaClock:
    # An order no step has placed yet belongs where its context says.
    org_path = facts.org_path or org.path_of_context(
        session, region=step.context.region, outlet=step.context.outlet
    )
    terms, calendar_key = _terms(session, step, params, org_path)
    key, calendar = _calendar(session, org_path=org_path, key=calendar_key)
    clock = new_clock(
        step,
        params,
        terms=terms,
        calendar_key=key,
        calendar=calendar,
        org_path=org_path,
        region=facts.region or step.context.region,
    )
    session.add(clock)
    return clock


def place_moments(clock: SlaClock) -> None:
    found = moments(
        started_at=clock.started_at,
        target=timedelta(seconds=clock.target_seconds),
        paused=timedelta(seconds=clock.paused_seconds),
        ladder=[LadderLevel.model_validate(level) for level in clock.ladder],
        calendar=BusinessCalendar.model_validate(clock.calendar),
    )
    clock.deadline, clock.at_risk_at = found.deadline, found.at_risk_at


def plan_of(clock: SlaClock) -> SlaPlan:
    """The clock as the workflow sees it: its moments, and its levels in firing order."""
    ladder = [LadderLevel.model_validate(level) for level in clock.ladder]
    paused = clock.paused_at is not None
    times: list[datetime | None] = [None] * len(ladder)
    if not paused:
        times = list(
            moments(
                started_at=clock.started_at,
                target=timedelta(seconds=clock.target_seconds),
                paused=timedelta(seconds=clock.paused_seconds),
                ladder=ladder,
                calendar=BusinessCalendar.model_validate(clock.calendar),
            ).levels
        )
    levels = [
        SlaLevelPlan(
            index=index,
            at=at,
            percent=level.at,
            after=level.after,
            action=level.action,
            to_roles=level.to_roles,
            to_assignee=level.to_assignee,
            reassign_to=level.reassign_to,
            escalate_to=level.escalate_to,
            priority=level.priority,
        )
        for index, (level, at) in enumerate(zip(ladder, times, strict=True))
    ]
    levels.sort(key=lambda v: (v.at is None, v.at or clock.started_at, v.index))
    return SlaPlan(
        deadline=clock.deadline,
        at_risk_at=clock.at_risk_at,
        paused=paused,
        levels=levels,
        policy_key=clock.policy_key,
        policy_version=clock.policy_version,
        calendar_key=clock.calendar_key,
    )


class StepSla(BaseModel):
    """A waiting step's SLA as the engineer's phone shows it: its deadline (None while paused
    or before its business clock has started), whether it is paused and why, and whether it
    may pause at all (a business-time clock; a plain timer cannot)."""

    deadline: datetime | None
    paused: bool
    pause_reason: str | None
    can_pause: bool


def step_sla(
    session: Session,
    *,
    order_id: str,
    node_id: str,
    visit: int,
    node_sla: dict[str, Any] | None,
    timer_deadline: datetime | None,
) -> StepSla | None:
    """The SLA of step `node_id` (visit `visit`) whose node says `node_sla` (None: no SLA),
    read from its stored clock; a plain timer's deadline is `timer_deadline` (the order's
    live state)."""
    if not node_sla:
        return None
    if not Sla.model_validate(node_sla).business:
        return StepSla(deadline=timer_deadline, paused=False, pause_reason=None, can_pause=False)
    clock = repo.get_clock(session, order_id=order_id, node_id=node_id, visit=visit)
    if clock is None:  # starting: the workflow has not stored it yet
        return StepSla(deadline=None, paused=False, pause_reason=None, can_pause=True)
    return StepSla(
        deadline=clock.deadline,
        paused=clock.paused_at is not None,
        pause_reason=clock.pause_reason if clock.paused_at is not None else None,
        can_pause=True,
    )


def escalate(session: Session, step: StepInput, now: datetime, facts: OrderFacts) -> StepOutcome:
    """The `sla_escalate` effect: marks the ladder level fired on the clock (with its new
    assignee or priority) and writes the message to whom the level names (outbox).

    `raise_priority` also sets the order's read-model priority (what the order lists, the
    desk and the dashboards sort and show) to the priority the workflow just gave the
    order — `step.context.priority`, the value of its search attribute — through the
    orders domain (`OrderChanges`). An absolute value, applied once per level (the effect's
    idempotency key), so a retry or a replay never raises it twice."""
    try:
        level = SlaLevelPlan.model_validate(step.params.get("level"))
    except ValidationError:
        raise invalid_field("params.level", "not an SLA ladder level") from None
    message = str(step.params.get("message", ""))[:2000] or "SLA"
    clock = repo.get_clock(session, order_id=step.order_id, node_id=step.node_id, visit=step.visit)
    if clock is not None:
        clock.fired = sorted({*clock.fired, level.index})
        if level.action == "reassign" and level.reassign_to:
            clock.assignee = level.reassign_to
        if level.action == "raise_priority":
            clock.priority = level.priority or max(1, clock.priority - 1)
    changes = OrderChanges()
    output: dict[str, Any] = {"level": level.index + 1, "action": level.action}
    if level.action == "raise_priority":
        changes = OrderChanges(priority=step.context.priority)
        output["priority"] = step.context.priority
    summary = f"SLA level {level.index + 1} ({level.action})"
    if level.to_roles or level.to_assignee:
        notice = step.model_copy(
            update={
                "params": {
                    "channel": DEFAULT_CHANNEL,
                    "to_roles": level.to_roles,
                    "to_assignee": level.to_assignee,
                    "message": message,
                }
            }
        )
        told = notify.notify(session, notice, now, facts)
        output |= told.result.output
        summary = f"{summary}: {told.result.summary}"
    session.flush()
    return StepOutcome(result=StepResult(output=output, summary=summary), changes=changes)


def close_clocks(
    session: Session,
    *,
    order_id: str,
    done: Iterable[tuple[str, int, datetime]] | None,
    now: datetime,
) -> None:
    """Stops the clocks of the steps completed (`done`: node, visit, when), or of every step
    of the order when `done` is None (the order closed)."""
    clocks = repo.open_clocks(session, order_id=order_id)
    if not clocks:
        return
    finished = None if done is None else {(node, visit): at for node, visit, at in done}
    for clock in clocks:
        if finished is None:
            clock.closed_at = now
        elif (clock.node_id, clock.visit) in finished:
            clock.closed_at = finished[(clock.node_id, clock.visit)]


# ---- the breach list --------------------------------------------------------------------


def breach_list(
    session: Session, user: Principal, *, state: str, now: datetime, limit: int, offset: int
) -> tuple[Sequence[SlaClock], int]:
    """Breached (deadline passed) or at-risk steps still open in the caller's scope, read
    from the stored deadlines; an engineer sees the steps waiting for them, wherever."""
    if state not in ("breached", "at_risk"):
        raise invalid_field("state", "'breached' or 'at_risk'")
    return repo.breaches(
        session,
        scope_path=None if user.engineer_only else user.scope_path,
        state=state,
        now=now,
        assignee=user.username if user.engineer_only else None,
        limit=limit,
        offset=offset,
    )


def order_breached(session: Session, *, order_id: str, now: datetime) -> bool:
    """Whether the order breached a business-time SLA: the fact settlement's deductions read
    (`sla_breached`)."""
    return repo.breached_clock_exists(session, order_id=order_id, now=now)
