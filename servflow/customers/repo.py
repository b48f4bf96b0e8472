"""Customers and their addresses."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from servflow.customers.models import Customer
from servflow.platform.base import utcnow
from servflow.platform.sql import insert_ignore


def get_customer(session: Session, *, customer_id: int) -> Customer | None:
    return session.get(Customer, customer_id, options=[selectinload(Customer.addresses)])


def get_customer_by_phone(session: Session, *, phone: str) -> Customer | None:
    return session.scalar(
        select(Customer).options(selectinload(Customer.addresses)).where(Customer.phone == phone)
    )


def insert_customer_once(session: Session, *, name: str, phone: str) -> bool:
    """Inserts a customer with this phone unless one exists; True when this call made it."""
    inserted = insert_ignore(
        session,
        Customer.__table__,  # type: ignore[arg-type]
        [{"name": name or phone, "phone": phone, "created_at": utcnow()}],
        conflict=["phone"],
    )
    return inserted == 1


def lock_customer(session: Session, *, customer_id: int) -> None:
    """Row lock on PostgreSQL (SQLite serializes writers anyway): one report at a time."""
    session.execute(select(Customer.id).where(Customer.id == customer_id).with_for_update())
