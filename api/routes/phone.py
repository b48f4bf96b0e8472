"""The engineer's phone (H5, also inside WeCom's browser) and the customer's sign-off
page: the pages at /phone and /phone/signoff/<token>, and what they read from the API
(a task with its form, where to go and its SLA clock; the parts catalogue)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel

from api.deps import CtxDep, CurrentUser, TemporalDep
from api.order_access import db, visible_order
from api.schemas import ERRORS, DataList
from servflow.definitions import service as definitions
from servflow.inventory import service as inventory
from servflow.org.rules import Principal
from servflow.platform.errors import Conflict
from servflow.sla import service as sla
from servflow.sla.service import StepSla
from workflows.contracts import ActiveNode

DESIGNER = Path(__file__).resolve().parents[2] / "designer"
BUNDLE = DESIGNER / "static" / "build" / "phone.js"
templates = Jinja2Templates(directory=DESIGNER / "templates")

router = APIRouter(prefix="/api/phone", tags=["phone"])
pages = APIRouter(include_in_schema=False)


def _page(request: Request) -> HTMLResponse:
    built = BUNDLE.is_file()
    return templates.TemplateResponse(
        request,
        "phone.html",
        {
            "built": built,
            "static_base": "/designer/static",
            "version": int(BUNDLE.stat().st_mtime) if built else 0,
        },
    )


@pages.get("/phone", response_class=HTMLResponse)
def phone_page(request: Request) -> HTMLResponse:
    """The engineer's tasks (one page; it signs in with the API)."""
    return _page(request)


@pages.get("/phone/signoff/{token}", response_class=HTMLResponse)
def signoff_page(request: Request, token: str) -> HTMLResponse:
    """The customer's sign-off (the token in the path is read by the page)."""
    return _page(request)


class Place(BaseModel):
    customer: str
    phone: str
    address: str
    lat: float | None
    lng: float | None
    map_url: str


class PhoneTask(BaseModel):
    order_id: str
    order_no: str
    node_id: str
    name: str
    node_type: str
    fault: str
    place: Place
    form: list[dict[str, Any]]
    choices: list[str]
    """Outcomes the step offers (accept/decline for an acceptance step)."""
    sla: StepSla | None = None
    """The step's SLA (None without one): deadline (None while paused or while a business
    clock starts), paused, the reason of the pause in force (whoever paused), can_pause."""


class PartPublic(BaseModel):
    sku: str
    name: str
    unit: str
    price: Decimal
    currency: str


def map_url(lat: float | None, lng: float | None, name: str) -> str:
    """AMap's marker link (opens the map app, or the web map, with navigation)."""
    if lat is None or lng is None:
        return f"https://uri.amap.com/search?keyword={quote(name)}"
    return f"https://uri.amap.com/marker?position={lng},{lat}&name={quote(name)}&coordinate=gaode"


def _form_and_sla(
    session: Any, key: str, version: int, order_id: str, active: ActiveNode
) -> tuple[list[dict[str, Any]], str, StepSla | None]:
    """The step's form and node type from its pipeline version, and its SLA clock."""
    body = definitions.get_version(session, key=key, version=version).body
    node: dict[str, Any] = next(
        (n for n in body.get("nodes", []) if n.get("id") == active.node_id), {}
    )
    clock = sla.step_sla(
        session,
        order_id=order_id,
        node_id=active.node_id,
        visit=active.visit,
        node_sla=node.get("sla") or None,
        timer_deadline=active.sla_deadline,
    )
    return list(node.get("form") or []), str(node.get("type", "")), clock


@router.get("/tasks/{order_id}/{node_id}", response_model=PhoneTask, responses=ERRORS)
async def read_phone_task(
    order_id: str, node_id: str, user: CurrentUser, ctx: CtxDep, client: TemporalDep
) -> PhoneTask:
    """A step waiting for the caller: the customer and where to go (the buyer's data is
    shown now, to the engineer the order is dispatched to), the form to fill."""
    row, state = await visible_order(ctx, client, user, order_id)
    active = next(
        (a for a in (state.active if state else []) if a.node_id == node_id and a.human), None
    )
    if state is None or active is None or active.assignee != user.username:
        raise Conflict(f"step '{node_id}' of order '{order_id}' is not waiting for you")
    form, node_type, clock = await db(
        ctx, _form_and_sla, state.definition_key, state.definition_version, order_id, active
    )
    customer = state.context.customer or {}
    lat, lng = customer.get("lat"), customer.get("lng")
    address = str(customer.get("address", ""))
    return PhoneTask(
        order_id=order_id,
        order_no=(row.order_no if row is not None else None) or order_id,
        node_id=node_id,
        name=active.name or node_id,
        node_type=node_type or active.node_type,
        fault=str(state.variables.get("fault", "")),
        place=Place(
            customer=str(customer.get("name", "")),
            phone=str(customer.get("phone", "")),
            address=address,
            lat=float(lat) if lat is not None else None,
            lng=float(lng) if lng is not None else None,
            map_url=map_url(lat, lng, address),
        ),
        form=form,
        choices=["accepted", "declined"] if not form and node_type == "task" else ["done"],
        sla=clock,
    )


def _parts(session: Any, user: Principal, q: str) -> DataList[PartPublic]:
    rows, _ = inventory.page_parts(
        session, scope_path=user.scope_path, limit=30, offset=0, q=q or None
    )
    return DataList(
        data=[
            PartPublic(sku=p.sku, name=p.name, unit=p.unit, price=p.price, currency=p.currency)
            for p in rows
        ]
    )


@router.get("/parts", response_model=DataList[PartPublic], responses=ERRORS)
async def read_phone_parts(
    user: CurrentUser, ctx: CtxDep, q: Annotated[str, Query(max_length=64)] = ""
) -> DataList[PartPublic]:
    """The parts catalogue (30 at most), by SKU or name, to pick the parts used."""
    result: DataList[PartPublic] = await db(ctx, _parts, user, q)
    return result
