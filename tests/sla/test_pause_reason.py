"""The reason of a pause is kept on the clock while it is paused, and cleared on resume."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

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
