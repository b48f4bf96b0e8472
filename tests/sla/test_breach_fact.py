"""Settlement's `sla_breached` fact comes from the order's business-time clocks."""

from datetime import UTC, datetime, timedelta

from servflow.sla.models import SlaClock
from servflow.sla.service import order_breached

T0 = datetime(2026, 11, 6, 8, 0, tzinfo=UTC)


def clock(order_id: str, node_id: str, *, deadline: datetime | None, closed_at=None) -> SlaClock:
    return SlaClock(
        order_id=order_id,
        node_id=node_id,
        visit=1,
        org_path="/hq/huabei/bj-001",
        calendar={},
        target_seconds=7200,
        started_at=T0,
        deadline=deadline,
        closed_at=closed_at,
    )


def test_a_step_closed_after_its_deadline_counts_as_breached(session):
    session.add(
        clock(
            "o-late", "service", deadline=T0 + timedelta(hours=2), closed_at=T0 + timedelta(hours=3)
        )
    )
    session.flush()
    assert order_breached(session, order_id="o-late", now=T0 + timedelta(hours=4)) is True


def test_steps_closed_in_time_or_paused_do_not_count(session):
    session.add_all(
        [
            clock(
                "o-ok",
                "service",
                deadline=T0 + timedelta(hours=2),
                closed_at=T0 + timedelta(hours=1),
            ),
            clock("o-ok", "signoff", deadline=None),  # paused: no deadline while it waits
        ]
    )
    session.flush()
    assert order_breached(session, order_id="o-ok", now=T0 + timedelta(days=3)) is False


def test_an_open_step_counts_once_its_deadline_has_passed(session):
    session.add(clock("o-open", "service", deadline=T0 + timedelta(hours=2)))
    session.flush()
    assert order_breached(session, order_id="o-open", now=T0 + timedelta(hours=1)) is False
    assert order_breached(session, order_id="o-open", now=T0 + timedelta(hours=3)) is True
    assert order_breached(session, order_id="another", now=T0 + timedelta(hours=3)) is False
