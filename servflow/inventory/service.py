"""Inventory use cases: the parts catalogue and stock per warehouse."""

from __future__ import annotations

from typing import NamedTuple

from sqlalchemy.orm import Session

from servflow.inventory import repo
from servflow.inventory.models import Part, StockLevel, Warehouse
from servflow.org import service as org
from servflow.platform.errors import Invalid

get_part_by_sku = repo.get_part_by_sku
parts_by_sku = repo.parts_by_sku


# ---- master data: warehouses and stock levels ----------------------------------------------


def _refuse(field: str, message: str) -> Invalid:
    return Invalid(f"{field}: {message}", errors={field: message})


def find_warehouse(session: Session, *, code: str, scope_path: str | None) -> Warehouse | None:
    """The warehouse `code`, when its region lies within `scope_path` (None: anywhere)."""
    warehouse = repo.get_warehouse_by_code(session, code=code)
    if warehouse is None or not org.visible(
        org.path_of_unit(session, unit_id=warehouse.region_id), scope_path
    ):
        return None
    return warehouse


def page_warehouses(
    session: Session, *, scope_path: str | None, limit: int, offset: int
) -> tuple[list[Warehouse], int]:
    """Warehouses of the regions within `scope_path`, by code, and their count."""
    region_ids = org.unit_ids_in_scope(scope_path=scope_path)
    return repo.page_warehouses(session, region_ids=region_ids, limit=limit, offset=offset)


def save_warehouse(
    session: Session,
    *,
    scope_path: str | None,
    code: str,
    name: str,
    region: str,
    city: str = "",
    lat: float | None = None,
    lng: float | None = None,
) -> Warehouse:
    """Creates or updates the warehouse `code` of a region (by code or name).

    Raises:
        Invalid: an unknown region (field `region`).
        Forbidden: the region, or the warehouse's current one, is outside `scope_path`.
    """
    unit = org.region_in_scope(session, code_or_name=region, scope_path=scope_path)
    warehouse = repo.get_warehouse_by_code(session, code=code)
    if warehouse is None:
        warehouse = Warehouse(code=code)
        session.add(warehouse)
    else:
        org.check_in_scope(
            org.path_of_unit(session, unit_id=warehouse.region_id), scope_path, field="code"
        )
    warehouse.name, warehouse.region_id, warehouse.city = name, unit.id, city
    warehouse.lat, warehouse.lng = lat, lng
    session.flush()
    return warehouse


class StockEntry(NamedTuple):
    """A stock level with the warehouse and part it counts."""

    level: StockLevel
    warehouse: Warehouse
    part: Part


def page_stock(
    session: Session,
    *,
    scope_path: str | None,
    limit: int,
    offset: int,
    warehouse: str | None = None,
    sku: str | None = None,
) -> tuple[list[StockEntry], int]:
    """Stock in the warehouses of the regions within `scope_path` (of one warehouse code and
    one SKU when given), by warehouse and SKU, and its count."""
    rows, count = repo.page_stock(
        session,
        region_ids=org.unit_ids_in_scope(scope_path=scope_path),
        warehouse=warehouse,
        sku=sku,
        limit=limit,
        offset=offset,
    )
    return [StockEntry(*row) for row in rows], count


def save_stock(
    session: Session,
    *,
    scope_path: str | None,
    warehouse: str,
    sku: str,
    on_hand: int,
    reserved: int = 0,
) -> StockEntry:
    """Sets the stock level of part `sku` in warehouse `warehouse` (created when missing).

    Raises:
        Invalid: naming the field: an unknown warehouse or part, or more reserved than on hand.
        Forbidden: the warehouse's region is outside `scope_path`.
    """
    store = repo.get_warehouse_by_code(session, code=warehouse)
    if store is None:
        raise _refuse("warehouse", f"no warehouse '{warehouse}'")
    org.check_in_scope(
        org.path_of_unit(session, unit_id=store.region_id), scope_path, field="warehouse"
    )
    part = repo.get_part_by_sku(session, sku=sku)
    if part is None:
        raise _refuse("sku", f"no part '{sku}'")
    if reserved > on_hand:
        raise _refuse("reserved", "cannot exceed on_hand")
    level = repo.get_stock_level(session, warehouse_id=store.id, part_id=part.id)
    if level is None:
        level = StockLevel(warehouse_id=store.id, part_id=part.id)
        session.add(level)
    level.on_hand, level.reserved = on_hand, reserved
    session.flush()
    return StockEntry(level, store, part)
