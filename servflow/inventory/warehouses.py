"""Warehouses per region: lookups within a caller's scope and their master data."""

from __future__ import annotations

from sqlalchemy.orm import Session

from servflow.inventory import repo
from servflow.inventory.models import Warehouse
from servflow.org import service as org
from servflow.platform.errors import invalid_field


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
    kind: str = "regional",
    engineer_code: str = "",
    lead_time_hours: int = 24,
) -> Warehouse:
    """Creates or updates the warehouse `code` of a region (by code or name): its kind
    (central, regional, outlet, or an engineer's van: `engineer_code`), place and lead time.

    Raises:
        Invalid: an unknown region (field `region`).
        Invalid: the region, or the warehouse's current one, is outside `scope_path`
            (answered as if unknown).
    """
    unit = org.region_in_scope(session, code_or_name=region, scope_path=scope_path)
    warehouse = repo.get_warehouse_by_code(session, code=code)
    if warehouse is None:
        warehouse = Warehouse(code=code)
        session.add(warehouse)
    else:
        org.check_in_scope(
            org.path_of_unit(session, unit_id=warehouse.region_id),
            scope_path,
            field="code",
            unknown=f"no warehouse '{code}'",
        )
    warehouse.name, warehouse.region_id, warehouse.city = name, unit.id, city
    warehouse.lat, warehouse.lng = lat, lng
    if kind == "van" and not engineer_code:
        raise invalid_field("engineer_code", "a van belongs to an engineer")
    warehouse.kind, warehouse.engineer_code = kind, engineer_code if kind == "van" else ""
    warehouse.lead_time_hours = lead_time_hours
    session.flush()
    return warehouse


def set_warehouse_kind(session: Session, *, code: str, kind: str) -> None:
    """Sets the kind of an existing warehouse (not a van: a van names its engineer)."""
    store = repo.get_warehouse_by_code(session, code=code)
    if store is not None and kind != "van":
        store.kind = kind
        session.flush()


def visible_warehouse(session: Session, code: str, scope_path: str | None, field: str) -> Warehouse:
    """The warehouse `code` within `scope_path`.

    Raises:
        Invalid: no such warehouse in the scope (naming `field`; one outside the scope is
            answered as unknown).
    """
    store = find_warehouse(session, code=code, scope_path=scope_path)
    if store is None:
        raise invalid_field(field, f"no warehouse '{code}'")
    return store
