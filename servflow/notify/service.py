"""Notify use cases: write a message to the outbox with the effect that caused it, then
hand it to the notifier."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from servflow.dispatch import service as dispatch
from servflow.notify.models import Notification
from servflow.notify.notifier import Notifier, OutgoingMessage
from servflow.notify.rules import render_message
from servflow.org import service as org
from servflow.platform.effects import OrderFacts, StepOutcome
from workflows.contracts import StepInput, StepResult
from workflows.nodes.automatic import NotifyParams

log = logging.getLogger(__name__)


def _recipients(session: Session, params: NotifyParams, facts: OrderFacts) -> list[str]:
    names: list[str] = []
    if params.to_roles and facts.org_path:
        names += org.usernames_with_roles(session, roles=params.to_roles, scope_path=facts.org_path)
    if params.to_assignee:
        engineer = dispatch.engineer_of(session, engineer_id=facts.engineer_id)
        if engineer is not None and engineer.user is not None:
            names.append(engineer.user.username)
    return sorted(set(names))


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


def notify(session: Session, step: StepInput, now: datetime, facts: OrderFacts) -> StepOutcome:
    """Writes the node's message, rendered with the order's values, to the outbox; a test
    run's is rendered and shown but neither written nor sent."""
    params = NotifyParams.model_validate(step.params)
    recipients = _recipients(session, params, facts)
    message = render_message(params.message, _values(step, facts))
    if step.sandbox:
        if params.to_assignee:
            recipients = sorted({*recipients, *_simulated_assignee(step)})
        output = {"recipients": recipients, "channel": params.channel, "message": message}
        return StepOutcome(
            result=StepResult(
                output={**output, "notification_id": None, "sandbox": True},
                summary=f"模拟通知 ({params.channel}), 未发送: {_who(recipients)}",
            )
        )
    row = Notification(
        order_id=step.order_id,
        channel=params.channel,
        recipients=recipients,
        message=message,
        idempotency_key=step.idempotency_key,
        created_at=now,
    )
    session.add(row)
    session.flush()
    result = StepResult(
        output={"notification_id": row.id, "recipients": recipients, "channel": params.channel},
        summary=f"通知 ({params.channel}) 已写入发件箱: {_who(recipients)}",
    )
    return StepOutcome(result=result)


def deliver(
    session_factory: sessionmaker[Session],
    notifier: Notifier,
    *,
    notification_id: int,
    clock: Callable[[], datetime],
) -> None:
    """Best-effort delivery after commit; an unsent row stays in the outbox for a relay."""
    with session_factory() as session:
        row = session.get(Notification, notification_id)
        if row is None:
            return
        message = OutgoingMessage(
            notification_id=row.id,
            channel=row.channel,
            recipients=tuple(row.recipients),
            message=row.message,
            order_id=row.order_id or "",
        )
        try:
            notifier.send(message)
        except Exception:
            log.exception("notification %s not delivered; left in the outbox", row.id)
            return
        row.sent_at = clock()
        session.commit()


def outbox_backlog(session: Session) -> tuple[int, datetime | None]:
    """How many messages wait to be delivered, and when the oldest of them was written."""
    unsent, oldest = session.execute(
        select(func.count(), func.min(Notification.created_at)).where(
            Notification.sent_at.is_(None)
        )
    ).one()
    return int(unsent), oldest
