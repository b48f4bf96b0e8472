"""notify: write the message to the outbox, then hand it to the notifier."""

from __future__ import annotations

import logging
import re
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, joinedload

from activities.common import ActivityDeps, run_step
from servflow.dispatch.models import Engineer
from servflow.notify.models import Notification
from servflow.notify.notifier import OutgoingMessage
from servflow.orders.models import WorkOrder
from servflow.org import repo as org
from servflow.org.models import AppUser
from workflows.contracts import StepInput, StepResult
from workflows.nodes.automatic import NotifyParams

log = logging.getLogger(__name__)
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def render_message(template: str, values: dict[str, Any]) -> str:
    """Replaces `{name}` with `values[name]`; unknown names stay as written (no format())."""
    return _PLACEHOLDER.sub(lambda m: str(values.get(m.group(1), m.group(0))), template)


def _recipients(session: Session, params: NotifyParams, order: WorkOrder) -> list[str]:
    names: list[str] = []
    if params.to_roles:
        users = session.scalars(
            select(AppUser).options(joinedload(AppUser.org_unit)).where(AppUser.is_active)
        ).all()
        for user in users:
            if not set(user.roles) & set(params.to_roles) or user.org_unit is None:
                continue
            if order.org_path and org.in_scope(order.org_path, user.org_unit.path):
                names.append(user.username)
    if params.to_assignee and order.current_engineer_id is not None:
        engineer = session.get(Engineer, order.current_engineer_id)
        if engineer is not None and engineer.user is not None:
            names.append(engineer.user.username)
    return sorted(set(names))


def notify_effect(session: Session, step: StepInput, now: datetime, order: WorkOrder) -> StepResult:
    params = NotifyParams.model_validate(step.params)
    values: dict[str, Any] = {
        k: v for k, v in step.variables.items() if isinstance(v, str | int | float)
    }
    values |= {
        "order_id": step.order_id,
        "order_no": order.order_no or step.order_id,
        "node_id": step.node_id,
        "status": step.status,
        "region": order.region,
        "fault": order.fault,
    }
    recipients = _recipients(session, params, order)
    row = Notification(
        order_id=step.order_id,
        channel=params.channel,
        recipients=recipients,
        message=render_message(params.message, values),
        idempotency_key=step.idempotency_key,
        created_at=now,
    )
    session.add(row)
    session.flush()
    who = ", ".join(recipients) if recipients else "无收件人"
    return StepResult(
        output={"notification_id": row.id, "recipients": recipients, "channel": params.channel},
        summary=f"通知 ({params.channel}) 已写入发件箱: {who}",
    )


def notify(deps: ActivityDeps, step: StepInput) -> StepResult:
    result, applied = run_step(deps, step, activity="notify", effect=notify_effect)
    if applied:
        _deliver(deps, step, result)
    return result


def _deliver(deps: ActivityDeps, step: StepInput, result: StepResult) -> None:
    """Best-effort delivery after commit; an unsent row stays in the outbox for a relay."""
    with deps.session_factory() as session:
        row = session.get(Notification, result.output["notification_id"])
        if row is None:
            return
        message = OutgoingMessage(
            notification_id=row.id,
            channel=row.channel,
            recipients=tuple(row.recipients),
            message=row.message,
            order_id=step.order_id,
        )
        try:
            deps.notifier.send(message)
        except Exception:
            log.exception("notification %s not delivered; left in the outbox", row.id)
            return
        session.execute(
            update(Notification).where(Notification.id == row.id).values(sent_at=deps.clock())
        )
        session.commit()
