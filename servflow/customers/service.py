"""Customer use cases: one record per phone, with the addresses jobs were done at."""

from __future__ import annotations

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from servflow.customers import repo
from servflow.customers.models import Customer, CustomerAddress

lock_customer = repo.lock_customer


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
        created = repo.insert_customer_once(session, name=name, phone=phone)
        found = repo.get_customer_by_phone(session, phone=phone)
        assert found is not None
        customer = found
    known = {(a.address, a.lat, a.lng) for a in customer.addresses}
    if (address or lat is not None) and (address, lat, lng) not in known:
        session.add(
            CustomerAddress(customer=customer, address=address, city=city, lat=lat, lng=lng)
        )
        session.flush()
    return customer, created


def location(session: Session, *, customer_id: int) -> tuple[float, float] | None:
    """Where the customer's latest located address is, if any."""
    customer = repo.get_customer(session, customer_id=customer_id)
    located = [a for a in (customer.addresses if customer else []) if a.lat is not None]
    if not located:
        return None
    return located[-1].lat or 0.0, located[-1].lng or 0.0


def ids_matching(*, text: str) -> Select[tuple[int]]:
    """SQL for the ids of customers whose name contains `text` or whose phone starts with it
    (LIKE wildcards escaped), for another domain to filter its rows with `column.in_(...)`."""
    return select(Customer.id).where(
        or_(
            Customer.name.contains(text, autoescape=True),
            Customer.phone.startswith(text, autoescape=True),
        )
    )
