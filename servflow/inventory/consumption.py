"""Consumption: the parts used on an order leave stock, exactly once per line."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from sqlalchemy.orm import Session

from servflow.inventory import repo
from servflow.inventory.journal import move
from servflow.inventory.models import Part, Reservation, Warehouse


class Consumed(NamedTuple):
    sku: str
    qty: int
    warehouse: str
    source: str  # "van" | "reservation" | "" (nothing in stock to take it from)


def consume_parts(
    session: Session,
    *,
    order_id: str,
    key: str,
    lines: list[tuple[str, int]],
    engineer: str,
    now: datetime,
) -> list[Consumed]:
    """Takes the parts used on the order out of stock, exactly once per `key` and line:
    from the engineer's van when it holds them, else from the order's reservation of that
    part (a transfer's or a direct one), consumed and closed. A line nothing holds is
    reported with an empty source, not taken (the settlement prices it all the same, from
    the catalogue)."""
    van = repo.van_of(session, engineer_code=engineer) if engineer else None
    holds = repo.held_reservations(session, order_id=order_id)
    done: list[Consumed] = []
    for index, (sku, qty) in enumerate(lines):
        part = repo.get_part_by_sku(session, sku=sku)
        if part is None or qty <= 0:
            continue
        use = _Use(order_id, f"consume:{key}/{index}", sku, part, qty, now)
        done.append(
            _consumed_before(session, use)
            or _from_van(session, use, van)
            or _from_reservation(session, use, holds)
        )
    _close_consumed_transfers(session, order_id=order_id, now=now)
    return done


class _Use(NamedTuple):
    """One line of parts used on an order, taken out of stock under the journal key `key`."""

    order_id: str
    key: str
    sku: str
    part: Part
    qty: int
    now: datetime


def _consumed_before(session: Session, use: _Use) -> Consumed | None:
    """The line as an earlier call took it (its key is in the journal), else None."""
    taken = repo.movement_by_key(session, key=use.key)
    if taken is None:
        return None
    store = repo.warehouse_by_id(session, warehouse_id=taken.warehouse_id)
    origin = "reservation" if taken.reserved_delta else "van"
    return Consumed(use.sku, use.qty, store.code if store else "", origin)


def _from_van(session: Session, use: _Use, van: Warehouse | None) -> Consumed | None:
    """Takes the line from the engineer's van when it has that many available, else None."""
    if van is None:
        return None
    level = repo.level_of(session, warehouse_id=van.id, part_id=use.part.id)
    if level is None or level.on_hand - level.reserved < use.qty:
        return None
    move(
        session,
        warehouse=van,
        part=use.part,
        kind="consumption_unreserved",
        qty=use.qty,
        key=use.key,
        now=use.now,
        ref=use.order_id,
        need_available=True,
    )
    return Consumed(use.sku, use.qty, van.code, "van")


def _from_reservation(session: Session, use: _Use, holds: list[Reservation]) -> Consumed:
    """Takes the line from the order's held reservation of the part (releasing what it
    holds beyond the line, key `<key>/rest`) and closes it; a line no reservation holds
    is answered with an empty source, taking nothing."""
    held = next(
        (h for h in holds if h.part_id == use.part.id and h.status == "held" and h.qty >= use.qty),
        None,
    )
    if held is None:
        return Consumed(use.sku, use.qty, "", "")
    store = repo.warehouse_by_id(session, warehouse_id=held.warehouse_id)
    assert store is not None
    move(
        session,
        warehouse=store,
        part=use.part,
        kind="consumption",
        qty=use.qty,
        key=use.key,
        now=use.now,
        ref=use.order_id,
    )
    if held.qty > use.qty:
        move(
            session,
            warehouse=store,
            part=use.part,
            kind="release",
            qty=held.qty - use.qty,
            key=f"{use.key}/rest",
            now=use.now,
            ref=use.order_id,
            reason="not used",
        )
    held.status = "consumed"
    session.flush()
    return Consumed(use.sku, use.qty, store.code, "reservation")


def _close_consumed_transfers(session: Session, *, order_id: str, now: datetime) -> None:
    """Marks consumed the order's received transfers whose line reservation was consumed."""
    for transfer in repo.transfers_of_order(session, order_id=order_id):
        line = (
            repo.reservation_by_key(session, key=transfer.line_key) if transfer.line_key else None
        )
        if transfer.status == "received" and line is not None and line.status == "consumed":
            transfer.status, transfer.updated_at = "consumed", now
    session.flush()
