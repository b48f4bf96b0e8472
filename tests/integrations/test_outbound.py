"""Status changes go back to the marketplace through the outbound queue: once per order
and milestone, retried with backoff when the marketplace fails."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from servflow.integrations.marketplaces import service
from servflow.integrations.models import InboundMessage, OutboundUpdate
from servflow.orders.models import WorkOrder, WorkOrderStep
from tests.world import NOW


class Marketplace:
    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.told: list[tuple] = []

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


def step(session, order_id: str, node_type: str) -> WorkOrderStep:
    row = WorkOrderStep(
        order_id=order_id, node_id=node_type, visit=1, node_type=node_type, started_at=NOW
    )
    session.add(row)
    session.flush()
    return row


def queued(session) -> list[tuple[str, str, dict]]:
    updates = session.scalars(select(OutboundUpdate).order_by(OutboundUpdate.id)).all()
    return [(u.external_order_id, u.status, u.payload) for u in updates]


def test_each_milestone_an_order_reaches_is_queued_back_once(session):
    made_order(session, order_id="douyin-1", status="running", external="1")
    assert service.queue_progress(session, now=NOW) == 0  # made, nothing new yet

    service_step = step(session, "douyin-1", "service")  # an engineer is on it
    assert service.queue_progress(session, now=NOW) == 1
    service_step.completed_at = NOW
    step(session, "douyin-1", "signoff")
    assert service.queue_progress(session, now=NOW) == 1
    session.scalars(select(WorkOrder)).one().status = "completed"
    session.flush()
    assert service.queue_progress(session, now=NOW) == 1
    assert service.queue_progress(session, now=NOW) == 0

    assert queued(session) == [
        ("1", "dispatched", {}),
        ("1", "serviced", {}),
        ("1", "completed", {"outcome": "completed"}),
    ]


def test_a_cancelled_order_is_queued_back_with_its_outcome(session):
    made_order(session, order_id="douyin-2", status="failed", external="2")
    made_order(session, order_id="douyin-3", status="running", external="3")
    assert service.queue_progress(session, now=NOW) == 1
    assert queued(session) == [("2", "cancelled", {"outcome": "failed"})]


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
