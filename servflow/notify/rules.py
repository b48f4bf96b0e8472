"""Notification texts (pure)."""

from __future__ import annotations

import re
from typing import Any

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def render_message(template: str, values: dict[str, Any]) -> str:
    """Replaces `{name}` with `values[name]`; unknown names stay as written (no format())."""
    return _PLACEHOLDER.sub(lambda m: str(values.get(m.group(1), m.group(0))), template)
