"""Customers and their addresses."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from servflow.customers.models import Customer, CustomerAddress
from servflow.platform.base import utcnow
from servflow.platform.sql import insert_ignore


def get_customer(session: Session, *, customer_id: int) -> Customer | None:
    return session.get(Customer, customer_id, options=[selectinload(Customer.addresses)])


def get_customer_by_phone(session: Session, *, phone: str) -> Customer | None:
    return session.scalar(
        select(Customer).options(selectinload(Customer.addresses)).where(Customer.phone == phone)
    )


def link_or_create_customer(
    session: Session,
    *,
    name: str,
    phone: str | None,
    address: str = "",
    city: str = "",
    lat: float | None = None,
    lng: float | None = None,
) -> tuple[Customer, bool]:
    """The customer with this phone, created (with the address) when new.

    Concurrent reports for one new phone both end with the same row: the insert ignores a
    conflict on the unique phone. A known customer gets the address added when it is new.

    Returns:
        The customer and whether it was created.
    """
    phone = (phone or "").strip() or None
    created = False
    if phone is None:
        customer = Customer(name=name or "匿名客户", phone=None)
        session.add(customer)
        session.flush()
        created = True
    else:
        created = (
            insert_ignore(
                session,
                Customer.__table__,  # type: ignore[arg-type]
                [{"name": name or phone, "phone": phone, "created_at": utcnow()}],
                conflict=["phone"],
            )
            == 1
        )
        found = get_customer_by_phone(session, phone=phone)
        assert found is not None
        customer = found
    known = {(a.address, a.lat, a.lng) for a in customer.addresses}
    if (address or lat is not None) and (address, lat, lng) not in known:
        session.add(
            CustomerAddress(customer=customer, address=address, city=city, lat=lat, lng=lng)
        )
        session.flush()
    return customer, created
