"""The reason of a pause is kept on the clock while it is paused, and cleared on resume."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from servflow.sla import service as sla
from servflow.sla.models import SlaClock
from workflows.business_time import ROUND_THE_CLOCK
from workflows.contracts import SlaClockParams

START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def clock() -> SlaClock:
    row = SlaClock(
        order_id="o-1",
        node_id="repair",
        visit=1,
        calendar=ROUND_THE_CLOCK.model_dump(mode="json"),
        target_seconds=7200,
        ladder=[],
        fired=[],
        started_at=START,
        paused_seconds=0,
    )
    sla.place_moments(row)
    return row


def event(kind: str, minutes: int, reason: str = "") -> SlaClockParams:
    return SlaClockParams(
        event=kind,  # type: ignore[arg-type]
        at=START + timedelta(minutes=minutes),
        within="PT2H",
        reason=reason,
    )


def test_a_pause_stores_its_reason_and_a_resume_clears_it() -> None:
    row = clock()
    assert row.pause_reason is None
    sla.apply_event(row, event("pause", 10, "  等配件 "))
    assert row.paused_at is not None and row.pause_reason == "等配件"
    # A repeated pause (another phone, a retry) keeps the pause in force and its reason.
    sla.apply_event(row, event("pause", 20, "等客户"))
    assert row.pause_reason == "等配件"
    sla.apply_event(row, event("resume", 30))
    assert row.paused_at is None and row.pause_reason is None and row.deadline is not None
    sla.apply_event(row, event("pause", 40))
    assert row.paused_at is not None and row.pause_reason is None


def test_a_reason_longer_than_the_column_is_cut_to_it() -> None:
    row = clock()
    sla.apply_event(row, event("pause", 10, "x" * 500))
    assert row.pause_reason == "x" * 200


def test_the_phone_reads_a_steps_sla_from_its_stored_clock(session: Session) -> None:
    """A business clock not yet stored is starting (not paused); a paused one gives its
    reason; a plain timer cannot pause and shows the order's deadline; no sla, no card."""
    business = {"within": "PT2H", "clock": "business"}

    def read(node_sla: dict[str, Any] | None, timer: datetime | None = None) -> Any:
        return sla.step_sla(
            session,
            order_id="o-1",
            node_id="repair",
            visit=1,
            node_sla=node_sla,
            timer_deadline=timer,
        )

    starting = read(business)
    assert starting is not None
    assert (starting.deadline, starting.paused, starting.can_pause) == (None, False, True)
    row = clock()
    row.org_path = "/hq"
    session.add(row)
    session.flush()
    running = read({"within": "PT2H", "policy": "onsite"})
    assert running is not None and running.deadline == row.deadline and not running.paused
    sla.apply_event(row, event("pause", 10, "等客户"))
    session.flush()
    paused = read(business)
    assert paused is not None
    assert (paused.deadline, paused.paused, paused.pause_reason) == (None, True, "等客户")
    timer = read({"within": "PT2H"}, START)
    assert timer is not None
    assert (timer.deadline, timer.paused, timer.can_pause) == (START, False, False)
    assert read(None) is None
