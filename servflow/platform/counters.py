"""Named counters (e.g. the daily order-number sequence), portable across backends."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.orm import Session

from servflow.platform.models import Counter
from servflow.platform.sql import insert_ignore


def next_value(session: Session, *, name: str) -> int:
    """Increments and returns the counter `name` (starting at 1) inside the caller's transaction."""
    insert_ignore(session, Counter.__table__, [{"name": name, "value": 0}], conflict=["name"])  # type: ignore[arg-type]
    return int(
        session.execute(
            update(Counter)
            .where(Counter.name == name)
            .values(value=Counter.value + 1)
            .returning(Counter.value)
        ).scalar_one()
    )
