"""Dispatch over HTTP: an order's explained decisions, policies, the engineers a dispatcher
may pick from, the skill catalogue, and outlets' service areas as GeoJSON.

A dispatcher picks an engineer for an order waiting in the dispatcher queue, and an
engineer accepts or declines an offer, through the step `dispatch.handoff`
(`POST /api/orders/{id}/steps/dispatch.handoff`, data `{"answer": "assign", "choice":
"<engineer code>"}` or `{"answer": "accept"}` / `{"answer": "decline", "reason": "..."}`).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Query
from pydantic import BaseModel, Field

from api.deps import CtxDep, MasterDataEditor, SessionDep, TemporalDep, require_roles
from api.order_access import db, visible_order
from api.schemas import ERRORS, Page
from servflow.dispatch import service as dispatch
from servflow.org.rules import Principal

router = APIRouter(prefix="/api", tags=["dispatch"])
Dispatcher = Annotated[
    Principal, Depends(require_roles("dispatcher", "region_manager", "outlet_manager", "hq_admin"))
]
Lang = Annotated[Literal["zh", "en"], Query(description="language of the reasons")]


def _scope(user: Principal) -> str | None:
    return None if user.has("hq_admin") else user.scope_path


class DispatchDecisions(BaseModel):
    order_id: str
    decisions: list[dict[str, Any]]


@router.get("/orders/{order_id}/dispatch", response_model=DispatchDecisions, responses=ERRORS)
async def read_order_dispatch(
    order_id: str, user: Dispatcher, ctx: CtxDep, client: TemporalDep, lang: Lang = "zh"
) -> DispatchDecisions:
    """Every dispatch decision of the order, oldest first: the policy and rung used, the
    status (assigned, offered, accepted, declined, timeout, queued, picked), the top
    candidates with their score parts, and the excluded with the reason in `lang`."""
    await visible_order(ctx, client, user, order_id, want_state=False)
    decisions = await db(ctx, dispatch.decisions_explained, order_id=order_id, lang=lang)
    return DispatchDecisions(order_id=order_id, decisions=decisions)


class PolicyPublic(BaseModel):
    key: str
    version: int
    region: str
    pipeline: str
    body: dict[str, Any]
    created_by: str


@router.get("/dispatch/policies", response_model=list[PolicyPublic], responses=ERRORS)
def read_policies(session: SessionDep, user: MasterDataEditor) -> list[PolicyPublic]:
    """The latest version of every dispatch policy."""
    return [
        PolicyPublic.model_validate(p, from_attributes=True)
        for p in dispatch.list_policies(session)
    ]


@router.post("/dispatch/policies", status_code=201, response_model=PolicyPublic, responses=ERRORS)
def create_policy_version(
    session: SessionDep,
    user: Annotated[Principal, Depends(require_roles("hq_admin"))],
    body: Annotated[dict[str, Any], Body(description="the policy (docs/dispatch.md)")],
) -> PolicyPublic:
    """Stores the policy as the next version of its key (hq_admin): running dispatches
    keep the version they read; the next dispatch uses this one."""
    stored = dispatch.save_policy(session, body=body, user=user.username)
    session.commit()
    return PolicyPublic.model_validate(stored, from_attributes=True)


@router.get("/dispatch/engineers", response_model=Page[dict[str, Any]], responses=ERRORS)
def read_dispatch_engineers(
    session: SessionDep,
    user: Dispatcher,
    state: Annotated[Literal["available", "busy", "off"] | None, Query()] = None,
    skill: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> Page[dict[str, Any]]:
    """Engineers in the caller's scope with load, position, state and certificates, for a
    dispatcher choosing whom to assign or reassign to."""
    rows, count = dispatch.engineers_for_dispatch(
        session, scope_path=_scope(user), state=state, skill=skill, limit=limit, offset=offset
    )
    return Page(data=rows, count=count)


class SkillIn(BaseModel):
    code: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")
    name_zh: str = Field(min_length=1, max_length=100)
    name_en: str = Field(min_length=1, max_length=100)
    levels: int = Field(default=1, ge=1, le=10)
    validity_days: int | None = Field(default=None, ge=1, le=36500)


class SkillPublic(BaseModel):
    code: str
    name_zh: str
    name_en: str
    levels: int


@router.get("/dispatch/skills", response_model=list[SkillPublic], responses=ERRORS)
def read_skills(session: SessionDep, user: Dispatcher) -> list[SkillPublic]:
    """The skill catalogue (built-in skills and the stored ones)."""
    return [
        SkillPublic(code=code, name_zh=zh, name_en=en, levels=levels)
        for code, (zh, en, levels) in sorted(dispatch.skill_catalogue(session).items())
    ]


@router.put("/dispatch/skills", response_model=SkillPublic, responses=ERRORS)
def set_skill(
    body: SkillIn,
    session: SessionDep,
    user: Annotated[Principal, Depends(require_roles("hq_admin"))],
) -> SkillPublic:
    """Creates or updates a skill of the catalogue (hq_admin)."""
    skill = dispatch.save_skill(session, **body.model_dump())
    session.commit()
    return SkillPublic(
        code=skill.code, name_zh=skill.name_zh, name_en=skill.name_en, levels=skill.levels
    )


@router.get("/dispatch/service-areas", response_model=dict[str, Any], responses=ERRORS)
def export_service_areas(session: SessionDep, user: MasterDataEditor) -> dict[str, Any]:
    """The service areas of the outlets in scope as a GeoJSON FeatureCollection."""
    return dispatch.export_areas(session, scope_path=_scope(user))


class Imported(BaseModel):
    imported: int


@router.put("/dispatch/service-areas", response_model=Imported, responses=ERRORS)
def import_service_areas(
    session: SessionDep,
    user: MasterDataEditor,
    collection: Annotated[dict[str, Any], Body(description="a GeoJSON FeatureCollection")],
) -> Imported:
    """Sets outlets' service areas (feature `properties.outlet` is the outlet code; the
    geometry a Polygon or MultiPolygon, [lng, lat]); all or nothing, outlets in scope."""
    count = dispatch.import_areas(session, collection=collection, scope_path=_scope(user))
    session.commit()
    return Imported(imported=count)


class RoutingRuleIn(BaseModel):
    channel: str = Field(default="", max_length=32, description="empty: any channel")
    service_type: str = Field(default="", max_length=64, description="empty: any type")
    up_to_priority: int = Field(
        default=0, ge=0, le=5, description="N: orders of priority 1 (most urgent) to N; 0: any"
    )
    queue: Literal["engineers", "logistics", "customer_care"]


class RoutingRules(BaseModel):
    rules: list[RoutingRuleIn] = Field(max_length=200)


@router.get("/dispatch/routing-rules", response_model=RoutingRules, responses=ERRORS)
def read_routing_rules(session: SessionDep, user: Dispatcher) -> RoutingRules:
    """The rules sending a report to a queue before engineer dispatch, first match wins."""
    return RoutingRules(
        rules=[
            RoutingRuleIn.model_validate(r, from_attributes=True)
            for r in dispatch.routing_rules(session)
        ]
    )


@router.put("/dispatch/routing-rules", response_model=RoutingRules, responses=ERRORS)
def set_routing_rules(
    body: RoutingRules,
    session: SessionDep,
    user: Annotated[Principal, Depends(require_roles("hq_admin"))],
) -> RoutingRules:
    """Replaces the routing rules (hq_admin): by channel, service type (the fault when the
    order has no `service_type` variable) and urgency, to engineers, logistics or
    customer care; a report no rule matches goes to engineers."""
    dispatch.set_routing_rules(session, rules=[r.model_dump() for r in body.rules])
    session.commit()
    return body
