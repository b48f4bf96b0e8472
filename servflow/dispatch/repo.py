"""Engineers: who they are, where, what they may do, how busy they are."""

from __future__ import annotations

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, joinedload

from servflow.dispatch.models import Engineer
from servflow.org.models import OrgUnit


def get_engineer(session: Session, *, engineer_id: int) -> Engineer | None:
    return session.get(Engineer, engineer_id)


def get_engineer_by_code(session: Session, *, code: str) -> Engineer | None:
    return session.scalar(select(Engineer).where(Engineer.code == code))


def get_engineer_by_user(session: Session, *, user_id: int) -> Engineer | None:
    return session.scalar(select(Engineer).where(Engineer.user_id == user_id))


def list_engineers(session: Session, *, under_path: str | None = None) -> list[Engineer]:
    """Engineers with their outlet and user loaded, optionally those at or under a unit."""
    query = (
        select(Engineer)
        .join(Engineer.outlet)
        .options(joinedload(Engineer.outlet), joinedload(Engineer.user))
        .order_by(Engineer.code)
    )
    if under_path:
        prefix = under_path.rstrip("/")
        query = query.where(or_(OrgUnit.path == prefix, OrgUnit.path.startswith(prefix + "/")))
    return list(session.scalars(query))


def add_load(session: Session, *, engineer_id: int, delta: int) -> None:
    """Changes an engineer's open-job count atomically; a release never goes below zero."""
    query = update(Engineer).where(Engineer.id == engineer_id)
    if delta < 0:
        query = query.where(Engineer.current_load >= -delta)
    session.execute(query.values(current_load=Engineer.current_load + delta))
