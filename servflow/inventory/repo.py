"""Warehouses, parts and stock levels."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Select, func, insert, select
from sqlalchemy.orm import Session

from servflow.inventory.models import Part, StockLevel, Warehouse


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
