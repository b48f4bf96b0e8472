"""Business time as pure functions: working hours, holidays, make-up days, time zones."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from servflow.sla import service
from servflow.sla.rules import mainland_days_off
from tests.world import make_step
from workflows.business_time import (
    SEVEN_BY_TWELVE,
    BusinessCalendar,
    WorkingHours,
    add_business_time,
    business_time_between,
)
from workflows.contracts import SlaClockParams

SHANGHAI = ZoneInfo("Asia/Shanghai")
FIVE_BY_EIGHT = [WorkingHours(days=[1, 2, 3, 4, 5], start="09:00", end="18:00")]


def local(
    year: int, month: int, day: int, hour: int, minute: int, zone: ZoneInfo = SHANGHAI
) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=zone)


def test_friday_evening_under_7x12_is_due_saturday_morning() -> None:
    reported = local(2026, 12, 4, 19, 50)  # a Friday
    due = add_business_time(reported, timedelta(hours=2), SEVEN_BY_TWELVE)
    assert due == local(2026, 12, 5, 9, 50)
    assert business_time_between(reported, due, SEVEN_BY_TWELVE) == timedelta(hours=2)


def test_reported_before_opening_starts_counting_at_opening() -> None:
    due = add_business_time(local(2026, 12, 4, 3, 0), timedelta(hours=2), SEVEN_BY_TWELVE)
    assert due == local(2026, 12, 4, 10, 0)


def test_national_day_is_skipped_with_the_mainland_holidays() -> None:
    holidays, workdays = mainland_days_off(2026, 2026)
    calendar = SEVEN_BY_TWELVE.model_copy(update={"holidays": holidays, "workdays": workdays})
    due = add_business_time(local(2026, 9, 30, 19, 0), timedelta(hours=2), calendar)
    assert due == local(2026, 10, 8, 9, 0)  # 1 h on 30 Sep, then 1 h after the holiday


def test_a_make_up_workday_is_worked_and_a_weekend_is_not() -> None:
    holidays, workdays = mainland_days_off(2026, 2026)
    office = BusinessCalendar(hours=FIVE_BY_EIGHT, holidays=holidays, workdays=workdays)
    assert date(2026, 9, 20) in workdays  # a Sunday worked before National Day
    due = add_business_time(local(2026, 9, 18, 17, 0), timedelta(hours=2), office)
    assert due == local(2026, 9, 20, 10, 0)  # Friday 1 h, Saturday off, Sunday worked
    plain = BusinessCalendar(hours=FIVE_BY_EIGHT)
    assert add_business_time(local(2026, 9, 18, 17, 0), timedelta(hours=2), plain) == local(
        2026, 9, 21, 10, 0
    )


def test_an_overseas_calendar_counts_in_its_own_zone_across_dst() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    calendar = BusinessCalendar(timezone="Europe/Berlin", hours=FIVE_BY_EIGHT)
    # Friday 24 Oct 2025 17:00 CEST; clocks go back on Sunday 26 Oct.
    due = add_business_time(local(2025, 10, 24, 17, 0, zone=berlin), timedelta(hours=3), calendar)
    assert due == local(2025, 10, 27, 11, 0, zone=berlin)
    assert due.utcoffset() == timedelta(0) and due.tzinfo == UTC  # answered in UTC


def test_calendars_refuse_what_cannot_be_counted() -> None:
    with pytest.raises(ValidationError, match="time zone"):
        BusinessCalendar(timezone="Mars/Olympus", hours=FIVE_BY_EIGHT)
    with pytest.raises(ValidationError, match="before end"):
        WorkingHours(days=[1], start="20:00", end="08:00")
    with pytest.raises(ValidationError, match="overlap"):
        BusinessCalendar(
            hours=[
                WorkingHours(days=[1], start="08:00", end="12:00"),
                WorkingHours(days=[1], start="11:00", end="13:00"),
            ]
        )
    closed = BusinessCalendar(hours=[WorkingHours(days=[1], start="08:00", end="09:00")])
    closed = closed.model_copy(
        update={"holidays": [date(2026, 12, 7) + timedelta(weeks=w) for w in range(200)]}
    )
    with pytest.raises(ValueError, match="no working time"):
        add_business_time(local(2026, 12, 4, 8, 0), timedelta(hours=2), closed)


def test_a_clock_on_a_calendar_without_working_time_counts_wall_time() -> None:
    closed = BusinessCalendar(hours=[WorkingHours(days=[1], start="08:00", end="09:00")])
    closed = closed.model_copy(
        update={"holidays": [date(2026, 12, 7) + timedelta(weeks=w) for w in range(200)]}
    )
    step = make_step("task:sla-start-1", node_id="task")
    at = datetime(2026, 12, 4, 8, 0, tzinfo=UTC)
    params = SlaClockParams(event="start", at=at, within="PT2H")
    terms, _ = service.terms_for(step, params, None)
    clock = service.new_clock(
        step, params, terms=terms, calendar_key="closed", calendar=closed, org_path="/hq", region=""
    )
    assert clock.deadline == at + timedelta(hours=2)
