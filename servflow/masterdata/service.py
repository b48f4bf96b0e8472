"""Master data: outlets (org units), engineers, warehouses, stock levels, price tables.

One set of row models and one `apply_row` per kind serves the CRUD routes, the CSV import
(`import_csv`, also used by the CLI) and their checks: every reference is resolved by its
code, and every row must lie within the caller's scope (when one is given).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from servflow.billing.models import PriceTable
from servflow.dispatch.models import Engineer
from servflow.inventory.models import Part, StockLevel, Warehouse
from servflow.org import repo as org
from servflow.org.models import OrgUnit
from servflow.org.users import get_user_by_username

CODE = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
KINDS = ("outlets", "engineers", "warehouses", "stock", "price_tables")
Kind = Literal["outlets", "engineers", "warehouses", "stock", "price_tables"]


class RowError(Exception):
    """A row that cannot be applied: which field, and why."""

    def __init__(self, field: str, message: str, *, forbidden: bool = False) -> None:
        super().__init__(f"{field}: {message}")
        self.field, self.message, self.forbidden = field, message, forbidden


class _Row(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class OrgUnitIn(_Row):
    kind: Literal["branch", "outlet"] = "outlet"
    code: str = Field(pattern=CODE)
    name: str = Field(min_length=1, max_length=200)
    parent: str = Field(min_length=1, max_length=64, description="code of the parent unit")
    city: str = Field(default="", max_length=100)
    lat: float | None = Field(default=None, ge=-90, le=90)
    lng: float | None = Field(default=None, ge=-180, le=180)


class EngineerIn(_Row):
    code: str = Field(pattern=CODE)
    name: str = Field(min_length=1, max_length=100)
    outlet: str = Field(min_length=1, max_length=64)
    skills: list[str] = Field(default_factory=list)
    phone: str = Field(default="", max_length=32)
    lat: float | None = Field(default=None, ge=-90, le=90)
    lng: float | None = Field(default=None, ge=-180, le=180)
    state: Literal["available", "busy", "off"] = "available"
    max_load: int = Field(default=3, ge=1, le=100)
    username: str = Field(default="", max_length=100, description="login of the engineer")

    @field_validator("skills", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [s.strip() for s in value.split(";") if s.strip()]
        return value


class WarehouseIn(_Row):
    code: str = Field(pattern=CODE)
    name: str = Field(min_length=1, max_length=200)
    region: str = Field(min_length=1, max_length=64, description="region code or name")
    city: str = Field(default="", max_length=100)
    lat: float | None = Field(default=None, ge=-90, le=90)
    lng: float | None = Field(default=None, ge=-180, le=180)


class StockIn(_Row):
    warehouse: str = Field(min_length=1, max_length=64)
    sku: str = Field(min_length=1, max_length=64)
    on_hand: int = Field(ge=0, le=10_000_000)
    reserved: int = Field(default=0, ge=0, le=10_000_000)


class PriceTableIn(_Row):
    region: str = Field(min_length=1, max_length=64)
    currency: str = Field(default="CNY", pattern=r"^[A-Z]{3}$")
    base_visit_fee: Decimal = Field(ge=0, le=Decimal("1e12"), decimal_places=2)
    per_km_surcharge: Decimal = Field(ge=0, le=Decimal("1e12"), decimal_places=2)
    free_km: Decimal = Field(ge=0, le=Decimal("1e6"), decimal_places=2)
    valid_from: datetime

    @field_validator("valid_from")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


ROW_MODELS: dict[str, type[_Row]] = {
    "outlets": OrgUnitIn,
    "engineers": EngineerIn,
    "warehouses": WarehouseIn,
    "stock": StockIn,
    "price_tables": PriceTableIn,
}


# ---- applying one row -----------------------------------------------------------------------


def _check_scope(path: str, scope_path: str | None, what: str) -> None:
    if scope_path is not None and not org.in_scope(path, scope_path):
        raise RowError(what, f"is outside your scope ({scope_path})", forbidden=True)


def _region(session: Session, code: str, scope_path: str | None) -> OrgUnit:
    region = org.find_region(session, code_or_name=code)
    if region is None:
        raise RowError("region", f"no region '{code}'")
    _check_scope(region.path, scope_path, "region")
    return region


def apply_org_unit(session: Session, row: OrgUnitIn, scope_path: str | None) -> OrgUnit:
    parent = org.get_unit_by_code(session, code=row.parent)
    if parent is None:
        raise RowError("parent", f"no org unit '{row.parent}'")
    expected = "branch" if row.kind == "outlet" else "region"
    if parent.kind != expected:
        raise RowError("parent", f"a {row.kind} must sit under a {expected}, not a {parent.kind}")
    _check_scope(parent.path, scope_path, "parent")
    unit = org.get_unit_by_code(session, code=row.code)
    if unit is None:
        return org.create_unit(
            session,
            kind=row.kind,
            code=row.code,
            name=row.name,
            parent=parent,
            city=row.city,
            lat=row.lat,
            lng=row.lng,
        )
    if unit.kind != row.kind or unit.parent_id != parent.id:
        raise RowError("code", f"'{row.code}' exists already as a {unit.kind} elsewhere")
    unit.name, unit.city, unit.lat, unit.lng = row.name, row.city, row.lat, row.lng
    session.flush()
    return unit


def apply_engineer(session: Session, row: EngineerIn, scope_path: str | None) -> Engineer:
    outlet = org.get_unit_by_code(session, code=row.outlet)
    if outlet is None or outlet.kind != "outlet":
        raise RowError("outlet", f"no outlet '{row.outlet}'")
    _check_scope(outlet.path, scope_path, "outlet")
    user_id = None
    if row.username:
        user = get_user_by_username(session, username=row.username)
        if user is None or "engineer" not in user.roles:
            raise RowError("username", f"'{row.username}' is not an engineer user")
        user_id = user.id
    engineer = session.scalar(select(Engineer).where(Engineer.code == row.code))
    outside = scope_path is not None and not org.in_scope(
        engineer.outlet.path if engineer else "", scope_path
    )
    if engineer is not None and outside:
        raise RowError("code", "this engineer works outside your scope", forbidden=True)
    if user_id is not None:
        other = session.scalar(
            select(Engineer).where(Engineer.user_id == user_id, Engineer.code != row.code)
        )
        if other is not None:
            raise RowError("username", f"'{row.username}' is engineer '{other.code}' already")
    if engineer is None:
        engineer = Engineer(code=row.code, current_load=0)
        session.add(engineer)
    if user_id is not None:
        engineer.user_id = user_id
    engineer.name, engineer.phone, engineer.outlet_id = row.name, row.phone, outlet.id
    engineer.skills, engineer.lat, engineer.lng = list(row.skills), row.lat, row.lng
    engineer.state, engineer.max_load = row.state, row.max_load
    session.flush()
    return engineer


def apply_warehouse(session: Session, row: WarehouseIn, scope_path: str | None) -> Warehouse:
    region = _region(session, row.region, scope_path)
    warehouse = session.scalar(select(Warehouse).where(Warehouse.code == row.code))
    if warehouse is None:
        warehouse = Warehouse(code=row.code)
        session.add(warehouse)
    else:
        current = session.get(OrgUnit, warehouse.region_id)
        _check_scope(current.path if current else "", scope_path, "code")
    warehouse.name, warehouse.region_id, warehouse.city = row.name, region.id, row.city
    warehouse.lat, warehouse.lng = row.lat, row.lng
    session.flush()
    return warehouse


def apply_stock(session: Session, row: StockIn, scope_path: str | None) -> StockLevel:
    warehouse = session.scalar(select(Warehouse).where(Warehouse.code == row.warehouse))
    if warehouse is None:
        raise RowError("warehouse", f"no warehouse '{row.warehouse}'")
    region = session.get(OrgUnit, warehouse.region_id)
    _check_scope(region.path if region else "", scope_path, "warehouse")
    part = session.scalar(select(Part).where(Part.sku == row.sku))
    if part is None:
        raise RowError("sku", f"no part '{row.sku}'")
    if row.reserved > row.on_hand:
        raise RowError("reserved", "cannot exceed on_hand")
    level = session.scalar(
        select(StockLevel).where(
            StockLevel.warehouse_id == warehouse.id, StockLevel.part_id == part.id
        )
    )
    if level is None:
        level = StockLevel(warehouse_id=warehouse.id, part_id=part.id)
        session.add(level)
    level.on_hand, level.reserved = row.on_hand, row.reserved
    session.flush()
    return level


def apply_price_table(
    session: Session, row: PriceTableIn, scope_path: str | None, *, table_id: int | None = None
) -> PriceTable:
    region = _region(session, row.region, scope_path)
    if table_id is not None:
        table = session.get(PriceTable, table_id)
        if table is None:
            raise RowError("id", f"no price table {table_id}")
    else:
        table = session.scalar(
            select(PriceTable).where(
                PriceTable.region_id == region.id,
                PriceTable.currency == row.currency,
                PriceTable.valid_from == row.valid_from,
            )
        )
        if table is None:
            table = PriceTable()
            session.add(table)
    table.region_id, table.currency, table.valid_from = region.id, row.currency, row.valid_from
    table.base_visit_fee, table.per_km_surcharge = row.base_visit_fee, row.per_km_surcharge
    table.free_km = row.free_km
    session.flush()
    return table


APPLY: dict[str, Callable[[Session, Any, str | None], Any]] = {
    "outlets": apply_org_unit,
    "engineers": apply_engineer,
    "warehouses": apply_warehouse,
    "stock": apply_stock,
    "price_tables": apply_price_table,
}


# ---- CSV import ------------------------------------------------------------------------------


@dataclass
class ImportReport:
    """`imported` rows (0 when any row is bad: nothing is imported then) and row errors.

    `row` is the line number in the file (the header is line 1).
    """

    imported: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


Progress = Callable[[int, int], None]


def read_csv(data: bytes) -> list[dict[str, str]]:
    """Rows of a UTF-8 (optionally BOM-prefixed) CSV file with a header line.

    Raises:
        ValueError: not UTF-8 text, or no header.
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError("the file is not UTF-8 text") from exc
    if "\x00" in text:
        raise ValueError("the file contains NUL characters")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        if not reader.fieldnames:
            raise ValueError("the file has no header line")
        return [dict(row) for row in reader]
    except csv.Error as exc:
        raise ValueError(f"not a CSV file: line {reader.line_num}: {exc}") from exc


def _clean(raw: Mapping[Any, Any]) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for key, value in raw.items():
        if key is None:
            row["_extra"] = value  # more cells than header columns
            continue
        key = key.strip()
        if isinstance(value, str) and value.strip() == "":
            continue  # an empty cell means "the default"
        row[key] = value
    return row


def import_csv(
    session: Session,
    kind: str,
    rows: Iterable[Mapping[Any, Any]],
    *,
    scope_path: str | None = None,
    progress: Progress | None = None,
) -> ImportReport:
    """Imports rows of `kind` (created or updated by their natural key) all or nothing.

    Every row is checked; when any row is bad, the session is rolled back and the report
    lists every error with its line and field. Otherwise the rows are applied and flushed;
    the caller commits.

    Args:
        session: the transaction to import in.
        kind: one of KINDS.
        rows: dicts of column name to cell text (e.g. from `read_csv`).
        scope_path: when given, every row must lie within this org path.
        progress: called as `progress(done, total)` while rows are applied.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown import kind {kind!r}; one of {', '.join(KINDS)}")
    model, apply = ROW_MODELS[kind], APPLY[kind]
    materialized = list(rows)
    report = ImportReport()
    for index, raw in enumerate(materialized):
        line = index + 2
        cleaned = _clean(raw)
        if "_extra" in cleaned:
            report.errors.append({"row": line, "field": "", "message": "too many cells"})
            continue
        try:
            row = model.model_validate(cleaned)
        except ValidationError as exc:
            for error in exc.errors():
                name = ".".join(str(p) for p in error["loc"]) or ""
                report.errors.append({"row": line, "field": name, "message": error["msg"]})
            continue
        try:
            apply(session, row, scope_path)
        except RowError as exc:
            report.errors.append({"row": line, "field": exc.field, "message": exc.message})
        except IntegrityError as exc:
            session.rollback()
            report.errors.append(
                {"row": line, "field": "", "message": f"conflicts with stored data: {exc.orig}"}
            )
            break
        if progress is not None:
            progress(index + 1, len(materialized))
    if report.errors:
        session.rollback()
        return report
    report.imported = len(materialized)
    return report
