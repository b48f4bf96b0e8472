"""A small stock world for the inventory store tests: warehouses in 华北 and 华东 (with a
van), a few parts; helpers to read balances."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy.orm import Session

from servflow.inventory import service
from servflow.inventory.models import Part, StockLevel, Warehouse

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@dataclass
class Stock:
    warehouses: dict[str, Warehouse]
    parts: dict[str, Part]


def build(session: Session, units: dict) -> Stock:
    stores = {}
    for code, region, kind, lat, lng, engineer in (
        ("WH-BJ", "huabei", "central", 39.7267, 116.3412, ""),
        ("WH-TJ", "huabei", "regional", 39.3841, 117.0443, ""),
        ("WH-SH", "huadong", "central", 31.3747, 121.2655, ""),
        ("VAN-1", "huabei", "van", 39.91, 116.43, "bj_near"),
    ):
        stores[code] = service.save_warehouse(
            session,
            scope_path=None,
            code=code,
            name=code,
            region=region,
            lat=lat,
            lng=lng,
            kind=kind,
            engineer_code=engineer,
        )
    parts = {
        sku: service.save_part(
            session, scope_path=None, sku=sku, name=sku, price=Decimal(price), cost=Decimal("1")
        )
        for sku, price in (("MOTOR", "680"), ("PAD", "15"), ("CAP", "30"))
    }
    session.flush()
    return Stock(stores, parts)


def receive(session: Session, stock: Stock, warehouse: str, sku: str, qty: int, key: str) -> None:
    service.move(
        session,
        warehouse=stock.warehouses[warehouse],
        part=stock.parts[sku],
        kind="receipt",
        qty=qty,
        key=key,
        now=NOW,
    )


def level(session: Session, stock: Stock, warehouse: str, sku: str) -> tuple[int, int]:
    row = (
        session.query(StockLevel)
        .filter_by(warehouse_id=stock.warehouses[warehouse].id, part_id=stock.parts[sku].id)
        .populate_existing()
        .one()
    )
    return row.on_hand, row.reserved
