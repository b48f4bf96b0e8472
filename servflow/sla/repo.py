"""SLA queries: calendars and policies by scope, clocks by step, the breach list."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from servflow.platform.scope import under
from servflow.sla.models import SlaCalendar, SlaClock, SlaPolicy


def _covering(path: str) -> list[str]:
    """The scope paths at or above `path` ("/hq/huabei/bj" → "/hq/huabei/bj", "/hq/huabei",
    "/hq"), deepest first."""
    parts = path.strip("/").split("/") if path.strip("/") else []
    return ["/" + "/".join(parts[:n]) for n in range(len(parts), 0, -1)]


def calendar_for(session: Session, *, org_path: str) -> SlaCalendar | None:
    """The calendar of the deepest scope at or above `org_path`."""
    paths = _covering(org_path)
    if not paths:
        return None
    rows = session.scalars(select(SlaCalendar).where(SlaCalendar.scope_path.in_(paths))).all()
    return min(rows, key=lambda r: (paths.index(r.scope_path), r.key), default=None)


def get_calendar(session: Session, *, key: str) -> SlaCalendar | None:
    return session.scalars(select(SlaCalendar).where(SlaCalendar.key == key)).one_or_none()


def visible_calendars(session: Session, *, scope_path: str) -> Sequence[SlaCalendar]:
    """Calendars a caller scoped at `scope_path` sees: those in their scope and those above
    it that apply to them."""
    above = _covering(scope_path)
    query = select(SlaCalendar).where(
        or_(under(SlaCalendar.scope_path, scope_path), SlaCalendar.scope_path.in_(above))
    )
    return session.scalars(query.order_by(SlaCalendar.scope_path, SlaCalendar.key)).all()


def latest_policy(session: Session, *, key: str) -> SlaPolicy | None:
    query = select(SlaPolicy).where(SlaPolicy.key == key).order_by(SlaPolicy.version.desc())
    return session.scalars(query.limit(1)).first()


def policy_version(session: Session, *, key: str, version: int) -> SlaPolicy | None:
    query = select(SlaPolicy).where(SlaPolicy.key == key, SlaPolicy.version == version)
    return session.scalars(query).one_or_none()


def latest_policies(session: Session, *, scope_path: str) -> Sequence[SlaPolicy]:
    """The latest version of each policy in or above the caller's scope."""
    above = _covering(scope_path)
    latest = (
        select(SlaPolicy.key, func.max(SlaPolicy.version).label("version"))
        .group_by(SlaPolicy.key)
        .subquery()
    )
    query = (
        select(SlaPolicy)
        .join(latest, and_(latest.c.key == SlaPolicy.key, latest.c.version == SlaPolicy.version))
        .where(or_(under(SlaPolicy.scope_path, scope_path), SlaPolicy.scope_path.in_(above)))
        .order_by(SlaPolicy.key)
    )
    return session.scalars(query).all()


def get_clock(session: Session, *, order_id: str, node_id: str, visit: int) -> SlaClock | None:
    query = select(SlaClock).where(
        SlaClock.order_id == order_id, SlaClock.node_id == node_id, SlaClock.visit == visit
    )
    return session.scalars(query).one_or_none()


def open_clocks(session: Session, *, order_id: str) -> Sequence[SlaClock]:
    query = select(SlaClock).where(SlaClock.order_id == order_id, SlaClock.closed_at.is_(None))
    return session.scalars(query).all()


def breaches(
    session: Session,
    *,
    scope_path: str | None,
    state: str,
    now: datetime,
    assignee: str | None,
    limit: int,
    offset: int,
) -> tuple[Sequence[SlaClock], int]:
    """Open, running clocks under `scope_path` (None: anywhere, for `assignee`) past their
    deadline ("breached") or past their at-risk moment but not their deadline ("at_risk"),
    most overdue first."""
    if state == "breached":
        when = SlaClock.deadline <= now
    else:
        when = and_(SlaClock.at_risk_at <= now, SlaClock.deadline > now)
    conditions = [
        SlaClock.closed_at.is_(None),
        SlaClock.paused_at.is_(None),
        SlaClock.sandbox.is_(False),
        SlaClock.deadline.is_not(None),
        when,
    ]
    if scope_path is not None:
        conditions.append(under(SlaClock.org_path, scope_path))
    if assignee is not None:
        conditions.append(SlaClock.assignee == assignee)
    count = session.scalar(select(func.count()).select_from(SlaClock).where(*conditions)) or 0
    query = select(SlaClock).where(*conditions).order_by(SlaClock.deadline, SlaClock.id)
    return session.scalars(query.limit(limit).offset(offset)).all(), int(count)


def breached_clock_exists(session: Session, *, order_id: str, now: datetime) -> bool:
    """Whether any step of the order ran past its business-time deadline (closed late, or
    still open after it)."""
    finished = func.coalesce(SlaClock.closed_at, now)
    stmt = (
        select(SlaClock.id)
        .where(
            SlaClock.order_id == order_id,
            SlaClock.deadline.is_not(None),
            SlaClock.deadline < finished,
        )
        .limit(1)
    )
    return session.scalar(stmt) is not None
