"""The outbox's queries."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from servflow.notify.models import Notification
from servflow.platform.scope import under

OPEN = ("pending", "retry")


def due_ids(session: Session, *, now: datetime, limit: int) -> list[int]:
    """Messages waiting for delivery whose time has come and that no relay holds."""
    return list(
        session.scalars(
            select(Notification.id)
            .where(
                Notification.status.in_(OPEN),
                or_(Notification.next_attempt_at.is_(None), Notification.next_attempt_at <= now),
                or_(Notification.claimed_until.is_(None), Notification.claimed_until <= now),
            )
            .order_by(Notification.id)
            .limit(limit)
        )
    )


def claim(session: Session, *, notification_id: int, now: datetime, until: datetime) -> bool:
    """Takes the message for one relay until `until`; False when another holds it or it is
    no longer open. Counts the attempt."""
    result = session.execute(
        update(Notification)
        .where(
            Notification.id == notification_id,
            Notification.status.in_(OPEN),
            or_(Notification.claimed_until.is_(None), Notification.claimed_until <= now),
        )
        .values(claimed_until=until, attempts=Notification.attempts + 1)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0) == 1)


def page(
    session: Session,
    *,
    scope_path: str,
    status: str | None,
    order_id: str | None,
    limit: int,
    offset: int,
) -> tuple[list[Notification], int]:
    where = [under(Notification.org_path, scope_path)]
    if status:
        where.append(Notification.status == status)
    if order_id:
        where.append(Notification.order_id == order_id)
    condition = and_(*where)
    count = session.scalar(select(func.count()).select_from(Notification).where(condition)) or 0
    rows = session.scalars(
        select(Notification)
        .where(condition)
        .order_by(Notification.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    return list(rows), int(count)


def backlog(session: Session) -> tuple[int, datetime | None]:
    unsent, oldest = session.execute(
        select(func.count(), func.min(Notification.created_at)).where(
            Notification.sent_at.is_(None)
        )
    ).one()
    return int(unsent), oldest
