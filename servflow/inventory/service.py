"""Inventory use cases: the parts catalogue and stock per warehouse."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any, NamedTuple

from sqlalchemy.orm import Session

from servflow.definitions import service as definitions
from servflow.inventory import repo
from servflow.inventory.models import Part, StockLevel, Warehouse
from servflow.org import service as org
from servflow.platform.errors import Forbidden, Invalid, NotFound, invalid_field
from workflows.contracts import OrderState
from workflows.definition import Definition as Pipeline
from workflows.forms import PARTS_MAX_LINES, FormField

if TYPE_CHECKING:
    from servflow.orders.models import WorkOrder

get_part_by_sku = repo.get_part_by_sku
parts_by_sku = repo.parts_by_sku


# ---- master data: warehouses and stock levels ----------------------------------------------


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
        Invalid: the warehouse's region is outside `scope_path` (answered as if unknown).
    """
    store = repo.get_warehouse_by_code(session, code=warehouse)
    if store is None:
        raise invalid_field("warehouse", f"no warehouse '{warehouse}'")
    org.check_in_scope(
        org.path_of_unit(session, unit_id=store.region_id),
        scope_path,
        field="warehouse",
        unknown=f"no warehouse '{warehouse}'",
    )
    part = repo.get_part_by_sku(session, sku=sku)
    if part is None:
        raise invalid_field("sku", f"no part '{sku}'")
    if reserved > on_hand:
        raise invalid_field("reserved", "cannot exceed on_hand")
    level = repo.get_stock_level(session, warehouse_id=store.id, part_id=part.id)
    if level is None:
        level = StockLevel(warehouse_id=store.id, part_id=part.id)
        session.add(level)
    level.on_hand, level.reserved = on_hand, reserved
    session.flush()
    return StockEntry(level, store, part)


# ---- bulk: the parts catalogue and opening stock (demo data, CSV imports) ------------------


class NewPart(NamedTuple):
    """A catalogue entry to add."""

    sku: str
    name: str
    price: Decimal
    category: str = ""
    currency: str = "CNY"


def add_parts(session: Session, *, scope_path: str | None, parts: Iterable[NewPart]) -> list[str]:
    """Adds the parts whose SKU is not in the catalogue yet, in one statement (one lookup
    for all of them); parts already there are left as they are, and a SKU given twice is
    added once.

    Returns:
        The SKUs added.

    Raises:
        Forbidden: `scope_path` is not HQ's (None): every region shares the catalogue.
        Invalid: a negative price (field `price`); nothing is added then.
    """
    if scope_path is not None:
        message = "the parts catalogue is kept by HQ"
        raise Forbidden(f"sku: {message}", errors={"sku": message})
    rows = list(parts)
    known: set[str] = set(repo.parts_by_sku(session, skus=[row.sku for row in rows]))
    added: list[dict[str, object]] = []
    for row in rows:
        if row.price < 0:
            raise invalid_field("price", f"'{row.sku}' has a negative price")
        if row.sku not in known:
            known.add(row.sku)
            added.append(row._asdict())
    repo.insert_parts(session, rows=added)
    return [str(row["sku"]) for row in added]


class OpeningStock(NamedTuple):
    """The stock a warehouse starts with for one part."""

    warehouse: str
    sku: str
    on_hand: int
    reserved: int = 0


def _warehouses_in_scope(
    session: Session, *, codes: set[str], scope_path: str | None
) -> dict[str, Warehouse]:
    stores = repo.warehouses_by_code(session, codes=codes)
    missing = sorted(codes - set(stores))
    if missing:
        raise invalid_field("warehouse", f"no warehouse '{missing[0]}'")
    for store in stores.values():
        path = org.path_of_unit(session, unit_id=store.region_id)
        org.check_in_scope(
            path, scope_path, field="warehouse", unknown=f"no warehouse '{store.code}'"
        )
    return stores


def set_opening_stock(
    session: Session, *, scope_path: str | None, levels: Iterable[OpeningStock]
) -> int:
    """Adds the stock levels of warehouse/part pairs that have none yet, looking up the
    warehouses, the parts and their levels once for all rows. Pairs with a level keep it:
    stock that has moved since opening is not reset.

    Returns:
        How many levels were added.

    Raises:
        Invalid: naming the field: an unknown warehouse or part, or more reserved than on
            hand; nothing is added then.
        Forbidden: a warehouse's region is outside `scope_path`.
    """
    rows = list(levels)
    stores = _warehouses_in_scope(
        session, codes={row.warehouse for row in rows}, scope_path=scope_path
    )
    parts = repo.parts_by_sku(session, skus=[row.sku for row in rows])
    have = repo.stock_pairs(session, warehouse_ids=[store.id for store in stores.values()])
    added: list[dict[str, int]] = []
    for row in rows:
        part = parts.get(row.sku)
        if part is None:
            raise invalid_field("sku", f"no part '{row.sku}'")
        if row.on_hand < 0:
            raise invalid_field("on_hand", f"'{row.sku}' in '{row.warehouse}': cannot be negative")
        if row.reserved > row.on_hand:
            raise invalid_field(
                "reserved", f"'{row.sku}' in '{row.warehouse}': cannot exceed on_hand"
            )
        pair = (stores[row.warehouse].id, part.id)
        if pair in have:
            continue
        have.add(pair)
        added.append(
            {
                "warehouse_id": pair[0],
                "part_id": pair[1],
                "on_hand": row.on_hand,
                "reserved": row.reserved,
            }
        )
    repo.insert_stock_levels(session, rows=added)
    return len(added)


# ---- parts a field app reports ---------------------------------------------------------------


def _reported_parts(data: Mapping[str, Any]) -> bool:
    """Whether `data` holds a list of objects at all: only a parts field does, so other
    steps are not made to load their definition."""
    return any(
        isinstance(value, list) and any(isinstance(line, dict) for line in value)
        for value in data.values()
    )


def _parts_fields(session: Session, *, key: str, version: int, node_id: str) -> list[FormField]:
    """The `parts` fields of node `node_id` in the published version (none for a draft's
    test run, which has no published version and settles nothing real)."""
    try:
        row = definitions.get_version(session, key=key, version=version)
    except NotFound:
        return []
    node = next((n for n in Pipeline.model_validate(row.body).nodes if n.id == node_id), None)
    fields = node.form_fields() if node is not None else []
    return [field for field in fields if field.type == "parts"]


def check_parts(
    session: Session, *, order: WorkOrder | OrderState, node_id: str, data: Mapping[str, Any]
) -> None:
    """Refuses reported parts the settlement could not pay: every SKU of a `parts` field
    must be in the catalogue and, when the order's region has warehouses, on hand in one
    of them (a region without warehouses orders its parts centrally, so the catalogue is
    enough). Quantities are not compared with stock: the parts are used already, and the
    stock journal is reconciled on its own.

    Raises:
        Invalid: naming each refused line as `data.<field>[i].sku`.
    """
    if not _reported_parts(data):
        return
    fields = _parts_fields(
        session, key=order.definition_key, version=order.definition_version, node_id=node_id
    )
    lines = [
        (f"data.{field.name}[{index}].sku", line["sku"])
        for field in fields
        # A longer list is refused by the form check, without asking the database.
        if isinstance(data.get(field.name), list) and len(data[field.name]) <= PARTS_MAX_LINES
        for index, line in enumerate(data[field.name])
        if isinstance(line, dict) and isinstance(line.get("sku"), str)
    ]
    errors = _unavailable(session, lines, order)
    if errors:
        raise Invalid(f"{next(iter(errors))}: {next(iter(errors.values()))}", errors=errors)


def _unavailable(
    session: Session, lines: list[tuple[str, str]], order: WorkOrder | OrderState
) -> dict[str, str]:
    skus = {sku for _, sku in lines}
    known = repo.parts_by_sku(session, skus=skus)
    region = order.context.region if isinstance(order, OrderState) else order.region
    unit = org.find_region(session, code_or_name=region) if region else None
    region_ids = org.unit_ids_in_scope(scope_path=unit.path) if unit is not None else None
    checks_stock = region_ids is not None and repo.has_warehouse(session, region_ids=region_ids)
    stocked = (
        repo.stocked_skus(session, skus=known, region_ids=region_ids)
        if region_ids is not None and checks_stock
        else set(known)
    )
    errors: dict[str, str] = {}
    for path, sku in lines:
        if sku not in known:
            errors[path] = f"no part '{sku}' in the catalogue"
        elif sku not in stocked:
            errors[path] = f"part '{sku}' is in no warehouse of the order's region"
    return errors
