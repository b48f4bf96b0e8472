"""Master data CRUD and CSV import (hq_admin everywhere; region managers in their region)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, File, Path, Query, UploadFile
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api.deps import MasterDataEditor, Principal, SessionDep
from api.schemas import ERRORS, Page
from servflow.billing.models import PriceTable
from servflow.dispatch.models import Engineer
from servflow.inventory.models import Part, StockLevel, Warehouse
from servflow.masterdata import service as md
from servflow.org.models import OrgUnit
from servflow.platform.errors import Conflict, Forbidden, Invalid, NotFound

router = APIRouter(prefix="/api", tags=["master data"])

Limit = Annotated[int, Query(ge=1, le=500)]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]
CodePath = Annotated[str, Path(max_length=64)]


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


class WarehousePublic(BaseModel):
    code: str
    name: str
    region: str
    city: str
    lat: float | None
    lng: float | None


class StockPublic(BaseModel):
    warehouse: str
    sku: str
    part_name: str
    on_hand: int
    reserved: int


class PriceTablePublic(BaseModel):
    id: int
    region: str
    currency: str
    base_visit_fee: Decimal
    per_km_surcharge: Decimal
    free_km: Decimal
    valid_from: datetime


class ImportResult(BaseModel):
    kind: str
    imported: int
    errors: list[dict[str, Any]]


class ImportRefused(BaseModel):
    """422 of an import: row errors `[{row, field, message}]`, or field errors of the request."""

    detail: str
    kind: str | None = None
    imported: int = 0
    errors: list[dict[str, Any]] | dict[str, str]


def _scope(user: Principal) -> str | None:
    """None (everything) for HQ admins, else the caller's own path."""
    return None if user.has("hq_admin") else user.scope_path or "/-"


def _under(column: Any, scope: str | None) -> Any:
    if scope is None:
        return True
    prefix = scope.rstrip("/")
    return or_(column == prefix, column.startswith(prefix + "/"))


def _apply(session: Session, fn: Any, row: Any, scope: str | None, **kwargs: Any) -> Any:
    try:
        result = fn(session, row, scope, **kwargs)
        session.commit()
    except md.RowError as exc:
        session.rollback()
        if exc.forbidden:
            raise Forbidden(f"{exc.field}: {exc.message}") from exc
        raise Invalid(f"{exc.field}: {exc.message}", errors={exc.field: exc.message}) from exc
    except IntegrityError as exc:
        session.rollback()
        raise Conflict(f"conflicts with stored data: {exc.orig}") from exc
    return result


def _page(session: Session, query: Any, limit: int, offset: int) -> tuple[list[Any], int]:
    count = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    return list(session.scalars(query.limit(limit).offset(offset))), count


# ---- outlets (org units) -------------------------------------------------------------------


@router.get("/outlets", response_model=Page[OrgUnitPublic], responses=ERRORS)
def read_outlets(
    session: SessionDep, user: MasterDataEditor, limit: Limit = 100, offset: Offset = 0
) -> Page[OrgUnitPublic]:
    """Branches and outlets within the caller's scope."""
    query = (
        select(OrgUnit)
        .where(OrgUnit.kind.in_(("branch", "outlet")), _under(OrgUnit.path, _scope(user)))
        .order_by(OrgUnit.path)
    )
    rows, count = _page(session, query, limit, offset)
    return Page(data=[OrgUnitPublic.model_validate(r) for r in rows], count=count)


@router.post("/outlets", status_code=201, response_model=OrgUnitPublic, responses=ERRORS)
def create_outlet(body: md.OrgUnitIn, session: SessionDep, user: MasterDataEditor) -> Any:
    if session.scalar(select(OrgUnit).where(OrgUnit.code == body.code)) is not None:
        raise Conflict(f"code: org unit '{body.code}' exists already")
    return OrgUnitPublic.model_validate(_apply(session, md.apply_org_unit, body, _scope(user)))


@router.put("/outlets/{code}", response_model=OrgUnitPublic, responses=ERRORS)
def update_outlet(
    code: CodePath, body: md.OrgUnitIn, session: SessionDep, user: MasterDataEditor
) -> Any:
    unit = session.scalar(select(OrgUnit).where(OrgUnit.code == code))
    if unit is None or unit.kind not in ("branch", "outlet"):
        raise NotFound(f"no outlet '{code}'")
    if body.code != code:
        raise Invalid(f"code: must be '{code}'", errors={"code": f"must be '{code}'"})
    return OrgUnitPublic.model_validate(_apply(session, md.apply_org_unit, body, _scope(user)))


# ---- engineers ---------------------------------------------------------------------------------


def _engineer_public(engineer: Engineer) -> EngineerPublic:
    return EngineerPublic(
        code=engineer.code,
        name=engineer.name,
        outlet=engineer.outlet.code,
        skills=list(engineer.skills),
        phone=engineer.phone,
        lat=engineer.lat,
        lng=engineer.lng,
        state=engineer.state,
        current_load=engineer.current_load,
        max_load=engineer.max_load,
        username=engineer.user.username if engineer.user else "",
    )


@router.get("/engineers", response_model=Page[EngineerPublic], responses=ERRORS)
def read_engineers(
    session: SessionDep, user: MasterDataEditor, limit: Limit = 100, offset: Offset = 0
) -> Page[EngineerPublic]:
    query = (
        select(Engineer)
        .join(Engineer.outlet)
        .where(_under(OrgUnit.path, _scope(user)))
        .order_by(Engineer.code)
    )
    rows, count = _page(session, query, limit, offset)
    return Page(data=[_engineer_public(r) for r in rows], count=count)


@router.post("/engineers", status_code=201, response_model=EngineerPublic, responses=ERRORS)
def create_engineer(body: md.EngineerIn, session: SessionDep, user: MasterDataEditor) -> Any:
    if session.scalar(select(Engineer).where(Engineer.code == body.code)) is not None:
        raise Conflict(f"code: engineer '{body.code}' exists already")
    return _engineer_public(_apply(session, md.apply_engineer, body, _scope(user)))


@router.put("/engineers/{code}", response_model=EngineerPublic, responses=ERRORS)
def update_engineer(
    code: CodePath, body: md.EngineerIn, session: SessionDep, user: MasterDataEditor
) -> Any:
    engineer = session.scalar(select(Engineer).where(Engineer.code == code))
    if engineer is None or not _visible(engineer.outlet.path, user):
        raise NotFound(f"no engineer '{code}'")
    if body.code != code:
        raise Invalid(f"code: must be '{code}'", errors={"code": f"must be '{code}'"})
    return _engineer_public(_apply(session, md.apply_engineer, body, _scope(user)))


def _visible(path: str, user: Principal) -> bool:
    scope = _scope(user)
    return scope is None or user.sees(path)


# ---- warehouses and stock -----------------------------------------------------------------------


def _warehouse_public(session: Session, warehouse: Warehouse) -> WarehousePublic:
    region = session.get(OrgUnit, warehouse.region_id)
    return WarehousePublic(
        code=warehouse.code,
        name=warehouse.name,
        region=region.code if region else "",
        city=warehouse.city,
        lat=warehouse.lat,
        lng=warehouse.lng,
    )


@router.get("/warehouses", response_model=Page[WarehousePublic], responses=ERRORS)
def read_warehouses(
    session: SessionDep, user: MasterDataEditor, limit: Limit = 100, offset: Offset = 0
) -> Page[WarehousePublic]:
    query = (
        select(Warehouse)
        .join(OrgUnit, OrgUnit.id == Warehouse.region_id)
        .where(_under(OrgUnit.path, _scope(user)))
        .order_by(Warehouse.code)
    )
    rows, count = _page(session, query, limit, offset)
    return Page(data=[_warehouse_public(session, r) for r in rows], count=count)


@router.post("/warehouses", status_code=201, response_model=WarehousePublic, responses=ERRORS)
def create_warehouse(body: md.WarehouseIn, session: SessionDep, user: MasterDataEditor) -> Any:
    if session.scalar(select(Warehouse).where(Warehouse.code == body.code)) is not None:
        raise Conflict(f"code: warehouse '{body.code}' exists already")
    return _warehouse_public(session, _apply(session, md.apply_warehouse, body, _scope(user)))


@router.put("/warehouses/{code}", response_model=WarehousePublic, responses=ERRORS)
def update_warehouse(
    code: CodePath, body: md.WarehouseIn, session: SessionDep, user: MasterDataEditor
) -> Any:
    warehouse = session.scalar(select(Warehouse).where(Warehouse.code == code))
    region = session.get(OrgUnit, warehouse.region_id) if warehouse else None
    if warehouse is None or region is None or not _visible(region.path, user):
        raise NotFound(f"no warehouse '{code}'")
    if body.code != code:
        raise Invalid(f"code: must be '{code}'", errors={"code": f"must be '{code}'"})
    return _warehouse_public(session, _apply(session, md.apply_warehouse, body, _scope(user)))


@router.get("/stock", response_model=Page[StockPublic], responses=ERRORS)
def read_stock(
    session: SessionDep,
    user: MasterDataEditor,
    warehouse: Annotated[str | None, Query(max_length=64)] = None,
    sku: Annotated[str | None, Query(max_length=64)] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Page[StockPublic]:
    query = (
        select(StockLevel, Warehouse, Part)
        .join(Warehouse, Warehouse.id == StockLevel.warehouse_id)
        .join(Part, Part.id == StockLevel.part_id)
        .join(OrgUnit, OrgUnit.id == Warehouse.region_id)
        .where(_under(OrgUnit.path, _scope(user)))
        .order_by(Warehouse.code, Part.sku)
    )
    if warehouse:
        query = query.where(Warehouse.code == warehouse)
    if sku:
        query = query.where(Part.sku == sku)
    count = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.execute(query.limit(limit).offset(offset)).all()
    data = [
        StockPublic(
            warehouse=w.code, sku=p.sku, part_name=p.name, on_hand=s.on_hand, reserved=s.reserved
        )
        for s, w, p in rows
    ]
    return Page(data=data, count=count)


@router.put("/stock", response_model=StockPublic, responses=ERRORS)
def set_stock(body: md.StockIn, session: SessionDep, user: MasterDataEditor) -> StockPublic:
    """Sets the stock level of a part in a warehouse (created when missing)."""
    level = _apply(session, md.apply_stock, body, _scope(user))
    part = session.get(Part, level.part_id)
    return StockPublic(
        warehouse=body.warehouse,
        sku=body.sku,
        part_name=part.name if part else "",
        on_hand=level.on_hand,
        reserved=level.reserved,
    )


# ---- price tables --------------------------------------------------------------------------------


def _price_public(session: Session, table: PriceTable) -> PriceTablePublic:
    region = session.get(OrgUnit, table.region_id)
    return PriceTablePublic(
        id=table.id,
        region=region.code if region else "",
        currency=table.currency,
        base_visit_fee=table.base_visit_fee,
        per_km_surcharge=table.per_km_surcharge,
        free_km=table.free_km,
        valid_from=table.valid_from,
    )


@router.get("/price-tables", response_model=Page[PriceTablePublic], responses=ERRORS)
def read_price_tables(
    session: SessionDep, user: MasterDataEditor, limit: Limit = 100, offset: Offset = 0
) -> Page[PriceTablePublic]:
    query = (
        select(PriceTable)
        .join(OrgUnit, OrgUnit.id == PriceTable.region_id)
        .where(_under(OrgUnit.path, _scope(user)))
        .order_by(OrgUnit.code, PriceTable.valid_from)
    )
    rows, count = _page(session, query, limit, offset)
    return Page(data=[_price_public(session, r) for r in rows], count=count)


@router.post("/price-tables", status_code=201, response_model=PriceTablePublic, responses=ERRORS)
def create_price_table(
    body: md.PriceTableIn, session: SessionDep, user: MasterDataEditor
) -> PriceTablePublic:
    return _price_public(session, _apply(session, md.apply_price_table, body, _scope(user)))


@router.put("/price-tables/{table_id}", response_model=PriceTablePublic, responses=ERRORS)
def update_price_table(
    table_id: Annotated[int, Path(ge=1, le=2_147_483_647)],
    body: md.PriceTableIn,
    session: SessionDep,
    user: MasterDataEditor,
) -> PriceTablePublic:
    table = session.get(PriceTable, table_id)
    region = session.get(OrgUnit, table.region_id) if table else None
    if table is None or region is None or not _visible(region.path, user):
        raise NotFound(f"no price table {table_id}")
    updated = _apply(session, md.apply_price_table, body, _scope(user), table_id=table_id)
    return _price_public(session, updated)


# ---- CSV import ----------------------------------------------------------------------------------


@router.post(
    "/import/{kind}",
    response_model=ImportResult,
    responses={**ERRORS, 422: {"model": ImportRefused}},
)
def import_master_data(
    kind: md.Kind,
    session: SessionDep,
    user: MasterDataEditor,
    file: Annotated[UploadFile, File(description="UTF-8 CSV with a header line")],
) -> Any:
    """Imports a CSV all or nothing: any bad row → 422 with every row error, nothing saved."""
    try:
        rows = md.read_csv(file.file.read())
    except (ValueError, UnicodeError) as exc:
        raise Invalid(f"file: {exc}", errors={"file": str(exc)}) from exc
    report = md.import_csv(session, kind, rows, scope_path=_scope(user))
    if not report.ok:
        first = report.errors[0]
        return JSONResponse(
            {
                "detail": f"row {first['row']} {first['field']}: {first['message']}",
                "kind": kind,
                "imported": 0,
                "errors": report.errors,
            },
            status_code=422,
        )
    session.commit()
    return ImportResult(kind=kind, imported=report.imported, errors=[])
