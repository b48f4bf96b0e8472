"""Reservations: stock held for an order line, never oversold, released once."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from servflow.inventory import repo
from servflow.inventory.catalogue import known_part
from servflow.inventory.journal import move
from servflow.inventory.models import Part, Reservation, Warehouse
from servflow.inventory.warehouses import find_warehouse, visible_warehouse
from servflow.platform.errors import Conflict

RESERVATION_TTL = timedelta(hours=48)


def reserve(
    session: Session,
    *,
    key: str,
    order_id: str,
    warehouse: Warehouse,
    part: Part,
    qty: int,
    now: datetime,
    ttl: timedelta | None = RESERVATION_TTL,
    actor: str = "",
) -> Reservation:
    """Holds `qty` of the part in the warehouse for the order line `key`: one conditional
    update (available >= qty) and the reservation row, in one savepoint. Idempotent: a
    second call with the key answers the first reservation and moves nothing.

    Raises:
        Conflict: fewer than `qty` available (`shortfall` and `available` in the body), or
            the key holds a reservation of another part, warehouse or quantity.
    """
    existing = repo.reservation_by_key(session, key=key)
    if existing is None:
        held = Reservation(
            key=key,
            order_id=order_id,
            warehouse_id=warehouse.id,
            part_id=part.id,
            qty=qty,
            status="held",
            created_at=now,
            expires_at=now + ttl if ttl is not None else None,
        )
        try:
            return _hold(session, held, warehouse=warehouse, part=part, now=now, actor=actor)
        except IntegrityError:
            existing = repo.reservation_by_key(session, key=key)
            if existing is None:
                raise
    if (existing.warehouse_id, existing.part_id, existing.qty) != (warehouse.id, part.id, qty):
        raise Conflict(f"reservation '{key}' holds another part, warehouse or quantity")
    return existing


def _hold(
    session: Session,
    held: Reservation,
    *,
    warehouse: Warehouse,
    part: Part,
    now: datetime,
    actor: str,
) -> Reservation:
    """Writes the reservation row and its journal line (key `reserve:<key>`, only if that
    many are available) in one savepoint.

    Raises:
        Conflict: fewer available than the reservation holds (the savepoint is undone).
        IntegrityError: the key was reserved meanwhile (the savepoint is undone).
    """
    with session.begin_nested():
        session.add(held)
        session.flush()
        move(
            session,
            warehouse=warehouse,
            part=part,
            kind="reservation",
            qty=held.qty,
            key=f"reserve:{held.key}",
            now=now,
            ref=held.order_id,
            actor=actor,
            need_available=True,
        )
    return held


def reserve_for_order(
    session: Session,
    *,
    scope_path: str | None,
    order_id: str,
    line: str,
    warehouse: str,
    sku: str,
    qty: int,
    now: datetime,
    ttl_minutes: int | None,
    actor: str,
) -> Reservation:
    """`reserve` for a caller: the warehouse must lie within its scope."""
    store = visible_warehouse(session, warehouse, scope_path, "warehouse")
    ttl = timedelta(minutes=ttl_minutes) if ttl_minutes else RESERVATION_TTL
    return reserve(
        session,
        key=f"{order_id}/{line}",
        order_id=order_id,
        warehouse=store,
        part=known_part(session, sku),
        qty=qty,
        now=now,
        ttl=ttl,
        actor=actor,
    )


def release(session: Session, *, key: str, now: datetime, reason: str = "released") -> bool:
    """Gives a held reservation back to available stock, once. Returns whether it was held
    (a reservation consumed, shipped or released already is left as it is)."""
    held = repo.reservation_by_key(session, key=key)
    if held is None or held.status != "held":
        return False
    store = repo.warehouse_by_id(session, warehouse_id=held.warehouse_id)
    part = repo.part_by_id(session, part_id=held.part_id)
    assert store is not None and part is not None
    move(
        session,
        warehouse=store,
        part=part,
        kind="release",
        qty=held.qty,
        key=f"release:{key}",
        now=now,
        ref=held.order_id,
        reason=reason,
    )
    held.status = "released"
    session.flush()
    return True


def release_order(session: Session, *, order_id: str, now: datetime, reason: str) -> int:
    """Releases every reservation the order still holds (the order was cancelled)."""
    return sum(
        release(session, key=held.key, now=now, reason=reason)
        for held in repo.held_reservations(session, order_id=order_id)
    )


def release_expired(session: Session, *, now: datetime, limit: int = 500) -> int:
    """Releases reservations held past their expiry (timeout); returns how many."""
    return sum(
        release(session, key=held.key, now=now, reason="expired")
        for held in repo.expired_reservations(session, now=now, limit=limit)
    )


def find_reservation(session: Session, *, key: str) -> Reservation | None:
    return repo.reservation_by_key(session, key=key)


def release_for_caller(
    session: Session,
    *,
    scope_path: str | None,
    order_id: str,
    line: str | None,
    reason: str,
    now: datetime,
) -> int:
    """Releases the order line's reservation (all the order's when `line` is None) held in
    warehouses within the caller's scope; returns how many were released."""
    keys = (
        [f"{order_id}/{line}"]
        if line
        else [held.key for held in repo.held_reservations(session, order_id=order_id)]
    )
    count = 0
    for key in keys:
        held = repo.reservation_by_key(session, key=key)
        store = repo.warehouse_by_id(session, warehouse_id=held.warehouse_id) if held else None
        if store is None or find_warehouse(session, code=store.code, scope_path=scope_path) is None:
            continue
        count += release(session, key=key, now=now, reason=reason)
    return count
