"""Customers, their identities, addresses, assets and surveys."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select, update
from sqlalchemy.orm import Session, selectinload

from servflow.customers.models import (
    Customer,
    CustomerAddress,
    CustomerAsset,
    CustomerIdentity,
    CustomerMerge,
    SignoffLink,
    Survey,
)
from servflow.platform.base import utcnow
from servflow.platform.scope import under
from servflow.platform.sql import insert_ignore


def get_customer(session: Session, *, customer_id: int) -> Customer | None:
    return session.get(Customer, customer_id, options=[selectinload(Customer.addresses)])


def get_customer_by_phone(session: Session, *, phone: str) -> Customer | None:
    return session.scalar(
        select(Customer).options(selectinload(Customer.addresses)).where(Customer.phone == phone)
    )


def insert_customer_once(session: Session, *, name: str, phone: str, org_path: str = "") -> bool:
    """Inserts a customer with this phone unless one exists; True when this call made it."""
    inserted = insert_ignore(
        session,
        Customer.__table__,  # type: ignore[arg-type]
        [{"name": name or phone, "phone": phone, "created_at": utcnow(), "org_path": org_path}],
        conflict=["phone"],
    )
    return inserted == 1


def lock_customer(session: Session, *, customer_id: int) -> None:
    """Row lock on PostgreSQL (SQLite serializes writers anyway): one report at a time."""
    session.execute(select(Customer.id).where(Customer.id == customer_id).with_for_update())


def add_identity_once(session: Session, *, customer_id: int, kind: str, value: str) -> None:
    insert_ignore(
        session,
        CustomerIdentity.__table__,  # type: ignore[arg-type]
        [{"customer_id": customer_id, "kind": kind, "value": value, "created_at": utcnow()}],
        conflict=["kind", "value"],
    )


def owner_of(session: Session, *, kind: str, value: str) -> int | None:
    return session.scalar(
        select(CustomerIdentity.customer_id).where(
            CustomerIdentity.kind == kind, CustomerIdentity.value == value
        )
    )


def identities(session: Session, *, customer_id: int) -> list[CustomerIdentity]:
    return list(
        session.scalars(
            select(CustomerIdentity)
            .where(CustomerIdentity.customer_id == customer_id)
            .order_by(CustomerIdentity.id)
        )
    )


def _visible(scope_path: str | None) -> ColumnElement[bool] | None:
    """None: everything (HQ); else customers placed at or under the scope."""
    if scope_path is not None and scope_path.strip("/").count("/") == 0 and scope_path.strip("/"):
        return None
    return under(Customer.org_path, scope_path or "")


def search(
    session: Session, *, text: str, scope_path: str | None, limit: int, offset: int
) -> tuple[list[Customer], int]:
    """Customers whose name, phone or any identity (contact names, buyer ids, WeCom ids)
    starts with `text` (a name or phone anywhere in it), within scope."""
    conditions: list[Any] = []
    visible = _visible(scope_path)
    if visible is not None:
        conditions.append(visible)
    if text:
        by_identity = select(CustomerIdentity.customer_id).where(
            CustomerIdentity.value.contains(text, autoescape=True)
        )
        conditions.append(
            or_(
                Customer.name.contains(text, autoescape=True),
                Customer.phone.contains(text, autoescape=True),
                Customer.id.in_(by_identity),
            )
        )
    base = select(Customer).where(*conditions)
    count = session.scalar(select(func.count()).select_from(base.subquery())) or 0
    rows = session.scalars(
        base.options(selectinload(Customer.addresses))
        .order_by(Customer.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    return list(rows), int(count)


def is_visible(session: Session, *, customer_id: int, scope_path: str | None) -> bool:
    visible = _visible(scope_path)
    statement = select(Customer.id).where(Customer.id == customer_id)
    if visible is not None:
        statement = statement.where(visible)
    return session.scalar(statement) is not None


def assets(session: Session, *, customer_ids: Sequence[int]) -> list[CustomerAsset]:
    return list(
        session.scalars(
            select(CustomerAsset)
            .where(CustomerAsset.customer_id.in_(customer_ids))
            .order_by(CustomerAsset.id)
        )
    )


def surveys(session: Session, *, customer_ids: Sequence[int]) -> list[Survey]:
    return list(
        session.scalars(
            select(Survey).where(Survey.customer_id.in_(customer_ids)).order_by(Survey.id)
        )
    )


def merges_into(session: Session, *, customer_id: int) -> list[CustomerMerge]:
    return list(
        session.scalars(
            select(CustomerMerge)
            .where(CustomerMerge.kept_id == customer_id)
            .order_by(CustomerMerge.id)
        )
    )


def move_children(session: Session, *, from_id: int, to_id: int) -> dict[str, int]:
    """Moves a merged customer's identities, addresses, assets, surveys and links."""
    moved: dict[str, int] = {}
    for name, model in (
        ("identities", CustomerIdentity),
        ("addresses", CustomerAddress),
        ("assets", CustomerAsset),
        ("surveys", Survey),
        ("signoff_links", SignoffLink),
    ):
        result = session.execute(
            update(model)
            .where(model.customer_id == from_id)  # type: ignore[attr-defined]
            .values(customer_id=to_id)
            .execution_options(synchronize_session=False)
        )
        moved[name] = int(getattr(result, "rowcount", 0) or 0)
    return moved


def link_by_hash(session: Session, *, token_hash: str) -> SignoffLink | None:
    return session.scalar(select(SignoffLink).where(SignoffLink.token_hash == token_hash))


def use_link(session: Session, *, link_id: int, now: Any) -> bool:
    """Marks the link used; True only for the first caller (one-time)."""
    result = session.execute(
        update(SignoffLink)
        .where(SignoffLink.id == link_id, SignoffLink.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0) == 1)


def survey_of_order(session: Session, *, order_id: str) -> Survey | None:
    return session.scalar(select(Survey).where(Survey.order_id == order_id))


def step_submitted(session: Session, *, link_id: int, now: Any) -> None:
    session.execute(
        update(SignoffLink)
        .where(SignoffLink.id == link_id, SignoffLink.step_submitted_at.is_(None))
        .values(step_submitted_at=now)
        .execution_options(synchronize_session=False)
    )


def ratings(session: Session, *, group_by: str, scope_path: str) -> list[tuple[str, int]]:
    column = {"region": Survey.region, "outlet": Survey.outlet, "engineer": Survey.engineer}[
        group_by
    ]
    rows = session.execute(
        select(column, Survey.rating).where(under(Survey.org_path, scope_path))
    ).all()
    return [(str(key or ""), int(rating)) for key, rating in rows]


def follow_ups(session: Session, *, scope_path: str, limit: int) -> list[Survey]:
    return list(
        session.scalars(
            select(Survey)
            .where(Survey.follow_up.is_(True), under(Survey.org_path, scope_path))
            .order_by(Survey.id.desc())
            .limit(limit)
        )
    )


def follow_ups_to_open(session: Session, *, limit: int) -> list[Survey]:
    """Detractors' surveys whose follow-up order is not opened yet, oldest first."""
    return list(
        session.scalars(
            select(Survey)
            .where(Survey.follow_up.is_(True), Survey.follow_up_order_id == "")
            .order_by(Survey.id)
            .limit(limit)
        )
    )


def mark_follow_up(session: Session, *, survey_id: int, order_id: str) -> bool:
    """Records the survey's follow-up order unless one is recorded: True for the call
    that recorded it."""
    result = session.execute(
        update(Survey)
        .where(Survey.id == survey_id, Survey.follow_up_order_id == "")
        .values(follow_up_order_id=order_id)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0) == 1)
