"""Warehouses, parts and stock levels."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Select, func, insert, or_, select, update
from sqlalchemy.orm import Session

from servflow.inventory.models import (
    Part,
    Reservation,
    StockAlert,
    StockLevel,
    StockMovement,
    Transfer,
    Warehouse,
)
from servflow.platform.sql import insert_ignore


def get_part_by_sku(session: Session, *, sku: str) -> Part | None:
    return session.scalar(select(Part).where(Part.sku == sku))


def parts_by_sku(session: Session, *, skus: Iterable[str]) -> dict[str, Part]:
    wanted = sorted(set(skus))
    if not wanted:
        return {}
    return {p.sku: p for p in session.scalars(select(Part).where(Part.sku.in_(wanted)))}


def get_warehouse_by_code(session: Session, *, code: str) -> Warehouse | None:
    return session.scalar(select(Warehouse).where(Warehouse.code == code))


def page_warehouses(
    session: Session, *, region_ids: Select[tuple[int]] | None, limit: int, offset: int
) -> tuple[list[Warehouse], int]:
    """Warehouses by code of the regions `region_ids` selects (all when None), and their
    count."""
    query = select(Warehouse).order_by(Warehouse.code)
    if region_ids is not None:
        query = query.where(Warehouse.region_id.in_(region_ids))
    count = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    return list(session.scalars(query.limit(limit).offset(offset))), count


def page_stock(
    session: Session,
    *,
    region_ids: Select[tuple[int]] | None,
    warehouse: str | None,
    sku: str | None,
    limit: int,
    offset: int,
) -> tuple[list[tuple[StockLevel, Warehouse, Part]], int]:
    """Stock levels with their warehouse and part, by warehouse code and SKU, of the
    regions `region_ids` selects (all when None), of one warehouse and one SKU when given,
    and their count."""
    query = (
        select(StockLevel, Warehouse, Part)
        .join(Warehouse, Warehouse.id == StockLevel.warehouse_id)
        .join(Part, Part.id == StockLevel.part_id)
        .order_by(Warehouse.code, Part.sku)
    )
    if region_ids is not None:
        query = query.where(Warehouse.region_id.in_(region_ids))
    if warehouse:
        query = query.where(Warehouse.code == warehouse)
    if sku:
        query = query.where(Part.sku == sku)
    count = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.execute(query.limit(limit).offset(offset)).tuples()
    return list(rows), count


def get_stock_level(session: Session, *, warehouse_id: int, part_id: int) -> StockLevel | None:
    return session.scalar(
        select(StockLevel).where(
            StockLevel.warehouse_id == warehouse_id, StockLevel.part_id == part_id
        )
    )


def warehouses_by_code(session: Session, *, codes: Iterable[str]) -> dict[str, Warehouse]:
    wanted = sorted(set(codes))
    if not wanted:
        return {}
    query = select(Warehouse).where(Warehouse.code.in_(wanted))
    return {w.code: w for w in session.scalars(query)}


def stock_pairs(session: Session, *, warehouse_ids: Iterable[int]) -> set[tuple[int, int]]:
    """The (warehouse id, part id) pairs that have a stock level, in those warehouses."""
    query = select(StockLevel.warehouse_id, StockLevel.part_id).where(
        StockLevel.warehouse_id.in_(sorted(set(warehouse_ids)))
    )
    return {(w, p) for w, p in session.execute(query).tuples()}


def stocked_skus(
    session: Session, *, skus: Iterable[str], region_ids: Select[tuple[int]]
) -> set[str]:
    """Which of `skus` some warehouse of the regions `region_ids` selects has on hand."""
    query = (
        select(Part.sku)
        .join(StockLevel, StockLevel.part_id == Part.id)
        .join(Warehouse, Warehouse.id == StockLevel.warehouse_id)
        .where(
            Part.sku.in_(sorted(set(skus))),
            StockLevel.on_hand > 0,
            Warehouse.region_id.in_(region_ids),
        )
        .distinct()
    )
    return set(session.scalars(query))


def has_warehouse(session: Session, *, region_ids: Select[tuple[int]]) -> bool:
    query = select(Warehouse.id).where(Warehouse.region_id.in_(region_ids)).limit(1)
    return session.scalar(query) is not None


def _insert_many(
    session: Session, model: type[Part | StockLevel], rows: Sequence[Mapping[str, Any]]
) -> None:
    # One executemany without RETURNING: row objects would be flushed one INSERT at a time
    # on SQLite (their ids must come back in order), about seven times slower for the
    # demo's 3,800 stock levels.
    if rows:
        session.execute(insert(model), list(rows))


def insert_parts(session: Session, *, rows: Sequence[Mapping[str, Any]]) -> None:
    """Inserts parts given as column values, in one statement."""
    _insert_many(session, Part, rows)


def insert_stock_levels(session: Session, *, rows: Sequence[Mapping[str, Any]]) -> None:
    """Inserts stock levels given as column values, in one statement."""
    _insert_many(session, StockLevel, rows)


# ---- the journal and the balances it keeps ------------------------------------------------


def movement_by_key(session: Session, *, key: str) -> StockMovement | None:
    return session.scalar(select(StockMovement).where(StockMovement.key == key))


def ensure_level(session: Session, *, warehouse_id: int, part_id: int) -> None:
    """Adds an empty balance for the pair unless it has one (a receipt into a new pair)."""
    insert_ignore(
        session,
        StockLevel.__table__,  # type: ignore[arg-type]
        [{"warehouse_id": warehouse_id, "part_id": part_id, "on_hand": 0, "reserved": 0}],
        conflict=["warehouse_id", "part_id"],
    )


def shift_level(
    session: Session,
    *,
    warehouse_id: int,
    part_id: int,
    on_hand_delta: int,
    reserved_delta: int,
    need_available: int = 0,
) -> tuple[int, int, int] | None:
    """Moves the balance by the deltas in ONE conditional UPDATE, only where the result
    stays valid (nothing negative, reserved within on hand) and, when `need_available`,
    where at least that many are available before the move. On PostgreSQL concurrent
    updates of the row queue on its lock and each re-checks the condition on the row as
    the one before left it; on SQLite the statement runs under the database's write lock.

    Returns:
        The balance after the move (on hand, reserved, safety level), read back by the same
        statement (RETURNING); None when the balance is missing or the condition refused.
    """
    on_hand, reserved = StockLevel.on_hand, StockLevel.reserved
    conditions = [
        StockLevel.warehouse_id == warehouse_id,
        StockLevel.part_id == part_id,
        on_hand + on_hand_delta >= 0,
        reserved + reserved_delta >= 0,
        reserved + reserved_delta <= on_hand + on_hand_delta,
    ]
    if need_available:
        conditions.append(on_hand - reserved >= need_available)
    statement = (
        update(StockLevel)
        .where(*conditions)
        .values(on_hand=on_hand + on_hand_delta, reserved=reserved + reserved_delta)
        .returning(StockLevel.on_hand, StockLevel.reserved, StockLevel.safety_level)
        .execution_options(synchronize_session=False)
    )
    row = session.execute(statement).first()
    return (int(row[0]), int(row[1]), int(row[2])) if row is not None else None


def level_of(session: Session, *, warehouse_id: int, part_id: int) -> StockLevel | None:
    """The balance as the database holds it now (not a stale copy of this session)."""
    return session.scalar(
        select(StockLevel)
        .where(StockLevel.warehouse_id == warehouse_id, StockLevel.part_id == part_id)
        .execution_options(populate_existing=True)
    )


def add_movement(session: Session, *, row: Mapping[str, Any]) -> StockMovement:
    movement = StockMovement(**row)
    session.add(movement)
    session.flush()
    return movement


def page_movements(
    session: Session,
    *,
    region_ids: Select[tuple[int]] | None,
    warehouse: str | None,
    sku: str | None,
    ref: str | None,
    limit: int,
    offset: int,
) -> tuple[list[tuple[StockMovement, Warehouse, Part]], int]:
    query = (
        select(StockMovement, Warehouse, Part)
        .join(Warehouse, Warehouse.id == StockMovement.warehouse_id)
        .join(Part, Part.id == StockMovement.part_id)
        .order_by(StockMovement.id.desc())
    )
    if region_ids is not None:
        query = query.where(Warehouse.region_id.in_(region_ids))
    if warehouse:
        query = query.where(Warehouse.code == warehouse)
    if sku:
        query = query.where(Part.sku == sku)
    if ref:
        query = query.where(StockMovement.ref == ref)
    count = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    return list(session.execute(query.limit(limit).offset(offset)).tuples()), count


def journal_totals(session: Session) -> dict[tuple[int, int], tuple[int, int]]:
    """(warehouse id, part id) -> (sum of on-hand deltas, sum of reserved deltas)."""
    query = select(
        StockMovement.warehouse_id,
        StockMovement.part_id,
        func.sum(StockMovement.on_hand_delta),
        func.sum(StockMovement.reserved_delta),
    ).group_by(StockMovement.warehouse_id, StockMovement.part_id)
    return {(w, p): (int(h or 0), int(r or 0)) for w, p, h, r in session.execute(query)}


def all_levels(session: Session) -> list[StockLevel]:
    return list(session.scalars(select(StockLevel)))


def consumed_since(
    session: Session, *, part_id: int, warehouse_ids: Iterable[int] | None, since: datetime
) -> int:
    query = select(func.coalesce(func.sum(-StockMovement.on_hand_delta), 0)).where(
        StockMovement.part_id == part_id,
        StockMovement.kind == "consumption",
        StockMovement.created_at >= since,
    )
    if warehouse_ids is not None:
        query = query.where(StockMovement.warehouse_id.in_(list(warehouse_ids)))
    return int(session.scalar(query) or 0)


def consumption_rows(
    session: Session, *, part_id: int, warehouse_ids: Iterable[int] | None
) -> list[tuple[datetime, int]]:
    """(time, units) of every consumption of the part (in those warehouses)."""
    query = select(StockMovement.created_at, -StockMovement.on_hand_delta).where(
        StockMovement.part_id == part_id, StockMovement.kind == "consumption"
    )
    if warehouse_ids is not None:
        query = query.where(StockMovement.warehouse_id.in_(list(warehouse_ids)))
    return [(at, int(qty)) for at, qty in session.execute(query.order_by(StockMovement.id))]


# ---- sourcing ---------------------------------------------------------------------------------


class Holder(NamedTuple):
    """A warehouse holding a part, as sourcing reads it (columns, no ORM objects: a popular
    part is held by hundreds of warehouses)."""

    warehouse_id: int
    code: str
    kind: str
    lat: float | None
    lng: float | None
    lead_time_hours: int
    engineer_code: str
    available: int
    safety_level: int


def holders(session: Session, *, part_id: int, at_least: int = 1) -> list[Holder]:
    """The warehouses with at least `at_least` of the part available."""
    available = StockLevel.on_hand - StockLevel.reserved
    query = (
        select(
            Warehouse.id,
            Warehouse.code,
            Warehouse.kind,
            Warehouse.lat,
            Warehouse.lng,
            Warehouse.lead_time_hours,
            Warehouse.engineer_code,
            available,
            StockLevel.safety_level,
        )
        .join(StockLevel, StockLevel.warehouse_id == Warehouse.id)
        .where(StockLevel.part_id == part_id, available >= at_least)
    )
    return [Holder(*row) for row in session.execute(query)]


def warehouse_by_id(session: Session, *, warehouse_id: int) -> Warehouse | None:
    return session.get(Warehouse, warehouse_id)


def part_by_id(session: Session, *, part_id: int) -> Part | None:
    return session.get(Part, part_id)


def van_of(session: Session, *, engineer_code: str) -> Warehouse | None:
    return session.scalar(
        select(Warehouse).where(Warehouse.kind == "van", Warehouse.engineer_code == engineer_code)
    )


# ---- reservations and transfers ---------------------------------------------------------------


def reservation_by_key(session: Session, *, key: str) -> Reservation | None:
    return session.scalar(
        select(Reservation).where(Reservation.key == key).execution_options(populate_existing=True)
    )


def held_reservations(session: Session, *, order_id: str) -> list[Reservation]:
    return list(
        session.scalars(
            select(Reservation)
            .where(Reservation.order_id == order_id, Reservation.status == "held")
            .order_by(Reservation.id)
        )
    )


def expired_reservations(session: Session, *, now: datetime, limit: int) -> list[Reservation]:
    return list(
        session.scalars(
            select(Reservation)
            .where(Reservation.status == "held", Reservation.expires_at < now)
            .order_by(Reservation.id)
            .limit(limit)
        )
    )


def transfer_by_code(session: Session, *, code: str) -> Transfer | None:
    return session.scalar(
        select(Transfer).where(Transfer.code == code).execution_options(populate_existing=True)
    )


def transfers_of_order(session: Session, *, order_id: str) -> list[Transfer]:
    return list(
        session.scalars(select(Transfer).where(Transfer.order_id == order_id).order_by(Transfer.id))
    )


# ---- alerts -------------------------------------------------------------------------------------


def open_alert(session: Session, *, pair: str) -> StockAlert | None:
    return session.scalar(select(StockAlert).where(StockAlert.open_pair == pair))


def page_alerts(
    session: Session,
    *,
    region_ids: Select[tuple[int]] | None,
    status: str | None,
    limit: int,
    offset: int,
) -> tuple[list[tuple[StockAlert, Warehouse, Part]], int]:
    query = (
        select(StockAlert, Warehouse, Part)
        .join(Warehouse, Warehouse.id == StockAlert.warehouse_id)
        .join(Part, Part.id == StockAlert.part_id)
        .order_by(StockAlert.id.desc())
    )
    if region_ids is not None:
        query = query.where(Warehouse.region_id.in_(region_ids))
    if status:
        query = query.where(StockAlert.status == status)
    count = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    return list(session.execute(query.limit(limit).offset(offset)).tuples()), count


def alert_by_id(session: Session, *, alert_id: int) -> StockAlert | None:
    return session.get(StockAlert, alert_id)


def levels_to_scan(session: Session, *, after_id: int, limit: int) -> list[StockLevel]:
    """Balances with a safety level, by id after `after_id` (a scan walks them in pages)."""
    return list(
        session.scalars(
            select(StockLevel)
            .where(StockLevel.safety_level > 0, StockLevel.id > after_id)
            .order_by(StockLevel.id)
            .limit(limit)
        )
    )


# ---- the catalogue ----------------------------------------------------------------------------


def page_parts(
    session: Session, *, q: str | None, limit: int, offset: int
) -> tuple[list[Part], int]:
    query = select(Part).order_by(Part.sku)
    if q:
        query = query.where(
            or_(
                Part.sku.contains(q, autoescape=True),
                Part.name.contains(q, autoescape=True),
                Part.name_en.contains(q, autoescape=True),
            )
        )
    count = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    return list(session.scalars(query.limit(limit).offset(offset))), count


def insert_movements(session: Session, *, rows: Sequence[Mapping[str, Any]]) -> None:
    if rows:
        session.execute(insert(StockMovement), list(rows))


def levels_by_pair(
    session: Session, *, warehouse_ids: Iterable[int]
) -> dict[tuple[int, int], StockLevel]:
    query = select(StockLevel).where(StockLevel.warehouse_id.in_(sorted(set(warehouse_ids))))
    return {(lv.warehouse_id, lv.part_id): lv for lv in session.scalars(query)}
