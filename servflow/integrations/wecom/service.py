"""WeCom use cases: deliver outbox messages (the notifier), and apply card clicks that
come back through the callback — each card's first click, once."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client

from servflow.integrations import repo
from servflow.integrations.models import WecomCard
from servflow.integrations.wecom import rules
from servflow.integrations.wecom.client import RobotLimiter, TokenCache, WecomClient, WecomError
from servflow.integrations.wecom.crypto import CallbackError, MsgCrypt, parse_xml
from servflow.notify import service as notify
from servflow.notify.notifier import DeliveryFailed, LoggingNotifier, OutgoingMessage
from servflow.orders import engine, steps
from servflow.org import service as org
from servflow.org.rules import Principal
from servflow.platform.errors import AppError, Conflict, NotFound
from servflow.platform.settings import Settings
from workflows.contracts import Actor, StepAccepted, StepSubmission

log = logging.getLogger(__name__)


@dataclass
class WecomConfig:
    corp_id: str
    agent_id: int
    secret: str
    api_base: str
    token: str = ""
    encoding_aes_key: str = ""
    default_webhook: str = ""
    region_webhooks: dict[str, str] = field(default_factory=dict)
    user_map: dict[str, str] = field(default_factory=dict)
    robot_per_minute: int = 20

    @classmethod
    def from_settings(cls, settings: Settings) -> WecomConfig:
        return cls(
            corp_id=settings.wecom_corp_id,
            agent_id=settings.wecom_agent_id,
            secret=settings.wecom_secret,
            api_base=settings.wecom_api_base,
            token=settings.wecom_token,
            encoding_aes_key=settings.wecom_encoding_aes_key,
            default_webhook=settings.wecom_webhook_url,
            region_webhooks=rules.parse_map(settings.wecom_region_webhooks),
            user_map=rules.parse_map(settings.wecom_user_map),
            robot_per_minute=settings.wecom_robot_per_minute,
        )

    @property
    def app_configured(self) -> bool:
        return bool(self.corp_id and self.secret and self.agent_id)

    def userid(self, username: str) -> str:
        return self.user_map.get(username, username)

    def username(self, userid: str) -> str:
        reverse = {v: k for k, v in self.user_map.items()}
        return reverse.get(userid, userid)

    def crypt(self) -> MsgCrypt:
        """The callback's WXBizMsgCrypt; NotFound when the callback is not configured."""
        if not (self.token and self.encoding_aes_key and self.corp_id):
            raise NotFound("the WeCom callback is not configured")
        return MsgCrypt(self.token, self.encoding_aes_key, self.corp_id)


class WecomNotifier:
    """Delivers outbox rows on WeCom: text to users, accept/decline cards to engineers,
    card updates, and markdown to the region's group robot; other channels (sms, email,
    log) are logged."""

    def __init__(
        self,
        config: WecomConfig,
        session_factory: sessionmaker[Session],
        *,
        client: WecomClient | None = None,
    ) -> None:
        self.config = config
        self.session_factory = session_factory
        self.client = client or WecomClient(
            api_base=config.api_base,
            corp_id=config.corp_id,
            agent_id=config.agent_id,
            secret=config.secret,
            tokens=TokenCache(),
            robots=RobotLimiter(config.robot_per_minute),
        )
        self.fallback = LoggingNotifier()

    def send(self, message: OutgoingMessage) -> None:
        try:
            self._send(message)
        except WecomError as exc:
            raise DeliveryFailed(
                str(exc), retryable=exc.retryable, retry_after=exc.retry_after
            ) from exc

    def _send(self, message: OutgoingMessage) -> None:
        if message.channel != "wecom":
            self.fallback.send(message)
            return
        if message.kind == "robot":
            region = str(message.payload.get("region", ""))
            url = self.config.region_webhooks.get(region) or self.config.default_webhook
            if not url:
                raise DeliveryFailed(f"no group robot for region '{region}'", retryable=False)
            self.client.send_robot(url, f"**SLA 超时升级**\n> {message.message}")
            return
        if not self.config.app_configured:
            raise DeliveryFailed("WeCom app not configured (SERVFLOW_WECOM_*)", retryable=False)
        userids = [self.config.userid(name) for name in message.recipients]
        if message.kind == "template_card":
            self._send_card(message, userids)
        elif message.kind == "card_update":
            self.client.update_card(
                userids=userids,
                response_code=str(message.payload.get("response_code", "")),
                replace_name=str(message.payload.get("replace_name", "已处理")),
            )
        elif message.kind == "markdown":
            self.client.send_markdown(userids, message.message)
        elif message.kind == "textcard":
            self.client.send_textcard(
                userids,
                title=str(message.payload.get("title", "servflow")),
                description=message.message,
                url=str(message.payload.get("url", "")),
            )
        else:
            self.client.send_text(userids, message.message)

    def _send_card(self, message: OutgoingMessage, userids: list[str]) -> None:
        task_id = rules.task_id_of(message.notification_id)
        with self.session_factory() as session:
            # Written before the card leaves: its click can never arrive for an unknown card.
            repo.insert_card_once(
                session,
                row={
                    "task_id": task_id,
                    "order_id": message.order_id,
                    "node_id": str(message.payload.get("node_id", "")),
                    "username": message.recipients[0] if message.recipients else "",
                    "wecom_userid": userids[0] if userids else "",
                    "org_path": str(message.payload.get("org_path", "")),
                    "status": "sent",
                    "response_code": "",
                    "applied": "",
                    "apply_error": "",
                },
            )
            session.commit()
        card = rules.accept_card(
            task_id=task_id,
            title=f"新工单 {message.payload.get('order_no', message.order_id)}",
            text=message.message,
            fault=str(message.payload.get("fault", "")),
        )
        answer = self.client.send_card(userids, card)
        if answer.get("response_code"):
            with self.session_factory() as session:
                repo.set_response_code(
                    session, task_id=task_id, response_code=str(answer["response_code"])
                )
                session.commit()


@dataclass(frozen=True)
class Click:
    """A card's first click, to apply to its order."""

    task_id: str
    order_id: str
    username: str
    key: str


def verify_url(
    config: WecomConfig, *, msg_signature: str, timestamp: str, nonce: str, echostr: str
) -> str:
    """The plaintext echostr for WeCom's URL check.

    Raises:
        CallbackError: a signature or echostr that is not WeCom's.
    """
    return config.crypt().verify_url(msg_signature, timestamp, nonce, echostr)


def take_click(
    session: Session,
    config: WecomConfig,
    *,
    msg_signature: str,
    timestamp: str,
    nonce: str,
    body: bytes,
    now: datetime,
) -> Click | None:
    """Decrypts a callback; a card click that is its card's first is recorded and returned
    (to apply), anything else (other events, a redelivered or second click, a click by
    someone the card was not for) returns None.

    Raises:
        CallbackError: not WeCom's (signature, encryption or receive id).
    """
    fields = parse_xml(config.crypt().decrypt_xml(msg_signature, timestamp, nonce, body))
    click = rules.card_click(fields)
    if click is None:
        return None
    card = repo.get_card(session, task_id=click["task_id"])
    if card is None:
        log.info("click on unknown card %s ignored", click["task_id"])
        return None
    if config.username(click["userid"]) != card.username:
        log.warning("click on card %s by %s, not its engineer", card.task_id, click["userid"])
        return None
    status = rules.OUTCOMES[click["key"]]
    if not repo.take_click(
        session,
        task_id=card.task_id,
        status=status,
        response_code=click["response_code"],
        now=now,
    ):
        return None
    return Click(
        task_id=card.task_id, order_id=card.order_id, username=card.username, key=click["key"]
    )


def finish_click(session: Session, *, click: Click, error: str | None, now: datetime) -> None:
    """Records how applying the click went and queues the card's update (its buttons
    become one label) through the outbox."""
    card = repo.get_card(session, task_id=click.task_id)
    if card is None:
        return
    card.applied = "failed" if error else "done"
    card.apply_error = (error or "")[:1000]
    label = rules.LABELS[click.key] if not error else "未能处理"
    if card.response_code:
        notify.enqueue(
            session,
            key=f"wecom-card-update/{card.task_id}",
            channel="wecom",
            recipients=[card.username],
            message=label,
            now=now,
            order_id=card.order_id,
            org_path=card.org_path,
            kind="card_update",
            payload={"response_code": card.response_code, "replace_name": label},
        )
    session.flush()


def _actor(session_factory: sessionmaker[Session], username: str) -> Actor:
    with session_factory() as session:
        user = org.get_user_by_username(session, username=username)
        roles = list(user.roles) if user is not None else []
        display = user.display_name if user is not None else username
    return Actor(user_id=username, roles=roles, display_name=display)


def _recorded(
    session_factory: sessionmaker[Session], click: Click, accepted: StepAccepted, now: datetime
) -> None:
    with session_factory() as session:
        steps.record_submitted(session, order_id=click.order_id, accepted=accepted, now=now)
        session.commit()


def _finished(
    session_factory: sessionmaker[Session], click: Click, error: str | None, now: datetime
) -> None:
    with session_factory() as session:
        finish_click(session, click=click, error=error, now=now)
        session.commit()


async def apply_click(
    session_factory: sessionmaker[Session],
    client: Client,
    click: Click,
    *,
    actor_key: str,
    clock: Callable[[], datetime],
) -> str | None:
    """Applies a card's first click to its order: the human step waiting for the card's
    engineer is submitted — a dispatch offer (`dispatch.handoff`) with its answer
    accept/decline, any other step with outcome accepted/declined — as that engineer (the Update id
    is the card's, so a retry is answered with the first result). Returns the error, if
    any; the card is updated either way. Database work runs on threads (this runs on the
    API's or the worker's event loop).
    """
    error: str | None = None
    try:
        state = await engine.live_state(client, click.order_id)
        waiting = [
            a for a in (state.active if state else []) if a.human and a.assignee == click.username
        ]
        if not waiting:
            raise Conflict(f"order {click.order_id} has no step waiting for {click.username}")
        data, outcome = rules.answer_for(waiting[0].node_id, click.key)
        submission = StepSubmission(
            node_id=waiting[0].node_id,
            actor=await asyncio.to_thread(_actor, session_factory, click.username),
            data=data,
            outcome=outcome,
        )
        accepted = await engine.submit(
            client,
            click.order_id,
            submission,
            actor_key=actor_key,
            update_id=f"wecom-card/{click.task_id}",
        )
        await asyncio.to_thread(_recorded, session_factory, click, accepted, clock())
    except AppError as exc:
        error = exc.message
    await asyncio.to_thread(_finished, session_factory, click, error, clock())
    return error


def _unapplied(session_factory: sessionmaker[Session], before: datetime) -> list[Click]:
    with session_factory() as session:
        return [
            Click(
                task_id=c.task_id,
                order_id=c.order_id,
                username=c.username,
                key=rules.ACCEPT if c.status == "accepted" else rules.DECLINE,
            )
            for c in repo.unapplied_cards(session, clicked_before=before, limit=50)
        ]


async def reapply_clicks(
    session_factory: sessionmaker[Session],
    client: Client,
    *,
    actor_key: str,
    clock: Callable[[], datetime],
    older_than: timedelta = timedelta(minutes=1),
) -> int:
    """Applies clicks recorded but never applied (their API process died first); the
    Update id makes a click applied by both the API and this harmless. Returns how many."""
    clicks = await asyncio.to_thread(_unapplied, session_factory, clock() - older_than)
    for click in clicks:
        await apply_click(session_factory, client, click, actor_key=actor_key, clock=clock)
    return len(clicks)


def cards_of_order(session: Session, user: Principal, *, order_id: str) -> list[WecomCard]:
    return repo.cards_of_order(session, order_id=order_id, scope_path=user.scope_path)


__all__ = ["CallbackError", "Click", "WecomConfig", "WecomNotifier"]


def notifier_from_settings(
    settings: Settings, session_factory: sessionmaker[Session]
) -> WecomNotifier | LoggingNotifier:
    """WeCom when an app or a group robot is configured (SERVFLOW_WECOM_*), else the log."""
    config = WecomConfig.from_settings(settings)
    if config.app_configured or config.default_webhook or config.region_webhooks:
        return WecomNotifier(config, session_factory)
    return LoggingNotifier()
