"""Queries of engineers and dispatch decisions."""

from __future__ import annotations

from collections.abc import Collection
from decimal import Decimal

from sqlalchemy import Select, func, select, update
from sqlalchemy.orm import Session, joinedload

from servflow.dispatch.models import DispatchDecision, Engineer


def get_engineer(session: Session, *, engineer_id: int) -> Engineer | None:
    return session.get(Engineer, engineer_id)


def get_engineer_by_code(session: Session, *, code: str) -> Engineer | None:
    return session.scalar(select(Engineer).where(Engineer.code == code))


def get_engineer_by_user(session: Session, *, user_id: int) -> Engineer | None:
    return session.scalar(select(Engineer).where(Engineer.user_id == user_id))


def list_engineers(
    session: Session, *, outlet_ids: Collection[int] | None = None
) -> list[Engineer]:
    """Engineers with their outlet and user loaded; all, or those of the given outlets."""
    query = (
        select(Engineer)
        .options(joinedload(Engineer.outlet), joinedload(Engineer.user))
        .order_by(Engineer.code)
    )
    if outlet_ids is not None:
        query = query.where(Engineer.outlet_id.in_(list(outlet_ids)))
    return list(session.scalars(query))


def change_load(session: Session, *, engineer_id: int, delta: int) -> None:
    """Changes an engineer's open-job count atomically; a release never goes below zero."""
    query = update(Engineer).where(Engineer.id == engineer_id)
    if delta < 0:
        query = query.where(Engineer.current_load >= -delta)
    session.execute(query.values(current_load=Engineer.current_load + delta))


def take_slot_if_free(session: Session, *, engineer_id: int) -> bool:
    """Raises the load only while the engineer is available and has room (one UPDATE, so a
    concurrent dispatch that filled the last slot first makes this one fail)."""
    taken = session.execute(
        update(Engineer)
        .where(
            Engineer.id == engineer_id,
            Engineer.current_load < Engineer.max_load,
            Engineer.state == "available",
        )
        .values(current_load=Engineer.current_load + 1)
    )
    return taken.rowcount == 1  # type: ignore[attr-defined]


def visits_and_last_distance(session: Session, *, order_id: str) -> tuple[int, Decimal]:
    """How many times the order was dispatched, and the latest decision's distance."""
    count, last_id = session.execute(
        select(func.count(DispatchDecision.id), func.max(DispatchDecision.id)).where(
            DispatchDecision.order_id == order_id
        )
    ).one()
    latest = session.get(DispatchDecision, last_id) if last_id is not None else None
    distance = latest.distance_km if latest and latest.distance_km is not None else Decimal(0)
    return int(count), distance


def page_engineers(
    session: Session, *, outlet_ids: Select[tuple[int]] | None, limit: int, offset: int
) -> tuple[list[Engineer], int]:
    """Engineers by code (outlet and user loaded) of the outlets `outlet_ids` selects (all
    when None), and their count."""
    query = select(Engineer).order_by(Engineer.code)
    if outlet_ids is not None:
        query = query.where(Engineer.outlet_id.in_(outlet_ids))
    count = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    loaded = query.options(joinedload(Engineer.outlet), joinedload(Engineer.user))
    return list(session.scalars(loaded.limit(limit).offset(offset))), count
