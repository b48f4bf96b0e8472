"""The integrations' queries."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from servflow.integrations.models import InboundMessage, OutboundUpdate, WecomCard
from servflow.platform.scope import under
from servflow.platform.sql import insert_ignore


def insert_card_once(session: Session, *, row: dict[str, Any]) -> None:
    insert_ignore(session, WecomCard.__table__, [row], conflict=["task_id"])  # type: ignore[arg-type]


def get_card(session: Session, *, task_id: str) -> WecomCard | None:
    return session.scalar(select(WecomCard).where(WecomCard.task_id == task_id))


def set_response_code(session: Session, *, task_id: str, response_code: str) -> None:
    session.execute(
        update(WecomCard).where(WecomCard.task_id == task_id).values(response_code=response_code)
    )


def take_click(
    session: Session, *, task_id: str, status: str, response_code: str, now: datetime
) -> bool:
    """The first click on a card wins: True only for the call that moved it from sent."""
    values: dict[str, Any] = {"status": status, "clicked_at": now}
    if response_code:
        values["response_code"] = response_code
    result = session.execute(
        update(WecomCard)
        .where(WecomCard.task_id == task_id, WecomCard.status == "sent")
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0) == 1)


def cards_of_order(session: Session, *, order_id: str, scope_path: str) -> list[WecomCard]:
    return list(
        session.scalars(
            select(WecomCard)
            .where(WecomCard.order_id == order_id, under(WecomCard.org_path, scope_path))
            .order_by(WecomCard.id)
        )
    )


def insert_inbound_once(session: Session, *, row: dict[str, Any]) -> bool:
    """Stores a marketplace message unless one with its (platform, msg_id) is stored."""
    table = InboundMessage.__table__
    return insert_ignore(session, table, [row], conflict=["platform", "msg_id"]) == 1  # type: ignore[arg-type]


def inbound_ids(session: Session, *, statuses: tuple[str, ...], limit: int) -> list[int]:
    return list(
        session.scalars(
            select(InboundMessage.id)
            .where(InboundMessage.status.in_(statuses))
            .order_by(InboundMessage.id)
            .limit(limit)
        )
    )


def claim_inbound(session: Session, *, message_id: int) -> InboundMessage | None:
    """The message, locked for this processor on PostgreSQL (SKIP LOCKED: another
    processor moves on); None when someone else holds it or it is done."""
    statement = select(InboundMessage).where(
        InboundMessage.id == message_id, InboundMessage.status == "received"
    )
    if session.get_bind().dialect.name == "postgresql":
        statement = statement.with_for_update(skip_locked=True)
    return session.scalar(statement)


def inbound_of(session: Session, *, platform: str, msg_id: str) -> InboundMessage | None:
    return session.scalar(
        select(InboundMessage).where(
            InboundMessage.platform == platform, InboundMessage.msg_id == msg_id
        )
    )


def insert_outbound_once(session: Session, *, row: dict[str, Any]) -> bool:
    table = OutboundUpdate.__table__
    return insert_ignore(session, table, [row], conflict=["idempotency_key"]) == 1  # type: ignore[arg-type]


def _due(now: datetime) -> Any:
    return OutboundUpdate.state.in_(("pending", "retry")) & (
        OutboundUpdate.next_attempt_at.is_(None) | (OutboundUpdate.next_attempt_at <= now)
    )


def due_outbound_ids(session: Session, *, now: datetime, limit: int) -> list[int]:
    return list(
        session.scalars(
            select(OutboundUpdate.id).where(_due(now)).order_by(OutboundUpdate.id).limit(limit)
        )
    )


def claim_outbound(session: Session, *, update_id: int, now: datetime) -> OutboundUpdate | None:
    """The writeback if still due, locked for this relay on PostgreSQL (SKIP LOCKED:
    another relay sending it is skipped); None otherwise."""
    statement = select(OutboundUpdate).where(OutboundUpdate.id == update_id, _due(now))
    if session.get_bind().dialect.name == "postgresql":
        statement = statement.with_for_update(skip_locked=True)
    return session.scalar(statement)


def outbound_rows(
    session: Session, *, state: str | None, order_id: str | None, before_id: int, limit: int
) -> list[OutboundUpdate]:
    """Writebacks newest first, below `before_id` (0: from the newest)."""
    query = select(OutboundUpdate)
    if state:
        query = query.where(OutboundUpdate.state == state)
    if order_id:
        query = query.where(OutboundUpdate.order_id == order_id)
    if before_id:
        query = query.where(OutboundUpdate.id < before_id)
    return list(session.scalars(query.order_by(OutboundUpdate.id.desc()).limit(limit)))


def made_orders_without(
    session: Session, *, statuses: tuple[str, ...], limit: int
) -> list[InboundMessage]:
    """Messages that made an order none of whose `statuses` has been queued back yet."""
    queued = select(OutboundUpdate.id).where(
        OutboundUpdate.platform == InboundMessage.platform,
        OutboundUpdate.external_order_id == InboundMessage.external_order_id,
        OutboundUpdate.status.in_(statuses),
    )
    return list(
        session.scalars(
            select(InboundMessage)
            .where(InboundMessage.status == "done", InboundMessage.order_id != "", ~queued.exists())
            .order_by(InboundMessage.id)
            .limit(limit)
        )
    )


def unapplied_cards(session: Session, *, clicked_before: datetime, limit: int) -> list[WecomCard]:
    """Cards clicked but never applied (the API died between answering and applying)."""
    return list(
        session.scalars(
            select(WecomCard)
            .where(
                WecomCard.status.in_(("accepted", "declined")),
                WecomCard.applied == "",
                WecomCard.clicked_at < clicked_before,
            )
            .order_by(WecomCard.id)
            .limit(limit)
        )
    )
