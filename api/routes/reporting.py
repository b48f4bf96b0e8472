"""Dashboards: figures from the reporting read model, under the caller's scope."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from api.deps import SessionDep, require_roles
from api.schemas import ERRORS
from servflow.org.rules import MANAGE_ROLES, Principal
from servflow.platform.base import utcnow
from servflow.platform.errors import invalid_field
from servflow.reporting import service as reporting
from servflow.reporting.rules import business_day, period

router = APIRouter(prefix="/api/reporting", tags=["reporting"])
DASHBOARD_ROLES = ("hq_admin", "region_manager", "outlet_manager", "dispatcher", "finance")
Viewer = Annotated[Principal, Depends(require_roles(*DASHBOARD_ROLES))]
Dispatcher = Annotated[Principal, Depends(require_roles(*MANAGE_ROLES))]


class Amount(BaseModel):
    currency: str
    amount: str


class ScopePublic(BaseModel):
    path: str
    name: str
    kind: str
    code: str


class OrderCounts(BaseModel):
    total: int
    open: int
    completed: int
    cancelled: int
    failed: int
    by_status: dict[str, int]


class Demand(BaseModel):
    province: str
    city: str
    orders: int


class Sla(BaseModel):
    met: int
    breached: int
    open_breached: int
    at_risk: int


class FirstTimeFix(BaseModel):
    fixed_first_time: int
    revisited: int
    rate: float | None


class Nps(BaseModel):
    promoter: int
    passive: int
    detractor: int
    score: float | None


class UnitFigures(BaseModel):
    path: str
    code: str
    name: str
    kind: str
    region: str
    orders: int
    open: int
    completed: int
    revenue: list[Amount] | None


class DayFigures(BaseModel):
    day: str
    orders: int
    revenue: list[Amount] | None


class NodeTime(BaseModel):
    region: str  # "" = every region of the scope
    node: str
    count: int
    p50_s: float | None
    p90_s: float | None


class Bottleneck(BaseModel):
    pipeline: str | None
    pipelines: list[str]
    nodes: list[str]
    regions: list[str]
    cells: list[NodeTime]


class Dashboard(BaseModel):
    scope: ScopePublic
    period: dict[str, str]
    money_visible: bool
    orders: OrderCounts
    revenue: list[Amount] | None
    demand: list[Demand]
    sla: Sla
    first_time_fix: FirstTimeFix
    nps: Nps
    by_unit: list[UnitFigures]
    series: list[DayFigures]
    bottleneck: Bottleneck


@router.get("/dashboard", response_model=Dashboard, responses=ERRORS)
def read_dashboard(
    session: SessionDep,
    user: Viewer,
    unit: Annotated[str | None, Query(max_length=64, description="drill down: a unit code")] = None,
    start: Annotated[date | None, Query(alias="from")] = None,
    end: Annotated[date | None, Query(alias="to")] = None,
    days: Annotated[int, Query(ge=1, le=366)] = 30,
    pipeline: Annotated[str | None, Query(max_length=120, description="key|version")] = None,
) -> Any:
    """The dashboard of the caller's unit, or of a unit within it (`unit`): orders and
    revenue by day and by the units below, demand by province and city, SLA met, breached
    and at risk, first-time-fix rate, NPS and the time per node of a pipeline version (p50
    and p90 by region). Days are China Standard Time; revenue only for finance, HQ admins
    and region managers. Read from counters kept as orders move, never from raw orders."""
    now = utcnow()
    first, last = period(start, end, days, business_day(now))
    if first > last or (last - first).days > 366:
        raise invalid_field("from", "must be on or before 'to', at most 366 days before it")
    return reporting.dashboard(
        session, user, unit=unit, start=first, end=last, pipeline=pipeline, now=now
    )


class BoardEngineer(BaseModel):
    code: str
    name: str
    username: str
    outlet: str
    skills: list[str]
    lat: float | None
    lng: float | None
    state: str
    current_load: int
    max_load: int


class BoardOutlet(BaseModel):
    code: str
    name: str
    path: str
    lat: float | None
    lng: float | None


class Board(BaseModel):
    engineers: list[BoardEngineer]
    outlets: list[BoardOutlet]


@router.get("/board", response_model=Board, responses=ERRORS)
def read_board(session: SessionDep, user: Dispatcher) -> Any:
    """The dispatch board's map: the engineers of the caller's scope (position, state, load,
    skills, login) and its outlets' positions. Reassigning goes through
    `POST /api/orders/{order_id}/reassign`, with its checks."""
    return reporting.board(session, user)
