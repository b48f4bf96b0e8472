"""The master-data kinds, each described once: outlets, engineers, warehouses, stock, price tables.

An entry (`MasterKind`) names a kind's input row model (a request body, a CSV line), its
public model (what the API answers), the use cases of the domain that owns it (`page` lists
within a scope, `save` creates or updates one row, `key.find` finds one by its URL key within
a scope) and how a stored row becomes its public model (`show`). The API routes
(api/routes/masterdata.py), the CSV import and the generic use cases of
servflow.masterdata.service are all built from `KINDS`; nothing else lists the kinds.

How to add a kind (say "parts", owned by inventory):
1. In the owning domain's repo.py, the page query (scope-filtered: `column.in_(...)` of
   `org.unit_ids_in_scope(...)`, or `servflow.platform.scope.under` on a path column).
2. In its service.py, `page_parts(session, *, scope_path, limit, offset, **filters)`,
   `save_part(session, *, scope_path, **row fields)` raising `Invalid`/`Forbidden` that name
   the field (`errors={field: message}`), and, when rows have a URL key,
   `find_part(session, *, code, scope_path)`. Scope checks use `org.check_in_scope`.
3. Here: `PartIn` (a `Row`), `PartPublic`, a `show` function and a `MasterKind` in `_KINDS`.
   The routes (GET/POST/PUT, typed in OpenAPI) and `/api/import/parts` follow.
(and, for a new table, the domain's models.py with its migration.)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from servflow.billing import service as billing
from servflow.dispatch import service as dispatch
from servflow.inventory import service as inventory
from servflow.org import service as org

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from servflow.billing.models import PriceTable
    from servflow.dispatch.models import Engineer
    from servflow.inventory.models import Warehouse
    from servflow.org.models import OrgUnit

CODE = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
P = TypeVar("P", bound=BaseModel)


class Row(BaseModel):
    """One input row of a kind: a request body or a CSV line (extra columns are errors)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


@dataclass(frozen=True)
class Key:
    """How a URL names one stored row: `{url}/{param}`.

    `find(session, *, <param>, scope_path)` returns the row when it lies within the scope.
    With `in_body`, the body carries the key too (it must equal the URL's, and creating a
    row whose key exists is a conflict); otherwise the URL's key is passed on to `save`.
    """

    param: str
    type: type[str] | type[int]
    find: Callable[..., Any]
    in_body: bool = True


@dataclass(frozen=True)
class MasterKind:
    """One kind of master data: `name` in the import URL and operation names ("price_tables"),
    `url` under /api, `one` the singular ("price_table"), `title` the rows in words.

    `page(session, *, scope_path, limit, offset, **filters)` → (stored rows, count);
    `save(session, *, scope_path, **row fields)` → the stored row (flushed, not committed);
    `show(session, stored)` → the public model. Without a `key`, rows are set by a PUT on
    the collection (they are named by their fields); with one, POST creates and PUT
    `{url}/{key}` updates.
    """

    name: str
    url: str
    one: str
    title: str
    row: type[Row]
    public: type[BaseModel]
    page: Callable[..., tuple[Sequence[Any], int]]
    save: Callable[..., Any]
    show: Callable[[Session, Any], BaseModel]
    key: Key | None = None
    filters: type[BaseModel] | None = None

    @property
    def noun(self) -> str:
        """The singular for messages: "price table"."""
        return self.one.replace("_", " ")


def _public(model: type[P], stored: Any, **computed: Any) -> P:
    """`model` of a stored row: the fields not `computed` are the row's attributes."""
    fields = {name: getattr(stored, name) for name in model.model_fields if name not in computed}
    return model.model_validate({**fields, **computed})


def _unit_code(session: Session, unit_id: int) -> str:
    unit = org.get_unit(session, unit_id=unit_id)
    return unit.code if unit else ""


# ---- outlets (org units) ---------------------------------------------------------------------


class OrgUnitIn(Row):
    kind: Literal["branch", "outlet"] = "outlet"
    code: str = Field(pattern=CODE)
    name: str = Field(min_length=1, max_length=200)
    parent: str = Field(min_length=1, max_length=64, description="code of the parent unit")
    city: str = Field(default="", max_length=100)
    lat: float | None = Field(default=None, ge=-90, le=90)
    lng: float | None = Field(default=None, ge=-180, le=180)


class OrgUnitPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    code: str
    name: str
    path: str
    city: str
    lat: float | None
    lng: float | None


def _outlet_public(session: Session, unit: OrgUnit) -> OrgUnitPublic:
    return OrgUnitPublic.model_validate(unit)


# ---- engineers ---------------------------------------------------------------------------------


class CertificateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    skill: str = Field(min_length=1, max_length=64)
    level: int = Field(default=1, ge=1, le=10)
    expires: date | None = None


class ShiftIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    days: list[int] = Field(default_factory=lambda: list(range(1, 8)), max_length=7)
    start: str = Field(default="00:00", pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
    end: str = Field(default="24:00", pattern=r"^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$")


class LeaveIn(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    start: date = Field(alias="from")
    end: date = Field(alias="to")


class EngineerIn(Row):
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
    certificates: list[CertificateIn] = Field(
        default_factory=list,
        max_length=20,
        description="checked against the skill catalogue; CSV: skill:level:expires;...",
    )
    shift: ShiftIn | None = None
    leaves: list[LeaveIn] = Field(default_factory=list, max_length=50)

    @field_validator("skills", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [s.strip() for s in value.split(";") if s.strip()]
        return value

    @field_validator("certificates", mode="before")
    @classmethod
    def _certificates(cls, value: Any) -> Any:
        if isinstance(value, str):
            fields = ("skill", "level", "expires")
            return [
                {
                    k: v
                    for k, v in zip(fields, (p.strip() for p in item.split(":")), strict=False)
                    if v
                }
                for item in value.split(";")
                if item.strip()
            ]
        return value


class EngineerPublic(BaseModel):
    code: str
    name: str
    outlet: str
    skills: list[str]
    phone: str
    lat: float | None
    lng: float | None
    state: str
    current_load: int
    max_load: int
    username: str
    certificates: list[dict[str, Any]] = Field(default_factory=list)
    shift: dict[str, Any] = Field(default_factory=dict)
    leaves: list[dict[str, Any]] = Field(default_factory=list)


def _engineer_public(session: Session, engineer: Engineer) -> EngineerPublic:
    username = engineer.user.username if engineer.user else ""
    return _public(EngineerPublic, engineer, outlet=engineer.outlet.code, username=username)


# ---- warehouses and stock ----------------------------------------------------------------------


class WarehouseIn(Row):
    code: str = Field(pattern=CODE)
    name: str = Field(min_length=1, max_length=200)
    region: str = Field(min_length=1, max_length=64, description="region code or name")
    city: str = Field(default="", max_length=100)
    lat: float | None = Field(default=None, ge=-90, le=90)
    lng: float | None = Field(default=None, ge=-180, le=180)
    kind: Literal["central", "regional", "outlet", "van"] = "regional"
    engineer_code: str = Field(default="", max_length=64, description="a van's engineer")
    lead_time_hours: int = Field(default=24, ge=0, le=24 * 90)


class WarehousePublic(BaseModel):
    code: str
    name: str
    region: str
    city: str
    lat: float | None
    lng: float | None
    kind: str = "regional"
    engineer_code: str = ""
    lead_time_hours: int = 24


def _warehouse_public(session: Session, warehouse: Warehouse) -> WarehousePublic:
    return _public(WarehousePublic, warehouse, region=_unit_code(session, warehouse.region_id))


class StockIn(Row):
    """A stock count (opening stock, CSV import): the difference to the balance is
    journalled as a receipt or an adjustment; `reserved` moves only by reservations."""

    warehouse: str = Field(min_length=1, max_length=64)
    sku: str = Field(min_length=1, max_length=64)
    on_hand: int = Field(ge=0, le=10_000_000)
    reserved: int | None = Field(default=None, ge=0, le=10_000_000)


class StockFilters(BaseModel):
    """Query parameters of the stock list."""

    warehouse: str | None = Field(default=None, max_length=64)
    sku: str | None = Field(default=None, max_length=64)


class StockPublic(BaseModel):
    warehouse: str
    sku: str
    part_name: str
    on_hand: int
    reserved: int
    available: int = 0
    safety_level: int = 0
    reorder_point: int = 0


def _stock_public(session: Session, entry: inventory.StockEntry) -> StockPublic:
    return StockPublic(
        warehouse=entry.warehouse.code,
        sku=entry.part.sku,
        part_name=entry.part.name,
        on_hand=entry.level.on_hand,
        reserved=entry.level.reserved,
        available=entry.level.on_hand - entry.level.reserved,
        safety_level=entry.level.safety_level,
        reorder_point=entry.level.reorder_point,
    )


# ---- parts (the catalogue, kept by HQ) ---------------------------------------------------------


class PartIn(Row):
    sku: str = Field(pattern=CODE)
    name: str = Field(min_length=1, max_length=200, description="Chinese name")
    name_en: str = Field(default="", max_length=200)
    category: str = Field(default="", max_length=64)
    unit: str = Field(default="pcs", min_length=1, max_length=16)
    cost: Decimal = Field(default=Decimal("0"), ge=0, le=Decimal("1e12"), decimal_places=2)
    price: Decimal = Field(ge=0, le=Decimal("1e12"), decimal_places=2)
    currency: str = Field(default="CNY", pattern=r"^[A-Z]{3}$")
    compatible_products: list[str] = Field(default_factory=list, max_length=100)
    fault_types: list[str] = Field(default_factory=list, max_length=100)

    @field_validator("compatible_products", "fault_types", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [s.strip() for s in value.split(";") if s.strip()]
        return value


class PartFilters(BaseModel):
    q: str | None = Field(default=None, max_length=64, description="in SKU or names")


class PartPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    sku: str
    name: str
    name_en: str
    category: str
    unit: str
    cost: Decimal
    price: Decimal
    currency: str
    compatible_products: list[str]
    fault_types: list[str]


def _part_public(session: Session, part: Any) -> PartPublic:
    return PartPublic.model_validate(part)


# ---- price tables --------------------------------------------------------------------------------


class PriceTableIn(Row):
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


class PriceTablePublic(BaseModel):
    id: int
    region: str
    currency: str
    base_visit_fee: Decimal
    per_km_surcharge: Decimal
    free_km: Decimal
    valid_from: datetime


def _price_public(session: Session, table: PriceTable) -> PriceTablePublic:
    return _public(PriceTablePublic, table, region=_unit_code(session, table.region_id))


# ---- the registry --------------------------------------------------------------------------------

_KINDS = (
    MasterKind(
        name="outlets",
        url="/outlets",
        one="outlet",
        title="Branches and outlets",
        row=OrgUnitIn,
        public=OrgUnitPublic,
        page=org.page_outlets,
        save=org.save_outlet,
        show=_outlet_public,
        key=Key("code", str, org.find_outlet),
    ),
    MasterKind(
        name="engineers",
        url="/engineers",
        one="engineer",
        title="Engineers",
        row=EngineerIn,
        public=EngineerPublic,
        page=dispatch.page_engineers,
        save=dispatch.save_engineer,
        show=_engineer_public,
        key=Key("code", str, dispatch.find_engineer),
    ),
    MasterKind(
        name="warehouses",
        url="/warehouses",
        one="warehouse",
        title="Warehouses",
        row=WarehouseIn,
        public=WarehousePublic,
        page=inventory.page_warehouses,
        save=inventory.save_warehouse,
        show=_warehouse_public,
        key=Key("code", str, inventory.find_warehouse),
    ),
    MasterKind(
        name="stock",
        url="/stock",
        one="stock",
        title="Stock levels of parts in warehouses",
        row=StockIn,
        public=StockPublic,
        page=inventory.page_stock,
        save=inventory.save_stock,
        show=_stock_public,
        filters=StockFilters,
    ),
    MasterKind(
        name="parts",
        url="/parts",
        one="part",
        title="The parts catalogue",
        row=PartIn,
        public=PartPublic,
        page=inventory.page_parts,
        save=inventory.save_part,
        show=_part_public,
        key=Key("sku", str, inventory.find_part),
        filters=PartFilters,
    ),
    MasterKind(
        name="price_tables",
        url="/price-tables",
        one="price_table",
        title="Price tables of regions",
        row=PriceTableIn,
        public=PriceTablePublic,
        page=billing.page_price_tables,
        save=billing.save_price_table,
        show=_price_public,
        key=Key("table_id", int, billing.find_price_table, in_body=False),
    ),
)

KINDS: dict[str, MasterKind] = {kind.name: kind for kind in _KINDS}


def get_kind(name: str) -> MasterKind:
    """The kind called `name`.

    Raises:
        ValueError: no such kind.
    """
    kind = KINDS.get(name)
    if kind is None:
        raise ValueError(f"unknown master-data kind {name!r}; one of {', '.join(KINDS)}")
    return kind
