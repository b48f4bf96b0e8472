"""Business time: working hours, holidays and make-up workdays, as data and pure functions.

A `BusinessCalendar` is plain data (servflow.sla stores one per scope): the weekly working
hours in the calendar's own time zone, the dates that are days off whatever the weekday
(public holidays) and the dates worked although they fall on a day off (make-up workdays,
调休; worked with Monday's hours). `add_business_time` and `business_time_between` are pure:
no clock, no I/O, the same answer for the same input, so a workflow or an activity may use
them alike.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from itertools import pairwise
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

_HHMM = r"^(?:[01]\d|2[0-3]):[0-5]\d$|^24:00$"
MAX_SEARCH_DAYS = 3 * 366
"""How far ahead a deadline is searched for; a calendar with no working time that soon is
refused rather than searched for ever."""


class WorkingHours(BaseModel):
    """One daily window of working time on the given ISO weekdays (1 = Monday … 7 = Sunday).

    `end` may be "24:00" (to midnight); a window never crosses midnight.
    """

    model_config = ConfigDict(extra="forbid")

    days: list[int] = Field(min_length=1, max_length=7)
    start: str = Field(pattern=_HHMM, examples=["08:00"])
    end: str = Field(pattern=_HHMM, examples=["20:00"])

    @field_validator("days")
    @classmethod
    def _weekdays(cls, days: list[int]) -> list[int]:
        if any(d < 1 or d > 7 for d in days):
            raise ValueError("days are ISO weekdays, 1 (Monday) to 7 (Sunday)")
        return sorted(set(days))

    @model_validator(mode="after")
    def _ordered(self) -> WorkingHours:
        if _minutes(self.start) >= _minutes(self.end):
            raise ValueError(f"start {self.start} must be before end {self.end}")
        return self


class BusinessCalendar(BaseModel):
    """When the clock of an SLA runs: working hours in `timezone`, minus `holidays`, plus
    `workdays` (make-up days worked with Monday's hours)."""

    model_config = ConfigDict(extra="forbid")

    timezone: str = Field(default="Asia/Shanghai", max_length=64)
    hours: list[WorkingHours] = Field(min_length=1, max_length=21)
    holidays: list[date] = Field(default_factory=list, max_length=2000)
    workdays: list[date] = Field(default_factory=list, max_length=2000)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, name: str) -> str:
        try:
            _zone(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone '{name}' (use an IANA name)") from None
        return name

    @model_validator(mode="after")
    def _no_overlap(self) -> BusinessCalendar:
        for day in range(1, 8):
            spans = sorted(
                (_minutes(h.start), _minutes(h.end)) for h in self.hours if day in h.days
            )
            for (_, end), (start, _) in pairwise(spans):
                if start < end:
                    raise ValueError(f"working hours overlap on ISO weekday {day}")
        return self

    def windows(self, day: date) -> list[tuple[int, int]]:
        """The working windows of `day` as minutes after local midnight."""
        if day in self._holidays():
            return []
        weekday = 1 if day in self._workdays() else day.isoweekday()
        return sorted((_minutes(h.start), _minutes(h.end)) for h in self.hours if weekday in h.days)

    def _holidays(self) -> frozenset[date]:
        return _frozen(tuple(self.holidays))

    def _workdays(self) -> frozenset[date]:
        return _frozen(tuple(self.workdays))


@lru_cache(maxsize=256)
def _frozen(days: tuple[date, ...]) -> frozenset[date]:
    return frozenset(days)


@lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def _minutes(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


def _intervals(calendar: BusinessCalendar, day: date) -> list[tuple[datetime, datetime]]:
    """`day`'s working windows as aware UTC intervals."""
    zone = _zone(calendar.timezone)
    midnight = datetime.combine(day, time(0), tzinfo=zone)
    out = []
    for start, end in calendar.windows(day):
        begin = (midnight + timedelta(minutes=start)).replace(tzinfo=None)
        finish = (midnight + timedelta(minutes=end)).replace(tzinfo=None)
        out.append(
            (
                begin.replace(tzinfo=zone).astimezone(UTC),
                finish.replace(tzinfo=zone).astimezone(UTC),
            )
        )
    return out


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("business time needs an aware datetime")
    return moment.astimezone(UTC)


def add_business_time(start: datetime, span: timedelta, calendar: BusinessCalendar) -> datetime:
    """The moment `span` of working time after `start` (UTC).

    A zero span from outside working hours is `start` itself. Raises ValueError when the
    calendar has no working time for MAX_SEARCH_DAYS.
    """
    moment = _aware(start)
    left = span
    if left <= timedelta(0):
        return moment
    day = moment.astimezone(_zone(calendar.timezone)).date() - timedelta(days=1)
    for _ in range(MAX_SEARCH_DAYS):
        for begin, end in _intervals(calendar, day):
            if end <= moment:
                continue
            begin = max(begin, moment)
            if end - begin >= left:
                return begin + left
            left -= end - begin
        day += timedelta(days=1)
    raise ValueError(f"no working time within {MAX_SEARCH_DAYS} days of {start.isoformat()}")


def business_time_between(start: datetime, end: datetime, calendar: BusinessCalendar) -> timedelta:
    """The working time from `start` to `end` (zero when `end` is not after `start`)."""
    first, last = _aware(start), _aware(end)
    total = timedelta(0)
    if last <= first:
        return total
    zone = _zone(calendar.timezone)
    day = first.astimezone(zone).date() - timedelta(days=1)
    final = last.astimezone(zone).date() + timedelta(days=1)
    while day <= final:
        for begin, finish in _intervals(calendar, day):
            overlap = min(finish, last) - max(begin, first)
            if overlap > timedelta(0):
                total += overlap
        day += timedelta(days=1)
    return total


SEVEN_BY_TWELVE = BusinessCalendar(
    hours=[WorkingHours(days=[1, 2, 3, 4, 5, 6, 7], start="08:00", end="20:00")]
)
"""Every day 08:00-20:00 China time, no holidays: the usual '7×12' service promise."""
ROUND_THE_CLOCK = BusinessCalendar(
    timezone="UTC", hours=[WorkingHours(days=[1, 2, 3, 4, 5, 6, 7], start="00:00", end="24:00")]
)
"""Wall-clock time: what an SLA without a calendar counts."""
