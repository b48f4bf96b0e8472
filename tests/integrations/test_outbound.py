"""Status changes go back to the marketplace through the outbound queue: once per order
and status, retried with backoff when the marketplace fails."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from servflow.integrations.marketplaces import service
from servflow.integrations.models import InboundMessage, OutboundUpdate
from servflow.orders.models import WorkOrder
from tests.world import NOW


class Marketplace:
    def __init__(self, failures: int = 0) -> None:
        self.failures, self.told = failures, []

    def update_status(self, update):
        if self.failures:
            self.failures -= 1
            raise ConnectionError("marketplace down")
        self.told.append((update.external_order_id, update.status, dict(update.payload)))


def made_order(session, *, order_id: str, status: str, external: str) -> None:
    session.add(WorkOrder(order_id=order_id, status=status, definition_key="installation"))
    session.add(
        InboundMessage(
            platform="douyin",
            msg_id=f"m-{external}",
            tag="101",
            external_order_id=external,
            sealed_body="x",
            status="done",
            order_id=order_id,
        )
    )
    session.flush()


def test_a_closed_order_is_queued_back_once_and_an_open_one_not_yet(session):
    made_order(session, order_id="douyin-1", status="completed", external="1")
    made_order(session, order_id="douyin-2", status="running", external="2")
    assert service.queue_closed(session, now=NOW) == 1
    assert service.queue_closed(session, now=NOW) == 0
    updates = session.scalars(select(OutboundUpdate)).all()
    assert [(u.external_order_id, u.status, u.payload) for u in updates] == [
        ("1", "closed", {"outcome": "completed"})
    ]


def test_a_failed_writeback_is_retried_after_its_backoff(session_factory):
    with session_factory() as session:
        service.enqueue_status(
            session,
            platform="douyin",
            external_order_id="9",
            order_id="douyin-9",
            status="accepted",
            now=NOW,
        )
        session.commit()
    market = Marketplace(failures=1)
    clock = [NOW]
    assert (
        service.deliver_outbound(session_factory, {"douyin": market}, clock=lambda: clock[0]) == 0
    )
    assert (
        service.deliver_outbound(session_factory, {"douyin": market}, clock=lambda: clock[0]) == 0
    )
    clock[0] += timedelta(seconds=3)
    assert (
        service.deliver_outbound(session_factory, {"douyin": market}, clock=lambda: clock[0]) == 1
    )
    assert market.told == [("9", "accepted", {})]
    with session_factory() as session:
        update = session.scalars(select(OutboundUpdate)).one()
        assert (update.state, update.attempts, update.last_error) == ("sent", 2, "")
