"""Queries of engineers and dispatch decisions."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, delete, func, select, update
from sqlalchemy.orm import Session, joinedload

from servflow.dispatch.models import (
    DispatchDecision,
    DispatchPolicy,
    Engineer,
    RoutingRule,
    ServiceArea,
    Skill,
)


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
            DispatchDecision.order_id == order_id,
            DispatchDecision.status.in_(FINAL_STATUSES),
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


FINAL_STATUSES = ("assigned", "accepted", "picked")


def latest_policy(session: Session, *, key: str) -> DispatchPolicy | None:
    return session.scalar(
        select(DispatchPolicy)
        .where(DispatchPolicy.key == key)
        .order_by(DispatchPolicy.version.desc())
        .limit(1)
    )


def policy_for_scope(session: Session, *, pipeline: str, region: str) -> DispatchPolicy | None:
    """The latest version of the newest policy for `pipeline`, else for `region`."""
    for column, value in ((DispatchPolicy.pipeline, pipeline), (DispatchPolicy.region, region)):
        if not value:
            continue
        found = session.scalar(
            select(DispatchPolicy)
            .where(column == value)
            .order_by(DispatchPolicy.id.desc())
            .limit(1)
        )
        if found is not None:
            return latest_policy(session, key=found.key)
    return None


def list_policies(session: Session) -> list[DispatchPolicy]:
    """The latest version of every policy, by key."""
    latest = (
        select(DispatchPolicy.key, func.max(DispatchPolicy.version).label("version"))
        .group_by(DispatchPolicy.key)
        .subquery()
    )
    return list(
        session.scalars(
            select(DispatchPolicy)
            .join(
                latest,
                (DispatchPolicy.key == latest.c.key) & (DispatchPolicy.version == latest.c.version),
            )
            .order_by(DispatchPolicy.key)
        )
    )


def next_policy_version(session: Session, *, key: str) -> int:
    current = session.scalar(
        select(func.max(DispatchPolicy.version)).where(DispatchPolicy.key == key)
    )
    return int(current or 0) + 1


def skill_levels(session: Session) -> dict[str, int]:
    return {code: levels for code, levels in session.execute(select(Skill.code, Skill.levels))}


def list_skills(session: Session) -> list[Skill]:
    return list(session.scalars(select(Skill).order_by(Skill.code)))


def get_skill(session: Session, *, code: str) -> Skill | None:
    return session.scalar(select(Skill).where(Skill.code == code))


def decisions_of(
    session: Session, *, order_id: str, node_id: str | None = None, visit: int | None = None
) -> list[DispatchDecision]:
    """An order's decisions, oldest first (of one node visit when given)."""
    query = select(DispatchDecision).where(DispatchDecision.order_id == order_id)
    if node_id is not None:
        query = query.where(DispatchDecision.node_id == node_id)
    if visit is not None:
        query = query.where(DispatchDecision.visit == visit)
    return list(session.scalars(query.order_by(DispatchDecision.id)))


def pending_decision(
    session: Session, *, order_id: str, node_id: str, visit: int
) -> DispatchDecision | None:
    """The decision of this node visit that waits for an answer (offered or queued)."""
    return session.scalar(
        select(DispatchDecision)
        .where(
            DispatchDecision.order_id == order_id,
            DispatchDecision.node_id == node_id,
            DispatchDecision.visit == visit,
            DispatchDecision.status.in_(("offered", "queued")),
        )
        .order_by(DispatchDecision.id.desc())
        .limit(1)
    )


def final_dispatches_of_customer(
    session: Session, *, customer_id: int | None, exclude_order_id: str, limit: int = 500
) -> list[tuple[str, int]]:
    """(order id, engineer id) of the customer's final dispatches, oldest first."""
    if customer_id is None:
        return []
    rows = session.execute(
        select(DispatchDecision.order_id, DispatchDecision.engineer_id)
        .where(
            DispatchDecision.customer_id == customer_id,
            DispatchDecision.order_id != exclude_order_id,
            DispatchDecision.status.in_(FINAL_STATUSES),
            DispatchDecision.engineer_id.is_not(None),
        )
        .order_by(DispatchDecision.id.desc())
        .limit(limit)
    ).all()
    return [(order_id, int(engineer_id)) for order_id, engineer_id in reversed(rows)]


def list_rules(session: Session) -> list[RoutingRule]:
    return list(
        session.scalars(
            select(RoutingRule).where(RoutingRule.active.is_(True)).order_by(RoutingRule.position)
        )
    )


def route_queue(session: Session, *, channel: str, service_type: str, priority: int) -> str:
    """The queue of the first active rule matching (empty fields match any); engineers when
    none does."""
    for rule in list_rules(session):
        if rule.channel and rule.channel != channel:
            continue
        if rule.service_type and rule.service_type != service_type:
            continue
        if rule.up_to_priority and priority > rule.up_to_priority:
            continue
        return rule.queue
    return "engineers"


def service_areas(session: Session) -> list[ServiceArea]:
    return list(
        session.scalars(
            select(ServiceArea).options(joinedload(ServiceArea.outlet)).order_by(ServiceArea.id)
        )
    )


def service_area_of(session: Session, *, outlet_id: int) -> ServiceArea | None:
    return session.scalar(select(ServiceArea).where(ServiceArea.outlet_id == outlet_id))


def page_engineers_with(
    session: Session,
    *,
    outlet_ids: Select[tuple[int]] | None,
    state: str | None,
    skill: str | None,
    limit: int,
    offset: int,
) -> tuple[list[Engineer], int]:
    """Engineers in scope filtered by state (and, in Python, skill), by code, and their count."""
    query = select(Engineer).order_by(Engineer.code)
    if outlet_ids is not None:
        query = query.where(Engineer.outlet_id.in_(outlet_ids))
    if state:
        query = query.where(Engineer.state == state)
    loaded = query.options(joinedload(Engineer.outlet), joinedload(Engineer.user))
    rows = list(session.scalars(loaded))
    if skill:
        rows = [
            e
            for e in rows
            if skill in e.skills or any(c.get("skill") == skill for c in e.certificates or [])
        ]
    return rows[offset : offset + limit], len(rows)


def delete_rules(session: Session) -> None:
    session.execute(delete(RoutingRule))


def engineer_stats(session: Session) -> tuple[int, int, datetime | None]:
    """How many engineers there are, their largest id and latest change."""
    count, top, latest = session.execute(
        select(func.count(Engineer.id), func.max(Engineer.id), func.max(Engineer.updated_at))
    ).one()
    return int(count), int(top or 0), latest


def engineer_positions(
    session: Session, *, changed_since: datetime | None = None
) -> list[tuple[int, float | None, float | None, str, list[str], list[dict[str, Any]]]]:
    """(id, lat, lng, state, skills, certificates) of every engineer, or of those changed
    at or after `changed_since` — what the spatial index holds."""
    query = select(
        Engineer.id,
        Engineer.lat,
        Engineer.lng,
        Engineer.state,
        Engineer.skills,
        Engineer.certificates,
    )
    if changed_since is not None:
        query = query.where(Engineer.updated_at >= changed_since)
    return [tuple(row) for row in session.execute(query)]  # type: ignore[misc]


def engineers_by_ids(session: Session, *, ids: Collection[int]) -> list[Engineer]:
    if not ids:
        return []
    return list(
        session.scalars(
            select(Engineer)
            .options(joinedload(Engineer.outlet), joinedload(Engineer.user))
            .where(Engineer.id.in_(list(ids)))
            .order_by(Engineer.code)
        )
    )


def count_engineers(session: Session, *, outlet_ids: Collection[int] | None) -> int:
    query = select(func.count(Engineer.id))
    if outlet_ids is not None:
        query = query.where(Engineer.outlet_id.in_(list(outlet_ids)))
    return int(session.scalar(query) or 0)
