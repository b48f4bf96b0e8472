"""ISO-8601 durations (`PT4H`, `P2D`, `P1DT12H`) as used by SLAs and timers."""

from __future__ import annotations

import re
from datetime import timedelta

_DURATION = re.compile(
    r"^P(?!$)(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?=\d)(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?$"
)


def parse_duration(text: str) -> timedelta:
    """Parse an ISO-8601 duration of weeks, days, hours, minutes and seconds.

    Years and months are refused: their length depends on the calendar, and an SLA must
    mean the same span on every order.

    Raises:
        ValueError: with a message that shows the accepted form.
    """
    match = _DURATION.match(text.strip()) if isinstance(text, str) else None
    if not match:
        raise ValueError(
            f"'{text}' is not an ISO-8601 duration such as PT30M, PT4H, P2D or P1DT12H "
            "(years and months are not allowed)"
        )
    parts = {k: float(v) for k, v in match.groupdict().items() if v}
    value = timedelta(**parts)
    if value <= timedelta(0):
        raise ValueError(f"'{text}' must be longer than zero")
    return value
