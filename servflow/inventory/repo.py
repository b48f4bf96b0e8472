"""Warehouses, parts and stock levels."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from servflow.inventory.models import Part, StockLevel, Warehouse


def get_part_by_sku(session: Session, *, sku: str) -> Part | None:
    return session.scalar(select(Part).where(Part.sku == sku))


def parts_by_sku(session: Session, *, skus: Iterable[str]) -> dict[str, Part]:
    wanted = sorted(set(skus))
    if not wanted:
        return {}
    return {p.sku: p for p in session.scalars(select(Part).where(Part.sku.in_(wanted)))}


def list_parts(session: Session, *, limit: int = 100, offset: int = 0) -> list[Part]:
    return list(session.scalars(select(Part).order_by(Part.sku).limit(limit).offset(offset)))


def list_warehouses(session: Session) -> list[Warehouse]:
    return list(session.scalars(select(Warehouse).order_by(Warehouse.code)))


def get_warehouse_by_code(session: Session, *, code: str) -> Warehouse | None:
    return session.scalar(select(Warehouse).where(Warehouse.code == code))


def stock_for_part(session: Session, *, part_id: int) -> list[StockLevel]:
    return list(
        session.scalars(
            select(StockLevel).where(StockLevel.part_id == part_id).order_by(StockLevel.id)
        )
    )
