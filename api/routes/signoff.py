"""The customer's sign-off: a one-time link (sent by SMS/WeCom through the outbox), the
page's data, the signature with a 0-10 rating and comment; NPS per region, outlet or
engineer; a low score opens a follow-up for the managers."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from api.deps import AppContext, CtxDep, CurrentUser, Manager, TemporalDep
from api.order_access import db, visible_order
from api.routes.uploads import file_response
from api.schemas import ERRORS, DataList
from servflow.customers import service as customers
from servflow.integrations.files import check_file_id, store_from_settings
from servflow.integrations.uploads import service as uploads
from servflow.notify import service as notify
from servflow.orders import service as orders
from servflow.org.rules import Principal
from servflow.platform.base import utcnow
from servflow.platform.errors import invalid_field

router = APIRouter(prefix="/api", tags=["sign-off"])

MAX_SIGNATURE_BYTES = 300_000
PNG_PREFIX = "data:image/png;base64,"


class SignoffLinkPublic(BaseModel):
    order_id: str
    url: str
    expires_at: datetime


class SignoffPage(BaseModel):
    order_id: str
    order_no: str
    engineer: str
    expires_at: datetime


class SignoffIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rating: int = Field(ge=0, le=10)
    comment: str = Field(default="", max_length=500)
    signature: str = Field(
        max_length=MAX_SIGNATURE_BYTES * 2, description="data:image/png;base64,…"
    )


class SignoffDone(BaseModel):
    order_id: str
    rating: int
    follow_up: bool


class NpsRow(BaseModel):
    key: str
    responses: int
    promoters: int
    passives: int
    detractors: int
    nps: float


class FollowUp(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    order_id: str
    region: str
    outlet: str
    engineer: str
    rating: int
    comment: str
    created_at: datetime


def _link(
    session: Any,
    user: Principal,
    *,
    order_id: str,
    row: Any,
    state: Any,
    now: datetime,
    base_url: str = "",
) -> SignoffLinkPublic:
    customer = row.customer_id if row is not None else None
    context = state.context if state is not None else None
    outlet = context.outlet if context else ""
    region = (row.region if row is not None else "") or (context.region if context else "")
    engineer = ""
    if state is not None:
        engineer = next((a.assignee for a in state.active if a.human), "")
    engineer = engineer or user.username
    token, link = customers.create_signoff_link(
        session,
        order_id=order_id,
        customer_id=customer,
        org_path=row.org_path if row is not None else "",
        region=region,
        outlet=outlet,
        engineer=engineer,
        now=now,
    )
    url = f"/phone/signoff/{token}"
    phone = str((context.customer if context else {}).get("phone", ""))
    if phone:
        # The text carries the whole link (SERVFLOW_PUBLIC_BASE_URL); an SMS template
        # receives it as its ${link} (servflow.notify.sms).
        full = base_url.rstrip("/") + url
        notify.enqueue(
            session,
            key=f"signoff-link/{link.id}",
            channel="sms",
            recipients=[phone],
            message=f"请为本次服务签收并评分: {full}",
            now=now,
            order_id=order_id,
            org_path=link.org_path,
            payload={"sms_params": {"link": full}},
        )
    session.commit()
    return SignoffLinkPublic(order_id=order_id, url=url, expires_at=link.expires_at)


@router.post(
    "/orders/{order_id}/signoff-link",
    status_code=201,
    response_model=SignoffLinkPublic,
    responses=ERRORS,
)
async def create_signoff_link(
    order_id: str, user: CurrentUser, ctx: CtxDep, client: TemporalDep
) -> SignoffLinkPublic:
    """A one-time sign-off link for the order's customer (72 h), texted to their phone
    through the outbox; the engineer may also show it on their own phone."""
    row, state = await visible_order(ctx, client, user, order_id)
    result: SignoffLinkPublic = await db(
        ctx,
        _link,
        user,
        order_id=order_id,
        row=row,
        state=state,
        now=utcnow(),
        base_url=ctx.settings.public_base_url,
    )
    return result


def _page(session: Any, token: str) -> SignoffPage:
    link = customers.open_link(session, token=token, now=utcnow())
    order = orders.get_order(session, order_id=link.order_id)
    return SignoffPage(
        order_id=link.order_id,
        order_no=(order.order_no if order is not None else None) or link.order_id,
        engineer=link.engineer,
        expires_at=link.expires_at,
    )


@router.get("/signoff/{token}", response_model=SignoffPage, responses=ERRORS)
async def read_signoff(token: str, ctx: CtxDep) -> SignoffPage:
    """What the customer's page shows (the link is the credential; 404 once used)."""
    page: SignoffPage = await db(ctx, _page, token[:100])
    return page


def _signature_png(text: str) -> bytes:
    if not text.startswith(PNG_PREFIX):
        raise invalid_field("signature", "a data:image/png;base64 URL")
    try:
        data = base64.b64decode(text[len(PNG_PREFIX) :], validate=True)
    except binascii.Error:
        raise invalid_field("signature", "not base64") from None
    if len(data) > MAX_SIGNATURE_BYTES:
        raise invalid_field("signature", "too large")
    return data


def _sign(session: Any, ctx: AppContext, token: str, body: SignoffIn) -> SignoffDone:
    now = utcnow()
    link = customers.open_link(session, token=token, now=now)
    stored = store_from_settings(ctx.settings).save(
        _signature_png(body.signature), declared_type="image/png"
    )
    survey = customers.sign_off(
        session,
        token=token,
        rating=body.rating,
        comment=body.comment,
        signature_file=stored.file_id,
        now=now,
    )
    # The signature is the order's (its managers read it) and the link's (its holder reads
    # it back until the link expires).
    uploads.grant(
        session,
        file_id=stored.file_id,
        uploaded_by=None,
        now=now,
        order_id=link.order_id,
        node_id="signoff",
        org_path=link.org_path,
        signoff_hash=uploads.token_hash(token),
        expires_at=link.expires_at,
    )
    if survey.follow_up:
        notify.low_score_follow_up(
            session,
            order_id=survey.order_id,
            org_path=survey.org_path,
            rating=survey.rating,
            comment=survey.comment,
            now=now,
        )
    session.commit()
    return SignoffDone(order_id=survey.order_id, rating=survey.rating, follow_up=survey.follow_up)


@router.post("/signoff/{token}", response_model=SignoffDone, responses=ERRORS)
async def submit_signoff(token: str, body: SignoffIn, ctx: CtxDep) -> SignoffDone:
    """The customer's signature, rating (0-10) and comment, once per link; 0-6 opens a
    follow-up for the outlet's and region's managers (WeCom)."""
    done: SignoffDone = await db(ctx, _sign, ctx, token[:100], body)
    return done


class SignoffFile(BaseModel):
    file_id: str
    url: str
    thumb_url: str


def _files(session: Any, token: str) -> DataList[SignoffFile]:
    base = f"/api/signoff/{token}/files"
    return DataList(
        data=[
            SignoffFile(file_id=f, url=f"{base}/{f}", thumb_url=f"{base}/{f}?thumb=true")
            for f in uploads.signoff_files(session, token=token, now=utcnow())
        ]
    )


@router.get("/signoff/{token}/files", response_model=DataList[SignoffFile], responses=ERRORS)
async def read_signoff_files(token: str, ctx: CtxDep) -> DataList[SignoffFile]:
    """The sign-off's own files (its signature), for the link's holder until it expires
    (also after signing); an unknown link has none."""
    files: DataList[SignoffFile] = await db(ctx, _files, token[:100])
    return files


@router.get("/signoff/{token}/files/{file_id}", response_class=Response, responses=ERRORS)
async def read_signoff_file(
    token: str, file_id: str, ctx: CtxDep, thumb: Annotated[bool, Query()] = False
) -> Response:
    """One of the sign-off's files (or its thumbnail); 404 for any other file."""
    check_file_id(file_id)
    await db(ctx, uploads.check_signoff_readable, token=token[:100], file_id=file_id, now=utcnow())
    return await file_response(ctx, file_id, thumb=thumb)


def _nps(session: Any, user: Principal, group_by: str) -> list[NpsRow]:
    return [
        NpsRow(
            key=n.key,
            responses=n.responses,
            promoters=n.promoters,
            passives=n.passives,
            detractors=n.detractors,
            nps=n.score,
        )
        for n in customers.nps_report(session, user, group_by=group_by)
    ]


@router.get("/nps", response_model=list[NpsRow], responses=ERRORS)
async def read_nps(
    user: Manager,
    ctx: CtxDep,
    group_by: Annotated[
        str, Query(max_length=16, description="region, outlet or engineer")
    ] = "region",
) -> list[NpsRow]:
    """NPS (% promoters 9-10 minus % detractors 0-6) of the sign-offs within scope."""
    rows: list[NpsRow] = await db(ctx, _nps, user, group_by)
    return rows


def _follow_ups(session: Any, user: Principal) -> list[FollowUp]:
    return [FollowUp.model_validate(s) for s in customers.follow_ups(session, user)]


@router.get("/nps/follow-ups", response_model=list[FollowUp], responses=ERRORS)
async def read_follow_ups(user: Manager, ctx: CtxDep) -> list[FollowUp]:
    """Low scores (0-6) waiting for a call back, newest first, within scope."""
    rows: list[FollowUp] = await db(ctx, _follow_ups, user)
    return rows
