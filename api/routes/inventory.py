"""Inventory: reservations that never oversell, sourcing, transfers (a Temporal saga),
the movement journal, safety levels and replenishment alerts, the demand forecast.

Every route authenticates, checks the role and answers only within the caller's org scope
(warehouses by their region); the calls go to servflow.inventory.service.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, Field
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError

from api.deps import (
    CtxDep,
    IdPath,
    Manager,
    MasterDataEditor,
    SessionDep,
    TemporalDep,
    require_roles,
)
from api.order_access import db, visible_order
from api.schemas import ERRORS, Page, page_of
from servflow.inventory import forecast, service
from servflow.org.rules import Principal
from servflow.platform.base import utcnow
from servflow.platform.errors import AppError, Conflict, NotFound
from workflows import constants as c
from workflows.contracts import (
    Cancellation,
    TransferInput,
    TransferReceipt,
    TransferShipment,
    TransferState,
)

router = APIRouter(prefix="/api/inventory", tags=["inventory"])
HqAdmin = Annotated[Principal, Depends(require_roles("hq_admin"))]
Code = Annotated[str, Path(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.:-]+$")]
Limit = Annotated[int, Query(ge=1, le=500)]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]
SKU = Field(min_length=1, max_length=64)
WAREHOUSE = Field(min_length=1, max_length=64)
KEY_PART = Field(min_length=1, max_length=90, pattern=r"^[A-Za-z0-9_.:-]+$")
_Row = TypeVar("_Row")
_Public = TypeVar("_Public", bound=BaseModel)


def _scope(user: Principal) -> str | None:
    return None if user.has("hq_admin") else user.scope_path


def _page(
    page: Callable[..., tuple[Sequence[_Row], int]],
    public: Callable[[_Row], _Public],
    session: Any,
    user: Principal,
    *,
    limit: int,
    offset: int,
    **filters: Any,
) -> Page[_Public]:
    """One page of a service's `page_*` listing, within the caller's scope, as public rows
    with the count of all that match."""
    return page_of(
        page(session, scope_path=_scope(user), limit=limit, offset=offset, **filters), public
    )


# ---- reservations ----------------------------------------------------------------------------


class ReservationIn(BaseModel):
    order_id: str = KEY_PART
    line: str = KEY_PART
    warehouse: str = WAREHOUSE
    sku: str = SKU
    qty: int = Field(ge=1, le=10_000)
    ttl_minutes: int | None = Field(default=None, ge=1, le=60 * 24 * 30)


class ReservationPublic(BaseModel):
    key: str
    order_id: str
    warehouse: str
    sku: str
    qty: int
    status: str
    expires_at: datetime | None


def _reservation(session: Any, held: Any) -> ReservationPublic:
    warehouse, sku = service.codes_of(session, warehouse_id=held.warehouse_id, part_id=held.part_id)
    return ReservationPublic(
        key=held.key,
        order_id=held.order_id,
        warehouse=warehouse,
        sku=sku,
        qty=held.qty,
        status=held.status,
        expires_at=held.expires_at,
    )


@router.post("/reservations", status_code=201, response_model=ReservationPublic, responses=ERRORS)
def create_reservation(
    body: ReservationIn, session: SessionDep, user: Manager
) -> ReservationPublic:
    """Reserves `qty` for the order line `order_id/line` (idempotent: the same key answers
    the first reservation). 409 with `shortfall` and `available` when stock is short."""
    held = service.reserve_for_order(
        session,
        scope_path=_scope(user),
        order_id=body.order_id,
        line=body.line,
        warehouse=body.warehouse,
        sku=body.sku,
        qty=body.qty,
        now=utcnow(),
        ttl_minutes=body.ttl_minutes,
        actor=user.username,
    )
    public = _reservation(session, held)
    session.commit()
    return public


class ReleaseIn(BaseModel):
    order_id: str = KEY_PART
    line: str | None = Field(default=None, min_length=1, max_length=90)
    reason: str = Field(default="cancelled", max_length=200)


class Released(BaseModel):
    released: int


@router.post("/reservations/release", response_model=Released, responses=ERRORS)
def release_reservations(body: ReleaseIn, session: SessionDep, user: Manager) -> Released:
    """Releases one line's reservation (or all the order's) within the caller's scope."""
    count = service.release_for_caller(
        session,
        scope_path=_scope(user),
        order_id=body.order_id,
        line=body.line,
        reason=body.reason,
        now=utcnow(),
    )
    session.commit()
    return Released(released=count)


# ---- sourcing --------------------------------------------------------------------------------


class LineIn(BaseModel):
    sku: str = SKU
    qty: int = Field(ge=1, le=10_000)


class SourcingIn(BaseModel):
    destination: str | None = Field(default=None, max_length=64, description="the job's store")
    lat: float | None = Field(default=None, ge=-90, le=90)
    lng: float | None = Field(default=None, ge=-180, le=180)
    engineer: str = Field(default="", max_length=64, description="whose van is tried first")
    lines: list[LineIn] = Field(min_length=1, max_length=50)


class PickPublic(BaseModel):
    warehouse: str
    qty: int
    distance_km: float
    van: bool


class SourcePublic(BaseModel):
    code: str
    kind: str
    distance_km: float
    lead_time_hours: int
    available: int
    van: bool
    cost: float


class PlanPublic(BaseModel):
    sku: str
    qty: int
    picks: list[PickPublic]
    shortfall: int
    reason: str
    considered: list[SourcePublic]


@router.post("/sourcing", response_model=list[PlanPublic], responses=ERRORS)
def plan_sourcing(body: SourcingIn, session: SessionDep, user: Manager) -> list[PlanPublic]:
    """Where each line would come from and why (reads only: nothing is reserved)."""
    plans = service.source(
        session,
        scope_path=_scope(user),
        lines=[(line.sku, line.qty) for line in body.lines],
        destination=body.destination,
        lat=body.lat,
        lng=body.lng,
        engineer=body.engineer,
    )
    return [PlanPublic.model_validate(p, from_attributes=True) for p in plans]


# ---- transfers -------------------------------------------------------------------------------


class TransferIn(BaseModel):
    order_id: str = KEY_PART
    line: str = KEY_PART
    sku: str = SKU
    qty: int = Field(ge=1, le=10_000)
    destination: str = WAREHOUSE
    source: str | None = Field(default=None, max_length=64, description="empty: sourcing picks")


class TransferPublic(BaseModel):
    code: str
    order_id: str
    sku: str
    qty: int
    source: str
    destination: str
    status: str
    carrier: str
    tracking_no: str
    reason: str
    why: str = ""
    live: TransferState | None = None


def _transfer(view: service.TransferView, why: str = "") -> TransferPublic:
    t = view.transfer
    return TransferPublic(
        code=t.code,
        order_id=t.order_id,
        sku=view.part.sku,
        qty=t.qty,
        source=view.source.code,
        destination=view.destination.code,
        status=t.status,
        carrier=t.carrier,
        tracking_no=t.tracking_no,
        reason=t.reason,
        why=why,
    )


async def _live(client: Client, code: str) -> TransferState | None:
    try:
        state: TransferState = await client.get_workflow_handle(code).query(
            c.QUERY_TRANSFER, result_type=TransferState
        )
    except RPCError:
        return None
    return state


def _open_transfer(
    session: Any, body: TransferIn, scope: str | None
) -> tuple[TransferPublic, TransferInput]:
    """Reserves the source and records the transfer (committed): the answer, and what the
    saga starts with."""
    source, destination, plan = service.plan_transfer(
        session,
        scope_path=scope,
        order_id=body.order_id,
        line=body.line,
        sku=body.sku,
        qty=body.qty,
        destination=body.destination,
        source=body.source,
    )
    # One transfer per order line: a retry (the saga failed to start) finds it again.
    code = f"tr-{body.order_id}-{body.line}"
    start = TransferInput(
        code=code,
        order_id=body.order_id,
        line_key=f"{body.order_id}/{body.line}",
        sku=body.sku,
        qty=body.qty,
        source=source,
        destination=destination,
    )
    view = service.open_transfer(session, now=utcnow(), fresh=True, **start.model_dump())
    public = _transfer(view, plan.reason if plan else "source given")
    session.commit()
    return public, start


async def _start_saga(client: Client, task_queue: str, start: TransferInput) -> None:
    """Starts the transfer's saga (started already: nothing to do)."""
    try:
        with contextlib.suppress(WorkflowAlreadyStartedError):
            await client.start_workflow(
                c.TRANSFER_WORKFLOW,
                start,
                id=start.code,
                task_queue=task_queue,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            )
    except RPCError as err:
        # The source stays reserved under this code; the same request again starts the saga.
        raise AppError(
            f"transfer {start.code} reserved but not started; send the request again",
            status_code=503,
        ) from err


@router.post("/transfers", status_code=201, response_model=TransferPublic, responses=ERRORS)
async def create_transfer(
    body: TransferIn, ctx: CtxDep, client: TemporalDep, user: Manager
) -> TransferPublic:
    """Starts a transfer to `destination` for an order line: the source (given, or chosen
    by sourcing) is reserved now (409 with the shortfall when it cannot), then the saga
    runs in Temporal (workflow id = the transfer's code) until the destination receives."""
    public, start = await db(ctx, _open_transfer, body, _scope(user))
    await _start_saga(client, ctx.task_queue, start)
    return public


@router.get("/transfers/{code}", response_model=TransferPublic, responses=ERRORS)
async def read_transfer(
    code: Code, ctx: CtxDep, client: TemporalDep, user: Manager
) -> TransferPublic:
    """The transfer as the store records it, and its live state from the workflow."""
    view = await db(ctx, service.find_transfer, code=code, scope_path=_scope(user))
    public = _transfer(view)
    public.live = await _live(client, code)
    return public


class ShipIn(BaseModel):
    carrier: str = Field(min_length=1, max_length=64)
    tracking_no: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9-]+$")


async def _update(client: Client, code: str, name: str, arg: Any) -> TransferState:
    handle = client.get_workflow_handle(code)
    try:
        state: TransferState = await handle.execute_update(name, arg, result_type=TransferState)
    except WorkflowUpdateFailedError as err:
        raise Conflict(str(err.cause or err)) from None
    except RPCError as err:
        raise NotFound(f"transfer '{code}' is not running") from err
    return state


@router.post("/transfers/{code}/ship", response_model=TransferState, responses=ERRORS)
async def ship_transfer(
    code: Code, body: ShipIn, ctx: CtxDep, client: TemporalDep, user: Manager
) -> TransferState:
    """The source warehouse enters the carrier and tracking number: the units leave it."""
    await db(ctx, service.check_transfer_side, code=code, scope_path=_scope(user), side="source")
    shipment = TransferShipment(
        carrier=body.carrier, tracking_no=body.tracking_no, actor=user.username
    )
    return await _update(client, code, c.UPDATE_TRANSFER_SHIP, shipment)


@router.post("/transfers/{code}/receive", response_model=TransferState, responses=ERRORS)
async def receive_transfer(
    code: Code, ctx: CtxDep, client: TemporalDep, user: Manager
) -> TransferState:
    """The destination received the units: they are held there for the order line."""
    await db(
        ctx, service.check_transfer_side, code=code, scope_path=_scope(user), side="destination"
    )
    return await _update(
        client, code, c.UPDATE_TRANSFER_RECEIVE, TransferReceipt(actor=user.username)
    )


class CancelIn(BaseModel):
    reason: str = Field(min_length=1, max_length=200)


@router.post(
    "/transfers/{code}/cancel", status_code=202, response_model=TransferPublic, responses=ERRORS
)
async def cancel_transfer(
    code: Code, body: CancelIn, ctx: CtxDep, client: TemporalDep, user: Manager
) -> TransferPublic:
    """Asks the saga to stop and compensate (release, return); 202: it happens in the
    workflow, and GET shows it done."""
    view = await db(ctx, service.find_transfer, code=code, scope_path=_scope(user))
    try:
        await client.get_workflow_handle(code).signal(
            c.SIGNAL_TRANSFER_CANCEL, Cancellation(reason=body.reason, by=user.username)
        )
    except RPCError as err:
        raise Conflict(f"transfer '{code}' is no longer running") from err
    return _transfer(view)


@router.get("/orders/{order_id}/transfers", response_model=list[TransferPublic], responses=ERRORS)
async def read_order_transfers(
    order_id: Code, ctx: CtxDep, client: TemporalDep, user: Manager
) -> list[TransferPublic]:
    """The transfers of an order the caller may see, with their live state."""
    await visible_order(ctx, client, user, order_id, want_state=False)
    views = await db(ctx, service.transfers_of_order, order_id=order_id)
    out = []
    for view in views:
        public = _transfer(view)
        public.live = await _live(client, view.transfer.code)
        out.append(public)
    return out


# ---- the journal -----------------------------------------------------------------------------


class MovementIn(BaseModel):
    warehouse: str = WAREHOUSE
    sku: str = SKU
    kind: Literal["receipt", "adjustment"]
    qty: int = Field(ge=-100_000, le=100_000)
    reason: str = Field(default="", max_length=500)
    key: str = Field(default_factory=lambda: uuid.uuid4().hex, pattern=r"^[A-Za-z0-9_.:-]{1,100}$")


class MovementPublic(BaseModel):
    id: int
    warehouse: str
    sku: str
    kind: str
    qty: int
    on_hand_delta: int
    reserved_delta: int
    reason: str
    ref: str
    actor: str
    created_at: datetime


def _movement(entry: service.MovementEntry) -> MovementPublic:
    m = entry.movement
    return MovementPublic(
        id=m.id,
        warehouse=entry.warehouse.code,
        sku=entry.part.sku,
        kind=m.kind,
        qty=m.qty,
        on_hand_delta=m.on_hand_delta,
        reserved_delta=m.reserved_delta,
        reason=m.reason,
        ref=m.ref,
        actor=m.actor,
        created_at=m.created_at,
    )


@router.post("/movements", status_code=201, response_model=MovementPublic, responses=ERRORS)
def create_movement(
    body: MovementIn, session: SessionDep, user: MasterDataEditor
) -> MovementPublic:
    """A receipt, or an adjustment with its reason (idempotent by `key`)."""
    done = service.record_movement(
        session,
        scope_path=_scope(user),
        warehouse=body.warehouse,
        sku=body.sku,
        kind=body.kind,
        qty=body.qty,
        reason=body.reason,
        key=body.key,
        actor=user.username,
        now=utcnow(),
    )
    public = _movement(service.movement_entry(session, movement=done.movement))
    session.commit()
    return public


@router.get("/movements", response_model=Page[MovementPublic], responses=ERRORS)
def read_movements(
    session: SessionDep,
    user: Manager,
    warehouse: Annotated[str | None, Query(max_length=64)] = None,
    sku: Annotated[str | None, Query(max_length=64)] = None,
    ref: Annotated[str | None, Query(max_length=200)] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Page[MovementPublic]:
    """The journal, newest first, of the warehouses in the caller's scope."""
    return _page(
        service.page_movements,
        _movement,
        session,
        user,
        limit=limit,
        offset=offset,
        warehouse=warehouse,
        sku=sku,
        ref=ref,
    )


class JournalCheck(BaseModel):
    consistent: bool
    mismatches: list[dict[str, int]]


@router.get("/journal/check", response_model=JournalCheck, responses=ERRORS)
def check_journal(session: SessionDep, user: HqAdmin) -> JournalCheck:
    """Proves every balance equals the sum of its journal (HQ)."""
    bad = service.journal_mismatches(session)
    return JournalCheck(consistent=not bad, mismatches=[b._asdict() for b in bad])


# ---- safety levels and alerts ----------------------------------------------------------------


class SafetyIn(BaseModel):
    warehouse: str = WAREHOUSE
    sku: str = SKU
    safety_level: int = Field(ge=0, le=1_000_000)
    reorder_point: int = Field(default=0, ge=0, le=1_000_000)


class SafetyPublic(BaseModel):
    warehouse: str
    sku: str
    on_hand: int
    reserved: int
    available: int
    safety_level: int
    reorder_point: int


@router.put("/safety-levels", response_model=SafetyPublic, responses=ERRORS)
def set_safety_level(body: SafetyIn, session: SessionDep, user: MasterDataEditor) -> SafetyPublic:
    """Sets a part's safety level and reorder point in a warehouse (checked at once)."""
    level = service.set_safety(
        session,
        scope_path=_scope(user),
        warehouse=body.warehouse,
        sku=body.sku,
        safety_level=body.safety_level,
        reorder_point=body.reorder_point,
        now=utcnow(),
    )
    public = SafetyPublic(
        warehouse=body.warehouse,
        sku=body.sku,
        on_hand=level.on_hand,
        reserved=level.reserved,
        available=level.on_hand - level.reserved,
        safety_level=level.safety_level,
        reorder_point=level.reorder_point,
    )
    session.commit()
    return public


class AlertPublic(BaseModel):
    id: int
    warehouse: str
    sku: str
    part_name: str
    status: str
    available: int
    safety_level: int
    suggestion: dict[str, Any]
    created_at: datetime
    acknowledged_by: str
    resolved_at: datetime | None


def _alert(entry: service.AlertEntry) -> AlertPublic:
    a = entry.alert
    return AlertPublic(
        id=a.id,
        warehouse=entry.warehouse.code,
        sku=entry.part.sku,
        part_name=entry.part.name,
        status=a.status,
        available=a.available,
        safety_level=a.safety_level,
        suggestion=a.suggestion,
        created_at=a.created_at,
        acknowledged_by=a.acknowledged_by,
        resolved_at=a.resolved_at,
    )


@router.get("/alerts", response_model=Page[AlertPublic], responses=ERRORS)
def read_alerts(
    session: SessionDep,
    user: Manager,
    status: Literal["open", "acknowledged", "resolved"] | None = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Page[AlertPublic]:
    """Replenishment alerts of the warehouses in the caller's scope, newest first."""
    return _page(
        service.page_alerts, _alert, session, user, limit=limit, offset=offset, status=status
    )


@router.post("/alerts/{alert_id}/acknowledge", response_model=AlertPublic, responses=ERRORS)
def acknowledge_alert(alert_id: IdPath, session: SessionDep, user: Manager) -> AlertPublic:
    entry = service.acknowledge_alert(
        session, alert_id=alert_id, scope_path=_scope(user), by=user.username, now=utcnow()
    )
    public = _alert(entry)
    session.commit()
    return public


class ScanResult(BaseModel):
    checked: int


@router.post("/alerts/scan", response_model=ScanResult, responses=ERRORS)
def scan_alerts(session: SessionDep, user: HqAdmin) -> ScanResult:
    """Runs the scheduled scan now (HQ): every safety level checked, expired holds released."""
    checked = service.scan_safety(session, now=utcnow())
    session.commit()
    return ScanResult(checked=checked)


# ---- forecast --------------------------------------------------------------------------------


@router.get("/forecast", response_model=forecast.ForecastPublic, responses=ERRORS)
def read_forecast(
    session: SessionDep,
    user: Manager,
    sku: Annotated[str, Query(min_length=1, max_length=64)],
    region: Annotated[str | None, Query(max_length=64)] = None,
    horizon_weeks: Annotated[int, Query(ge=1, le=26)] = 4,
) -> forecast.ForecastPublic:
    """Weekly demand of a part in a region from its consumption history, the suggested
    safety level, and the backtest error of the model on that history."""
    return forecast.forecast_part(
        session, scope_path=_scope(user), sku=sku, region=region, horizon_weeks=horizon_weeks
    )
