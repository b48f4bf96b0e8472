"""Notification texts and delivery timing (pure)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")

BACKOFF_BASE_SECONDS = 2.0
BACKOFF_CAP_SECONDS = 600.0


def render_message(template: str, values: dict[str, Any]) -> str:
    """Replaces `{name}` with `values[name]`; unknown names stay as written (no format())."""
    return _PLACEHOLDER.sub(lambda m: str(values.get(m.group(1), m.group(0))), template)


def backoff(attempts: int, *, retry_after: float | None = None) -> timedelta:
    """How long to wait before attempt `attempts + 1`: doubling from 2 s, capped at 10 min;
    at least what the receiver asked for (`retry_after`, e.g. a robot's rate limit)."""
    wait = min(BACKOFF_BASE_SECONDS * 2 ** max(attempts - 1, 0), BACKOFF_CAP_SECONDS)
    return timedelta(seconds=max(wait, retry_after or 0.0))


def is_escalation(idempotency_key: str) -> bool:
    """An SLA breach's notice (the interpreter keys it `<order>/<node>/<visit>/sla`)."""
    return idempotency_key.endswith("/sla")
