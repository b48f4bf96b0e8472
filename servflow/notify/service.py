"""Notify use cases: write messages to the outbox in the transaction of the effect that
caused them, and deliver them (at once after commit, then by the relay with backoff).

Delivery is at least once from our side: a message is claimed for `claim_seconds`, sent,
then marked sent. A relay that dies between sending and marking leaves the row to be sent
again once the claim lapses; WeCom's duplicate check (same text to the same user within
30 min, which the WeCom notifier turns on) shows it once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from servflow.dispatch import service as dispatch
from servflow.notify import repo
from servflow.notify.models import Notification
from servflow.notify.notifier import DeliveryFailed, Notifier, OutgoingMessage
from servflow.notify.rules import backoff, is_escalation, render_message
from servflow.org import service as org
from servflow.org.rules import Principal
from servflow.platform.effects import OrderFacts, StepOutcome
from servflow.platform.errors import NotFound
from workflows.contracts import StepInput, StepResult
from workflows.nodes.automatic import NotifyParams

log = logging.getLogger(__name__)

CLAIM_SECONDS = 30.0
MAX_ATTEMPTS = 8


def _role_recipients(session: Session, params: NotifyParams, facts: OrderFacts) -> list[str]:
    if params.to_roles and facts.org_path:
        return sorted(
            set(org.usernames_with_roles(session, roles=params.to_roles, scope_path=facts.org_path))
        )
    return []


def _engineer(session: Session, params: NotifyParams, facts: OrderFacts) -> str | None:
    if not params.to_assignee:
        return None
    engineer = dispatch.engineer_of(session, engineer_id=facts.engineer_id)
    if engineer is not None and engineer.user is not None:
        return engineer.user.username
    return None


def _recipients(session: Session, params: NotifyParams, facts: OrderFacts) -> list[str]:
    engineer = _engineer(session, params, facts)
    return sorted({*_role_recipients(session, params, facts), *([engineer] if engineer else [])})


def _simulated_assignee(step: StepInput) -> list[str]:
    """In a test run the order has no engineer: the one its simulated dispatch chose."""
    chosen = [
        str(v["engineer_user_id"])
        for v in step.variables.values()
        if isinstance(v, dict) and v.get("sandbox") and v.get("engineer_user_id")
    ]
    return chosen[-1:]


def _values(step: StepInput, facts: OrderFacts) -> dict[str, Any]:
    """What a message's placeholders may name: the order's plain variables and facts."""
    values: dict[str, Any] = {
        k: v for k, v in step.variables.items() if isinstance(v, str | int | float)
    }
    return values | {
        "order_id": step.order_id,
        "order_no": facts.order_no or step.order_id,
        "node_id": step.node_id,
        "status": step.status,
        "region": facts.region,
        "fault": facts.fault,
    }


def _who(recipients: list[str]) -> str:
    return ", ".join(recipients) if recipients else "无收件人"


def enqueue(
    session: Session,
    *,
    key: str,
    channel: str,
    recipients: Iterable[str],
    message: str,
    now: datetime,
    order_id: str | None = None,
    org_path: str = "",
    kind: str = "text",
    payload: dict[str, Any] | None = None,
) -> Notification:
    """Writes one message to the outbox (the one writer of outbox rows), due now. Callers
    write it in the transaction of the effect that caused it; `key` makes it once-only."""
    row = Notification(
        order_id=order_id,
        channel=channel,
        recipients=list(recipients),
        message=message,
        idempotency_key=key,
        created_at=now,
        kind=kind,
        payload=payload or {},
        org_path=org_path,
        status="pending",
        attempts=0,
        next_attempt_at=now,
        last_error="",
    )
    session.add(row)
    session.flush()
    return row


def notify(session: Session, step: StepInput, now: datetime, facts: OrderFacts) -> StepOutcome:
    """Writes the node's message, rendered with the order's values, to the outbox; a test
    run's is rendered and shown but neither written nor sent.

    On WeCom the dispatched engineer gets it as a card with accept/decline buttons, the
    roles as text; an SLA breach's notice also goes to the region's group robot.
    """
    params = NotifyParams.model_validate(step.params)
    message = render_message(params.message, _values(step, facts))
    if step.sandbox:
        recipients = _recipients(session, params, facts)
        if params.to_assignee:
            recipients = sorted({*recipients, *_simulated_assignee(step)})
        output = {"recipients": recipients, "channel": params.channel, "message": message}
        return StepOutcome(
            result=StepResult(
                output={**output, "notification_id": None, "sandbox": True},
                summary=f"模拟通知 ({params.channel}), 未发送: {_who(recipients)}",
            )
        )
    rows = _outbox_rows(session, step, now, facts, params, message)
    recipients = sorted({r for row in rows for r in row.recipients})
    result = StepResult(
        output={
            "notification_id": rows[0].id,
            "notification_ids": [row.id for row in rows],
            "recipients": recipients,
            "channel": params.channel,
        },
        summary=f"通知 ({params.channel}) 已写入发件箱: {_who(recipients)}",
    )
    return StepOutcome(result=result)


def _outbox_rows(
    session: Session,
    step: StepInput,
    now: datetime,
    facts: OrderFacts,
    params: NotifyParams,
    message: str,
) -> list[Notification]:
    common: dict[str, Any] = {
        "channel": params.channel,
        "message": message,
        "now": now,
        "order_id": step.order_id,
        "org_path": facts.org_path,
    }
    engineer = _engineer(session, params, facts)
    roles = _role_recipients(session, params, facts)
    card = params.channel == "wecom" and engineer is not None
    text_to = roles if card else sorted({*roles, *([engineer] if engineer else [])})
    rows: list[Notification] = []
    if text_to or not card:
        rows.append(enqueue(session, key=step.idempotency_key, recipients=text_to, **common))
    if card and engineer is not None:
        payload = {
            "order_no": facts.order_no or step.order_id,
            "fault": facts.fault,
            "org_path": facts.org_path,
        }
        rows.append(
            enqueue(
                session,
                key=f"{step.idempotency_key}/card",
                recipients=[engineer],
                kind="template_card",
                payload=payload,
                **common,
            )
        )
    if params.channel == "wecom" and is_escalation(step.idempotency_key):
        rows.append(
            enqueue(
                session,
                key=f"{step.idempotency_key}/robot",
                recipients=[],
                kind="robot",
                payload={"region": facts.region},
                **common,
            )
        )
    return rows


def _message_of(row: Notification) -> OutgoingMessage:
    return OutgoingMessage(
        notification_id=row.id,
        channel=row.channel,
        recipients=tuple(row.recipients),
        message=row.message,
        order_id=row.order_id or "",
        kind=row.kind,
        payload=dict(row.payload or {}),
    )


def deliver_one(
    session_factory: sessionmaker[Session],
    notifier: Notifier,
    *,
    notification_id: int,
    clock: Callable[[], datetime],
    claim_seconds: float = CLAIM_SECONDS,
    max_attempts: int = MAX_ATTEMPTS,
) -> str | None:
    """Claims, sends and marks one message; returns its new status, or None when it was
    not this caller's to send (held by another relay, or no longer open)."""
    with session_factory() as session:
        now = clock()
        until = now + timedelta(seconds=claim_seconds)
        if not repo.claim(session, notification_id=notification_id, now=now, until=until):
            session.rollback()
            return None
        session.commit()
        row = session.get(Notification, notification_id)
        assert row is not None
        message = _message_of(row)
        attempts = row.attempts
    error: DeliveryFailed | None = None
    try:
        notifier.send(message)
    except DeliveryFailed as exc:
        error = exc
    except Exception as exc:  # a notifier's bug or a network library's surprise: retry
        log.exception("notification %s: delivery raised", notification_id)
        error = DeliveryFailed(f"{type(exc).__name__}: {str(exc)[:300]}")
    with session_factory() as session:
        row = session.get(Notification, notification_id)
        assert row is not None
        now = clock()
        row.claimed_until = None
        if error is None:
            row.status, row.sent_at, row.last_error = "sent", now, ""
        elif not error.retryable or attempts >= max_attempts:
            row.status, row.last_error = "dead", str(error)[:1000]
            log.warning("notification %s given up: %s", notification_id, error)
        else:
            row.status, row.last_error = "retry", str(error)[:1000]
            row.next_attempt_at = now + backoff(attempts, retry_after=error.retry_after)
        session.commit()
        return row.status


def deliver(
    session_factory: sessionmaker[Session],
    notifier: Notifier,
    *,
    notification_ids: Iterable[int],
    clock: Callable[[], datetime],
    claim_seconds: float = CLAIM_SECONDS,
    max_attempts: int = MAX_ATTEMPTS,
) -> None:
    """A first attempt right after the commit; what fails stays for the relay."""
    for notification_id in notification_ids:
        deliver_one(
            session_factory,
            notifier,
            notification_id=notification_id,
            clock=clock,
            claim_seconds=claim_seconds,
            max_attempts=max_attempts,
        )


def deliver_due(
    session_factory: sessionmaker[Session],
    notifier: Notifier,
    *,
    clock: Callable[[], datetime],
    limit: int = 100,
    claim_seconds: float = CLAIM_SECONDS,
    max_attempts: int = MAX_ATTEMPTS,
    concurrency: int = 1,
) -> int:
    """One pass of the relay: delivers the messages that are due, `concurrency` at a time
    (each claimed alone, so no two threads or relays send one message); returns how many
    were sent."""
    with session_factory() as session:
        ids = repo.due_ids(session, now=clock(), limit=limit)

    def one(notification_id: int) -> bool:
        status = deliver_one(
            session_factory,
            notifier,
            notification_id=notification_id,
            clock=clock,
            claim_seconds=claim_seconds,
            max_attempts=max_attempts,
        )
        return status == "sent"

    if concurrency <= 1 or len(ids) <= 1:
        return sum(one(i) for i in ids)
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="outbox") as pool:
        return sum(pool.map(one, ids))


async def relay_forever(
    session_factory: sessionmaker[Session],
    notifier: Notifier,
    *,
    every: float,
    clock: Callable[[], datetime],
    claim_seconds: float = CLAIM_SECONDS,
    max_attempts: int = MAX_ATTEMPTS,
    concurrency: int = 4,
    batch: int = 100,
) -> None:
    """The worker's relay: delivers due messages every `every` seconds until cancelled (at
    once again when a pass found a full batch: a backlog is drained without pauses)."""
    while True:
        sent = 0
        try:
            sent = await asyncio.to_thread(
                deliver_due,
                session_factory,
                notifier,
                clock=clock,
                limit=batch,
                claim_seconds=claim_seconds,
                max_attempts=max_attempts,
                concurrency=concurrency,
            )
        except Exception:
            log.exception("outbox relay pass failed; trying again in %s s", every)
        if sent < batch:
            await asyncio.sleep(every)


def outbox_backlog(session: Session) -> tuple[int, datetime | None]:
    """How many messages wait to be delivered, and when the oldest of them was written."""
    return repo.backlog(session)


def page_notifications(
    session: Session,
    user: Principal,
    *,
    status: str | None,
    order_id: str | None,
    limit: int,
    offset: int,
) -> tuple[list[Notification], int]:
    """The outbox within the caller's scope, newest first."""
    return repo.page(
        session,
        scope_path=user.scope_path,
        status=status,
        order_id=order_id,
        limit=limit,
        offset=offset,
    )


def retry_notification(
    session: Session, user: Principal, *, notification_id: int, now: datetime
) -> Notification:
    """Sends a given-up (dead) or waiting message again now; one outside the caller's
    scope is unknown to them."""
    row = session.get(Notification, notification_id)
    if row is None or not user.sees(row.org_path or "/"):
        raise NotFound(f"no notification {notification_id}")
    if row.status in ("dead", "retry", "pending"):
        row.status, row.next_attempt_at, row.claimed_until = "pending", now, None
        row.attempts = 0
        session.flush()
    return row


# Who hears of a low score: the managers, and customer care, who call the customer back.
# A user of one of these roles whose scope covers the order's unit: the rule by which the
# call-back task (role customer_care, servflow/customers/data/nps_followup.json) is listed.
LOW_SCORE_ROLES = ("outlet_manager", "region_manager", "customer_care")


def low_score_follow_up(
    session: Session, *, order_id: str, org_path: str, rating: int, comment: str, now: datetime
) -> Notification:
    """Tells the outlet's and region's managers and the order scope's customer care (客服,
    whose call-back task the follow-up order opens) that a customer scored the service
    low, in the transaction of the sign-off (on their WeCom)."""
    recipients = org.usernames_with_roles(
        session, roles=LOW_SCORE_ROLES, scope_path=org_path or "/"
    )
    message = f"客户评分 {rating}/10, 请回访 (工单 {order_id}): {comment[:200] or '无评论'}"
    return enqueue(
        session,
        key=f"nps-follow-up/{order_id}",
        channel="wecom",
        recipients=sorted(set(recipients)),
        message=message,
        now=now,
        order_id=order_id,
        org_path=org_path,
        kind="text",
    )
