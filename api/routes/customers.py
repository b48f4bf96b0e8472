"""Customer 360 over HTTP: search, one customer's profile and timeline, identities,
merges and assets — within the caller's scope."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from api.deps import CtxDep, CurrentUser, IdPath, Manager
from api.order_access import db
from api.schemas import ERRORS, Page, page_of
from servflow.customers import service as customers
from servflow.notify import service as notify
from servflow.orders import service as orders
from servflow.org.rules import Principal
from servflow.platform.errors import Forbidden

router = APIRouter(prefix="/api", tags=["customers"])


class AddressPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    address: str
    city: str
    lat: float | None
    lng: float | None


class CustomerPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    phone: str | None
    org_path: str
    created_at: datetime
    addresses: list[AddressPublic]


class IdentityPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    kind: str
    value: str
    created_at: datetime


class AssetPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    product: str
    serial_no: str
    order_id: str
    installed_on: date | None
    warranty_until: date | None
    under_warranty: bool = False


class TimelineEvent(BaseModel):
    at: datetime
    kind: str  # order, message, survey, identity, asset, merge
    order_id: str = ""
    text: str


class CustomerProfile(BaseModel):
    customer: CustomerPublic
    identities: list[IdentityPublic]
    assets: list[AssetPublic]
    timeline: list[TimelineEvent]
    merged_ids: list[int]


class IdentityIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: str = Field(max_length=16)
    value: str = Field(min_length=1, max_length=200)


class MergeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    other_id: int = Field(ge=1, le=2_147_483_647)


class MergePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    kept_id: int
    merged_id: int
    rule: str
    by: str
    created_at: datetime


class AssetIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    product: str = Field(min_length=1, max_length=200)
    serial_no: str = Field(default="", max_length=100)
    order_id: str = Field(default="", max_length=200)
    installed_on: date | None = None
    warranty_until: date | None = None


def _not_engineer(user: Principal) -> None:
    if user.engineer_only:
        raise Forbidden("engineers see their orders' customers on the orders")


def _search(session: Any, user: Principal, q: str, limit: int, offset: int) -> Page[CustomerPublic]:
    found = customers.search_customers(session, user, text=q, limit=limit, offset=offset)
    return page_of(found, CustomerPublic.model_validate)


@router.get("/customers", response_model=Page[CustomerPublic], responses=ERRORS)
async def read_customers(
    user: CurrentUser,
    ctx: CtxDep,
    q: Annotated[str, Query(max_length=100, description="name, phone, contact or channel id")] = "",
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> Page[CustomerPublic]:
    """Customers within the caller's scope, by name, phone, contact name or channel id
    (WeCom external id, Douyin/Tmall/JD buyer id); by order number: search the orders."""
    _not_engineer(user)
    page: Page[CustomerPublic] = await db(ctx, _search, user, q, limit, offset)
    return page


def _order_events(session: Any, user: Principal, phone: str | None) -> list[TimelineEvent]:
    """The customer's orders the caller may see, found by the customer's phone."""
    if not phone:
        return []
    rows, _ = orders.search_orders(
        session,
        user,
        status=None,
        region=None,
        definition_key=None,
        limit=100,
        offset=0,
        filters=orders.DeskFilters(q=phone),
    )
    return [
        TimelineEvent(
            at=row.created_at,
            kind="order",
            order_id=row.order_id,
            text=f"工单 {row.order_no or row.order_id} {row.definition_key}: {row.status}",
        )
        for row in rows
    ]


def _record_events(found: Any) -> list[TimelineEvent]:
    """Surveys, assets, channel identities and merges of the customer record."""
    events = [
        TimelineEvent(
            at=survey.created_at,
            kind="survey",
            order_id=survey.order_id,
            text=f"签收评分 {survey.rating}/10 {survey.comment}".strip(),
        )
        for survey in found.surveys
    ]
    events += [
        TimelineEvent(at=a.created_at, kind="asset", order_id=a.order_id, text=a.product)
        for a in found.assets
    ]
    events += [
        TimelineEvent(at=i.created_at, kind="identity", text=f"{i.kind}: {i.value}")
        for i in found.identities
    ]
    events += [
        TimelineEvent(
            at=m.created_at, kind="merge", text=f"合并客户 {m.merged_id} ({m.rule}, {m.by})"
        )
        for m in found.merges
    ]
    return events


def _message_events(session: Any, user: Principal, order_ids: set[str]) -> list[TimelineEvent]:
    """Messages sent about those orders."""
    events: list[TimelineEvent] = []
    for order_id in sorted(order_ids):
        messages, _ = notify.page_notifications(
            session, user, status=None, order_id=order_id, limit=50, offset=0
        )
        events += [
            TimelineEvent(at=m.created_at, kind="message", order_id=order_id, text=m.message)
            for m in messages
        ]
    return events


def _profile(session: Any, user: Principal, customer_id: int) -> CustomerProfile:
    found = customers.profile(session, user, customer_id=customer_id)
    today = date.today()
    events = _order_events(session, user, found.customer.phone) + _record_events(found)
    order_ids = {e.order_id for e in events if e.kind in ("order", "survey") and e.order_id}
    events += _message_events(session, user, order_ids)
    return CustomerProfile(
        customer=CustomerPublic.model_validate(found.customer),
        identities=[IdentityPublic.model_validate(i) for i in found.identities],
        assets=[
            AssetPublic.model_validate(a).model_copy(
                update={"under_warranty": bool(a.warranty_until and a.warranty_until >= today)}
            )
            for a in found.assets
        ],
        timeline=sorted(events, key=lambda e: e.at, reverse=True),
        merged_ids=found.merged_ids,
    )


@router.get("/customers/{customer_id}", response_model=CustomerProfile, responses=ERRORS)
async def read_customer(customer_id: IdPath, user: CurrentUser, ctx: CtxDep) -> CustomerProfile:
    """One customer: identities, addresses, assets with warranty, and one timeline of
    their orders, messages, surveys, identities and merges (newest first)."""
    _not_engineer(user)
    profile: CustomerProfile = await db(ctx, _profile, user, customer_id)
    return profile


def _add_identity(
    session: Any, user: Principal, customer_id: int, body: IdentityIn
) -> IdentityPublic:
    customer = customers.visible_customer(session, user, customer_id=customer_id)
    kept = customers.link_identity(
        session, customer=customer, kind=body.kind, value=body.value, by=user.username
    )
    session.commit()
    identity = next(
        i
        for i in customers.profile(session, user, customer_id=kept.id).identities
        if (i.kind, i.value) == (body.kind, body.value.strip())
    )
    return IdentityPublic.model_validate(identity)


@router.post(
    "/customers/{customer_id}/identities",
    status_code=201,
    response_model=IdentityPublic,
    responses=ERRORS,
)
async def add_identity(
    customer_id: IdPath, body: IdentityIn, user: Manager, ctx: CtxDep
) -> IdentityPublic:
    """Adds a channel identity; one another customer holds merges the two (rule
    `same_<kind>`, audited)."""
    result: IdentityPublic = await db(ctx, _add_identity, user, customer_id, body)
    return result


def _merge(session: Any, user: Principal, customer_id: int, other_id: int) -> MergePublic:
    customers.visible_customer(session, user, customer_id=customer_id)
    customers.visible_customer(session, user, customer_id=other_id)
    audit = customers.merge(
        session, kept_id=customer_id, merged_id=other_id, rule="manual", by=user.username
    )
    session.commit()
    return MergePublic.model_validate(audit)


@router.post("/customers/{customer_id}/merge", response_model=MergePublic, responses=ERRORS)
async def merge_customer(
    customer_id: IdPath, body: MergeIn, user: Manager, ctx: CtxDep
) -> MergePublic:
    """Merges `other_id` into this customer (both within scope), audited."""
    result: MergePublic = await db(ctx, _merge, user, customer_id, body.other_id)
    return result


def _add_asset(session: Any, user: Principal, customer_id: int, body: AssetIn) -> AssetPublic:
    customers.visible_customer(session, user, customer_id=customer_id)
    asset = customers.add_asset(session, customer_id=customer_id, **body.model_dump())
    session.commit()
    return AssetPublic.model_validate(asset)


@router.post(
    "/customers/{customer_id}/assets",
    status_code=201,
    response_model=AssetPublic,
    responses=ERRORS,
)
async def add_asset(customer_id: IdPath, body: AssetIn, user: Manager, ctx: CtxDep) -> AssetPublic:
    """Records a product the customer owns, with its warranty."""
    result: AssetPublic = await db(ctx, _add_asset, user, customer_id, body)
    return result
