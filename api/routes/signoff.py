"""The customer's sign-off: a one-time link (sent by SMS/WeCom through the outbox), the
page's data, the signature with a 0-10 rating and comment — which also completes the
order's waiting `signoff` step when the link was issued for it; NPS per region, outlet or
engineer; a low score tells the managers and customer care and opens a call-back."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from api.deps import AppContext, CtxDep, CurrentUser, TemporalDep, require_roles
from api.order_access import db, visible_order
from api.routes.uploads import file_response
from api.schemas import ERRORS, DataList
from servflow.customers import service as customers
from servflow.customers.rules import customer_form_problem, customer_step_data
from servflow.definitions import service as definitions
from servflow.integrations.files import check_file_id, store_from_settings
from servflow.integrations.uploads import service as uploads
from servflow.notify import service as notify
from servflow.orders import engine, steps
from servflow.orders import service as orders
from servflow.org.rules import SURVEY_ROLES, Principal
from servflow.platform.base import utcnow
from servflow.platform.errors import Conflict, Invalid, invalid_field
from workflows.contracts import CUSTOMER_ROLE, Actor, OrderState, StepSubmission
from workflows.forms import FormField, check_submission

router = APIRouter(prefix="/api", tags=["sign-off"])

# The order's managers and customer care, within their scope.
SurveyReader = Annotated[Principal, Depends(require_roles(*SURVEY_ROLES))]

MAX_SIGNATURE_BYTES = 300_000
PNG_PREFIX = "data:image/png;base64,"


class SignoffLinkPublic(BaseModel):
    order_id: str
    url: str
    expires_at: datetime
    node_id: str | None = Field(
        description="the waiting sign-off step the customer's answer completes; null: a"
        " survey only (see survey_only)"
    )
    survey_only: str = Field(
        default="", description="why the customer's answer completes no step of the order"
    )


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
    node_id: str | None = Field(
        default=None,
        description="the order's step this sign-off completed (null: a survey only, or the"
        " step no longer waited)",
    )


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
    follow_up_order_id: str | None = Field(
        default=None,
        description="the call-back order opened for this low score (null until the worker"
        " opened it)",
    )
    follow_up_status: str | None = Field(
        default=None,
        description="that order's status (reported, completed, cancelled, ...; null until"
        " the order desk knows it)",
    )


def _step_form(session: Any, *, key: str, version: int, node_id: str) -> list[FormField]:
    body = definitions.get_version(session, key=key, version=version).body
    node: dict[str, Any] = next((n for n in body.get("nodes", []) if n.get("id") == node_id), {})
    return [FormField.model_validate(f) for f in node.get("form") or []]


def _step_for_customer(session: Any, state: OrderState | None) -> tuple[str, str]:
    """The waiting sign-off step a link completes, or "" and why the link is a survey only."""
    waiting = [a for a in (state.active if state else []) if a.human and a.node_type == "signoff"]
    if state is None or not waiting:
        return "", "the order waits at no sign-off step"
    node_id = waiting[0].node_id
    form = _step_form(
        session, key=state.definition_key, version=state.definition_version, node_id=node_id
    )
    problem = customer_form_problem(form)
    if problem is not None:
        return "", f"step '{node_id}' stays the engineer's: {problem}"
    return node_id, ""


@dataclass(frozen=True)
class _LinkFor:
    """Whom and where a sign-off link is issued for."""

    customer_id: Any
    org_path: str
    region: str
    outlet: str
    engineer: str


def _link_for(user: Principal, *, row: Any, state: Any) -> _LinkFor:
    """The order's customer, region, outlet and engineer (the first human step's assignee,
    else the user issuing the link)."""
    context = state.context if state is not None else None
    engineer = ""
    if state is not None:
        engineer = next((a.assignee for a in state.active if a.human), "")
    return _LinkFor(
        customer_id=row.customer_id if row is not None else None,
        org_path=row.org_path if row is not None else "",
        region=(row.region if row is not None else "") or (context.region if context else ""),
        outlet=context.outlet if context else "",
        engineer=engineer or user.username,
    )


def _text_link(
    session: Any, *, state: Any, link: Any, order_id: str, url: str, base_url: str, now: datetime
) -> None:
    """Texts the link to the customer's phone through the outbox (none without a phone)."""
    context = state.context if state is not None else None
    phone = str((context.customer if context else {}).get("phone", ""))
    if not phone:
        return
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
    target = _link_for(user, row=row, state=state)
    node_id, survey_only = _step_for_customer(session, state)
    token, link = customers.create_signoff_link(
        session,
        order_id=order_id,
        customer_id=target.customer_id,
        org_path=target.org_path,
        region=target.region,
        outlet=target.outlet,
        engineer=target.engineer,
        now=now,
        node_id=node_id,
    )
    url = f"/phone/signoff/{token}"
    _text_link(
        session, state=state, link=link, order_id=order_id, url=url, base_url=base_url, now=now
    )
    session.commit()
    return SignoffLinkPublic(
        order_id=order_id,
        url=url,
        expires_at=link.expires_at,
        node_id=node_id or None,
        survey_only=survey_only,
    )


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
    through the outbox; the engineer may also show it on their own phone. Issued while
    the order waits at a `signoff` step whose form the customer can fill (signature,
    rating 0-10, comment), the customer's answer completes that step (`node_id`);
    otherwise it is a survey only (`survey_only` says why)."""
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


@dataclass(frozen=True)
class _Signed:
    done: SignoffDone
    link_id: int
    node_id: str
    """The step to complete ("" for a survey only or one already completed)."""
    data: dict[str, Any]
    customer: str


def _customer_data(session: Any, link: Any, *, signature_file: str, body: SignoffIn) -> Any:
    """The step's data from the customer's answer, checked against the step's form before
    anything is spent (the order's validator checks it again)."""
    order = orders.get_order(session, order_id=link.order_id)
    if order is None or not order.definition_key:
        return {"signature": signature_file, "rating": body.rating, "comment": body.comment}
    form = _step_form(
        session,
        key=order.definition_key,
        version=order.definition_version,
        node_id=link.node_id,
    )
    data = customer_step_data(
        form, signature_file=signature_file, rating=body.rating, comment=body.comment.strip()
    )
    _, errors = check_submission(form, data)
    if errors:
        raise Invalid(
            "the sign-off step's form refuses this answer: "
            + "; ".join(f"{k} {v}" for k, v in errors.items()),
            errors=errors,
        )
    return data


def _first_signature(
    session: Any, *, token: str, link: Any, survey: Any, file_id: str, now: datetime
) -> None:
    """On the link's first signature: grants the signature file to the order and the link,
    and tells the managers and customer care of a low score."""
    # The signature is the order's (its managers read it) and the link's (its holder
    # reads it back until the link expires).
    uploads.grant(
        session,
        file_id=file_id,
        uploaded_by=None,
        now=now,
        order_id=link.order_id,
        node_id=link.node_id or "signoff",
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


def _signed(session: Any, *, link: Any, survey: Any, data: dict[str, Any]) -> _Signed:
    """The answer to the customer, and the step still to complete (if any)."""
    session.refresh(link)
    done = SignoffDone(
        order_id=survey.order_id,
        rating=survey.rating,
        follow_up=survey.follow_up,
        node_id=link.node_id if link.step_submitted_at is not None else None,
    )
    return _Signed(
        done=done,
        link_id=link.id,
        node_id=link.node_id if link.step_submitted_at is None else "",
        data=data,
        customer=customers.customer_name(session, customer_id=link.customer_id),
    )


def _sign(session: Any, ctx: AppContext, token: str, body: SignoffIn, png: bytes) -> _Signed:
    now = utcnow()
    customers.check_answer(body.rating, body.comment)
    link = customers.link_to_sign(session, token=token, now=now)
    # A used link with another rating or comment is refused before anything is written.
    customers.answered(session, link, rating=body.rating, comment=body.comment, signature_file=None)
    stored = store_from_settings(ctx.settings).save(png, declared_type="image/png")
    data = (
        _customer_data(session, link, signature_file=stored.file_id, body=body)
        if link.node_id
        else {}
    )
    survey, first = customers.sign_off(
        session,
        token=token,
        rating=body.rating,
        comment=body.comment,
        signature_file=stored.file_id,
        now=now,
    )
    if first:
        _first_signature(
            session, token=token, link=link, survey=survey, file_id=stored.file_id, now=now
        )
    return _signed(session, link=link, survey=survey, data=data)


def _step_recorded(session: Any, *, order_id: str, link_id: int, accepted: Any) -> None:
    now = utcnow()
    customers.step_submitted(session, link_id=link_id, now=now)
    steps.record_submitted(session, order_id=order_id, accepted=accepted, now=now)
    session.commit()


async def _complete_step(ctx: AppContext, signed: _Signed) -> str | None:
    """Hands the customer's answer to the order as its waiting sign-off step, through the
    step-submission service (the Update id is the link's: a retry or a concurrent double
    tap is answered with the first result). The actor is the customer through the link,
    proven by the API like any actor. Returns the step, or None when it no longer waits
    (the engineer completed it, or the order closed): the survey stands alone."""
    client = ctx.temporal_client
    if client is None:
        raise RuntimeError("the API was started without a Temporal client")
    order_id = signed.done.order_id
    submission = StepSubmission(
        node_id=signed.node_id,
        actor=Actor(
            user_id=f"signoff-link:{signed.link_id}",
            roles=[CUSTOMER_ROLE],
            display_name=signed.customer or "客户",
        ),
        data=signed.data,
    )
    try:
        accepted = await engine.submit(
            client,
            order_id,
            submission,
            actor_key=ctx.actor_key,
            update_id=f"signoff-link/{signed.link_id}",
            wait=timedelta(seconds=ctx.settings.step_wait_seconds),
        )
    except Conflict:
        return None
    await db(ctx, _step_recorded, order_id=order_id, link_id=signed.link_id, accepted=accepted)
    return signed.node_id


@router.post("/signoff/{token}", response_model=SignoffDone, responses=ERRORS)
async def submit_signoff(token: str, body: SignoffIn, ctx: CtxDep) -> SignoffDone:
    """The customer's signature, rating (0-10) and comment, once per link; 0-6 opens a
    follow-up (WeCom to the order's managers and customer care; a call-back task for
    customer care). A link issued for the
    order's waiting sign-off step completes it with this answer (`node_id`).

    The same answer again (a double tap, a retry) is answered alike and changes nothing;
    a used link with another answer is 409, an expired one 410, an unknown one 404."""
    png = _signature_png(body.signature)
    signed: _Signed = await db(ctx, _sign, ctx, token[:100], body, png)
    if not signed.node_id:
        return signed.done
    completed = await _complete_step(ctx, signed)
    return signed.done.model_copy(update={"node_id": completed})


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
    user: SurveyReader,
    ctx: CtxDep,
    group_by: Annotated[
        str, Query(max_length=16, description="region, outlet or engineer")
    ] = "region",
) -> list[NpsRow]:
    """NPS (% promoters 9-10 minus % detractors 0-6) of the sign-offs within scope."""
    rows: list[NpsRow] = await db(ctx, _nps, user, group_by)
    return rows


def _follow_up(session: Any, survey: Any) -> FollowUp:
    opened = survey.follow_up_order_id or None
    order = orders.get_order(session, order_id=opened) if opened else None
    return FollowUp.model_validate(survey).model_copy(
        update={
            "follow_up_order_id": opened,
            "follow_up_status": order.status if order is not None else None,
        }
    )


def _follow_ups(session: Any, user: Principal) -> list[FollowUp]:
    return [_follow_up(session, s) for s in customers.follow_ups(session, user)]


@router.get("/nps/follow-ups", response_model=list[FollowUp], responses=ERRORS)
async def read_follow_ups(user: SurveyReader, ctx: CtxDep) -> list[FollowUp]:
    """Low scores (0-6), newest first, within scope, each with the call-back order opened
    for it (`nps-<order id>`, customer care's task) and that order's status."""
    rows: list[FollowUp] = await db(ctx, _follow_ups, user)
    return rows
