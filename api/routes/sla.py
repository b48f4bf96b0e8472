"""SLA: the breached and at-risk steps in the caller's scope, calendars and policies (HQ and
region admins edit their own scope's), and pausing a step's clock while it waits for the
customer or for parts."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from api.deps import CtxDep, CurrentUser, Manager, SessionDep, TemporalDep, require_roles
from api.order_access import visible_order
from api.schemas import ERRORS, DataList, Page, page_of
from servflow.orders import engine
from servflow.org.rules import MANAGE_ROLES, Principal
from servflow.platform.base import utcnow
from servflow.platform.errors import Conflict, Forbidden
from servflow.sla import service as sla
from servflow.sla.rules import PolicyBody
from workflows.business_time import BusinessCalendar
from workflows.contracts import SlaHold

router = APIRouter(prefix="/api", tags=["sla"])
SlaEditor = Annotated[Principal, Depends(require_roles(*sla.EDIT_ROLES))]
KeyPath = Annotated[str, Path(min_length=2, max_length=64, pattern=r"^[a-z][a-z0-9_-]{1,63}$")]
Reader = Annotated[
    Principal,
    Depends(
        require_roles("dispatcher", "region_manager", "outlet_manager", "hq_admin", "engineer")
    ),
]


class BreachPublic(BaseModel):
    """A step past its deadline (or its at-risk moment), from its stored SLA clock."""

    model_config = ConfigDict(from_attributes=True)

    order_id: str
    node_id: str
    visit: int
    node_name: str
    region: str
    org_path: str
    assignee: str
    priority: int
    policy_key: str
    policy_version: int
    calendar_key: str
    started_at: datetime
    at_risk_at: datetime | None
    deadline: datetime | None
    fired: list[int]


class CalendarPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    key: str
    name: str
    scope_path: str
    body: BusinessCalendar
    updated_at: datetime
    updated_by: str


class PolicyPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    key: str
    version: int
    scope_path: str
    body: PolicyBody
    created_at: datetime
    created_by: str


class HoldIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(
        default="", max_length=200, description="e.g. waiting for the customer, for parts"
    )


class HoldPublic(BaseModel):
    order_id: str
    node_id: str
    paused: bool


@router.get("/sla/breaches", response_model=Page[BreachPublic], responses=ERRORS)
def read_breaches(
    session: SessionDep,
    user: Reader,
    state: Literal["breached", "at_risk"] = "breached",
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> Page[BreachPublic]:
    """Steps still open whose SLA deadline has passed (`breached`) or whose at-risk moment
    has passed but not their deadline (`at_risk`), most overdue first, in the caller's
    scope (an engineer: the steps waiting for them). Read from the stored deadlines, so a
    breach is listed from its deadline on, whatever the workflow's timer does; a paused
    clock is never listed."""
    found = sla.breach_list(session, user, state=state, now=utcnow(), limit=limit, offset=offset)
    return page_of(found, BreachPublic.model_validate)


@router.get("/sla/calendars", response_model=DataList[CalendarPublic], responses=ERRORS)
def read_calendars(session: SessionDep, user: Manager) -> DataList[CalendarPublic]:
    """Calendars in the caller's scope and those above it that apply to it."""
    data: list[Any] = [CalendarPublic.model_validate(r) for r in sla.calendars(session, user)]
    return DataList(data=data)


@router.put("/sla/calendars/{key}", response_model=CalendarPublic, responses=ERRORS)
def save_calendar(
    key: KeyPath, body: sla.CalendarIn, session: SessionDep, user: SlaEditor
) -> CalendarPublic:
    """Creates or replaces a calendar at the caller's scope or below it. Clocks already
    running keep the calendar they started with."""
    row = sla.save_calendar(session, user, key=key, data=body, now=utcnow())
    session.commit()
    return CalendarPublic.model_validate(row)


@router.get("/sla/policies", response_model=DataList[PolicyPublic], responses=ERRORS)
def read_policies(session: SessionDep, user: Manager) -> DataList[PolicyPublic]:
    """The latest version of each policy in or above the caller's scope."""
    data: list[Any] = [PolicyPublic.model_validate(r) for r in sla.policies(session, user)]
    return DataList(data=data)


@router.put("/sla/policies/{key}", response_model=PolicyPublic, responses=ERRORS)
def save_policy(
    key: KeyPath, body: sla.PolicyIn, session: SessionDep, user: SlaEditor
) -> PolicyPublic:
    """Adds a version of the policy (version 1 for a new key); running clocks keep the
    version they started with."""
    row = sla.save_policy(session, user, key=key, data=body, now=utcnow())
    session.commit()
    return PolicyPublic.model_validate(row)


async def _hold(
    ctx: CtxDep,
    client: TemporalDep,
    user: Principal,
    order_id: str,
    node_id: str,
    reason: str,
    *,
    resume: bool,
) -> HoldPublic:
    _row, state = await visible_order(ctx, client, user, order_id)
    active = next((a for a in (state.active if state else []) if a.node_id == node_id), None)
    if active is None or not active.human:
        raise Conflict(f"step '{node_id}' is not waiting on order '{order_id}'")
    if user.engineer_only and active.assignee != user.username:
        raise Forbidden(f"step '{node_id}' is not assigned to you")
    if not user.engineer_only and not user.has(*MANAGE_ROLES):
        raise Forbidden("pausing an SLA clock is for the step's engineer or the order's managers")
    hold = SlaHold(node_id=node_id, reason=reason, by=user.username)
    await engine.hold_sla(client, order_id, hold, resume=resume)
    return HoldPublic(order_id=order_id, node_id=node_id, paused=not resume)


OrderPath = Annotated[str, Path(min_length=1, max_length=200)]
NodePath = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z][A-Za-z0-9_.]*$")]


@router.post(
    "/orders/{order_id}/steps/{node_id}/sla/pause",
    response_model=HoldPublic,
    status_code=202,
    responses=ERRORS,
)
async def pause_sla(
    order_id: OrderPath,
    node_id: NodePath,
    body: HoldIn,
    ctx: CtxDep,
    client: TemporalDep,
    user: CurrentUser,
) -> HoldPublic:
    """Stops the step's SLA clock while it waits for the customer or for parts (its
    assignee, or a manager of the order); the deadline moves by the working time paused."""
    return await _hold(ctx, client, user, order_id, node_id, body.reason, resume=False)


@router.post(
    "/orders/{order_id}/steps/{node_id}/sla/resume",
    response_model=HoldPublic,
    status_code=202,
    responses=ERRORS,
)
async def resume_sla(
    order_id: OrderPath,
    node_id: NodePath,
    ctx: CtxDep,
    client: TemporalDep,
    user: CurrentUser,
) -> HoldPublic:
    """Restarts the step's paused SLA clock."""
    return await _hold(ctx, client, user, order_id, node_id, "", resume=True)
