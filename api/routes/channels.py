"""Channels over HTTP: the WeCom callback (URL check and card clicks), the outbox and the
cards sent, within the caller's scope."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, BackgroundTasks, Header, Query, Request
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, ConfigDict

from api.deps import AppContext, CtxDep, CurrentUser, IdPath, Manager
from api.order_access import db
from api.schemas import ERRORS, Page, page_of
from servflow.integrations.marketplaces import rules as marketplace_rules
from servflow.integrations.marketplaces import service as marketplaces
from servflow.integrations.sealing import Sealer
from servflow.integrations.wecom import service as wecom
from servflow.integrations.wecom.crypto import CallbackError
from servflow.notify import service as notify
from servflow.platform.base import utcnow
from servflow.platform.errors import Unauthorized, invalid_field

router = APIRouter(prefix="/api", tags=["channels"])

SIGNATURE = Query(max_length=64)
STAMP = Query(max_length=32)


class NotificationPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    order_id: str | None
    channel: str
    kind: str
    recipients: list[str]
    message: str
    status: str
    attempts: int
    last_error: str
    created_at: datetime
    sent_at: datetime | None
    next_attempt_at: datetime | None


class CardPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    task_id: str
    order_id: str
    username: str
    status: str
    clicked_at: datetime | None
    applied: str
    apply_error: str


def _config(ctx: AppContext) -> wecom.WecomConfig:
    return wecom.WecomConfig.from_settings(ctx.settings)


@router.get("/wecom/callback", response_class=PlainTextResponse, responses=ERRORS)
async def verify_wecom_url(
    ctx: CtxDep,
    msg_signature: Annotated[str, SIGNATURE],
    timestamp: Annotated[str, STAMP],
    nonce: Annotated[str, STAMP],
    echostr: Annotated[str, Query(max_length=1024)],
) -> PlainTextResponse:
    """WeCom's URL check: the decrypted echostr, raw (no quotes, no JSON)."""
    try:
        plain = wecom.verify_url(
            _config(ctx),
            msg_signature=msg_signature,
            timestamp=timestamp,
            nonce=nonce,
            echostr=echostr,
        )
    except CallbackError as exc:
        raise Unauthorized(f"msg_signature: {exc}") from None
    return PlainTextResponse(plain)


@router.post("/wecom/callback", response_class=PlainTextResponse, responses=ERRORS)
async def receive_wecom_event(
    request: Request,
    ctx: CtxDep,
    background: BackgroundTasks,
    msg_signature: Annotated[str, SIGNATURE],
    timestamp: Annotated[str, STAMP],
    nonce: Annotated[str, STAMP],
) -> PlainTextResponse:
    """A WeCom callback (encrypted XML). A card's first accept/decline click is recorded
    now and applied to its order after the answer (WeCom redelivers what is not answered
    within 5 s); a redelivered or second click changes nothing. Answers an empty 200."""
    body = await request.body()
    try:
        click = await db(
            ctx,
            _take_click,
            _config(ctx),
            msg_signature=msg_signature,
            timestamp=timestamp,
            nonce=nonce,
            body=body,
        )
    except CallbackError as exc:
        raise Unauthorized(f"msg_signature: {exc}") from None
    if click is not None and ctx.temporal_client is not None:
        background.add_task(
            wecom.apply_click,
            ctx.session_factory,
            ctx.temporal_client,
            click,
            actor_key=ctx.actor_key,
            clock=utcnow,
        )
    return PlainTextResponse("")


def _take_click(session: Any, config: wecom.WecomConfig, **kwargs: Any) -> wecom.Click | None:
    click = wecom.take_click(session, config, now=utcnow(), **kwargs)
    session.commit()
    return click


def _notifications(session: Any, user: Any, **kwargs: Any) -> Page[NotificationPublic]:
    return page_of(
        notify.page_notifications(session, user, **kwargs), NotificationPublic.model_validate
    )


@router.get("/notifications", response_model=Page[NotificationPublic], responses=ERRORS)
async def read_notifications(
    user: Manager,
    ctx: CtxDep,
    status: Annotated[str | None, Query(max_length=16)] = None,
    order_id: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> Page[NotificationPublic]:
    """The outbox within the caller's scope, newest first: each message's delivery status
    (pending, retry, sent, dead), attempts and last error."""
    page: Page[NotificationPublic] = await db(
        ctx, _notifications, user, status=status, order_id=order_id, limit=limit, offset=offset
    )
    return page


def _retry(session: Any, user: Any, notification_id: int) -> NotificationPublic:
    row = notify.retry_notification(session, user, notification_id=notification_id, now=utcnow())
    session.commit()
    return NotificationPublic.model_validate(row)


@router.post(
    "/notifications/{notification_id}/retry",
    response_model=NotificationPublic,
    responses=ERRORS,
)
async def retry_notification(
    notification_id: IdPath, user: Manager, ctx: CtxDep
) -> NotificationPublic:
    """Queues a given-up or waiting message for delivery now (the relay sends it)."""
    result: NotificationPublic = await db(ctx, _retry, user, notification_id)
    return result


def _cards(session: Any, user: Any, order_id: str) -> list[CardPublic]:
    return [
        CardPublic.model_validate(c) for c in wecom.cards_of_order(session, user, order_id=order_id)
    ]


@router.get("/wecom/cards", response_model=list[CardPublic], responses=ERRORS)
async def read_cards(
    user: CurrentUser, ctx: CtxDep, order_id: Annotated[str, Query(max_length=200)]
) -> list[CardPublic]:
    """The accept/decline cards sent for an order, and their clicks (within scope)."""
    result: list[CardPublic] = await db(ctx, _cards, user, order_id)
    return result


# ---- marketplace intake -----------------------------------------------------------------

_sealers: dict[str, Sealer] = {}
_enrichers: dict[tuple[str, ...], marketplaces.Enricher] = {}


def _sealer(ctx: AppContext) -> Sealer:
    settings = ctx.settings
    if settings.payload_key not in _sealers:
        _sealers[settings.payload_key] = Sealer.from_settings(settings)
    return _sealers[settings.payload_key]


def _enricher(ctx: AppContext) -> marketplaces.Enricher:
    """One per configuration: Douyin's client keeps its access_token between pushes."""
    s = ctx.settings
    key = (
        s.payload_key,
        s.douyin_api_url,
        s.douyin_app_key,
        s.douyin_app_secret,
        s.douyin_shop_id,
        s.douyin_sign_method,
        s.amap_api_url,
        s.amap_key,
    )
    if key not in _enrichers:
        _enrichers[key] = marketplaces.Enricher.from_settings(ctx.settings, sealer=_sealer(ctx))
    return _enrichers[key]


class IntakeAnswer(BaseModel):
    code: int = 0
    msg: str = "success"


def _receive(session: Any, messages: Any, sealer: Sealer) -> list[int]:
    ids = marketplaces.receive(session, messages, sealer=sealer, now=utcnow())
    session.commit()
    return ids


@router.post("/intake/douyin", response_model=IntakeAnswer, responses=ERRORS)
async def receive_douyin_push(
    request: Request,
    ctx: CtxDep,
    background: BackgroundTasks,
    app_id: Annotated[str, Header(alias="app-id", max_length=64)] = "",
    event_sign: Annotated[str, Header(alias="event-sign", max_length=64)] = "",
) -> IntakeAnswer:
    """Douyin Shop's message push: `[{tag, msg_id, data}]` signed with `event-sign` =
    md5(app_key + raw body + app_secret). A bad signature is 401 and nothing is stored;
    each message is stored sealed once (a replay of its msg_id is dropped) and processed
    after the answer: tag 101 (paid) — its detail fetched and its buyer decrypted through
    Douyin's open API when the push carries only the order id, its address geocoded —
    becomes an installation order at the outlet serving the buyer's address."""
    body = await request.body()
    settings = ctx.settings
    try:
        marketplace_rules.check_douyin(
            app_id=app_id,
            event_sign=event_sign,
            body=body,
            app_key=settings.douyin_app_key,
            app_secret=settings.douyin_app_secret,
        )
    except marketplace_rules.BadSignature as exc:
        raise Unauthorized(f"event-sign: {exc}") from None
    try:
        messages = marketplace_rules.douyin_messages(body)
    except marketplace_rules.BadMessage as exc:
        field, _, problem = str(exc).partition(": ")
        raise invalid_field(field, problem) from None
    sealer = _sealer(ctx)
    ids = await db(ctx, _receive, messages, sealer)
    if ids and ctx.temporal_client is not None:
        background.add_task(
            marketplaces.process,
            ctx.session_factory,
            ctx.temporal_client,
            task_queue=ctx.task_queue,
            sealer=sealer,
            definition_key=settings.intake_definition_key,
            clock=utcnow,
            ids=ids,
            enricher=_enricher(ctx),
        )
    return IntakeAnswer()


# ---- marketplace writeback --------------------------------------------------------------


class WritebackPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    platform: str
    external_order_id: str
    order_id: str
    status: str
    state: str
    attempts: int
    last_error: str
    created_at: datetime
    sent_at: datetime | None
    next_attempt_at: datetime | None


WritebackState = Literal["pending", "retry", "sent", "dead"]


def _writebacks(session: Any, user: Any, **kwargs: Any) -> Page[WritebackPublic]:
    return page_of(
        marketplaces.list_outbound(session, user, **kwargs), WritebackPublic.model_validate
    )


@router.get("/marketplaces/writebacks", response_model=Page[WritebackPublic], responses=ERRORS)
async def read_writebacks(
    user: Manager,
    ctx: CtxDep,
    state: WritebackState | None = None,
    order_id: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=5000)] = 0,
) -> Page[WritebackPublic]:
    """Status changes written back to the marketplaces for orders within the caller's
    scope, newest first: state (pending — also while the platform is not configured, said
    in last_error —, retry, sent, dead = parked), attempts and the platform's last error."""
    page: Page[WritebackPublic] = await db(
        ctx, _writebacks, user, state=state, order_id=order_id, limit=limit, offset=offset
    )
    return page


def _retry_writeback(session: Any, user: Any, update_id: int) -> WritebackPublic:
    row = marketplaces.retry_outbound(session, user, update_id=update_id)
    session.commit()
    return WritebackPublic.model_validate(row)


@router.post(
    "/marketplaces/writebacks/{update_id}/retry",
    response_model=WritebackPublic,
    responses=ERRORS,
)
async def retry_writeback(update_id: IdPath, user: Manager, ctx: CtxDep) -> WritebackPublic:
    """Queues a parked or waiting writeback for now (e.g. after the seller authorized
    again); an id outside the caller's scope is 404."""
    result: WritebackPublic = await db(ctx, _retry_writeback, user, update_id)
    return result
