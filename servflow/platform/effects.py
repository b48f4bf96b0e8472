"""The once-only guard for activity effects, keyed by idempotency key."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from servflow.platform.models import ActivityEffect
from servflow.platform.sql import insert_ignore


def claim(session: Session, *, idempotency_key: str, activity: str, now: datetime) -> bool:
    """Claims `idempotency_key` for this transaction.

    Run it as the transaction's first statement: the claim is a write, so on SQLite it takes
    the write lock before anything is read, and on PostgreSQL a concurrent claim of the same
    key waits for this transaction and then finds the key taken.

    Returns:
        True when this transaction owns the key and must apply the effect; False when the
        effect was already applied (read it with `stored_result`).
    """
    row = {"idempotency_key": idempotency_key, "activity": activity, "created_at": now}
    return (
        insert_ignore(session, ActivityEffect.__table__, [row], conflict=["idempotency_key"]) == 1  # type: ignore[arg-type]
    )


def stored_result(session: Session, *, idempotency_key: str) -> dict[str, Any] | None:
    return session.scalar(
        select(ActivityEffect.result).where(ActivityEffect.idempotency_key == idempotency_key)
    )


def save_result(session: Session, *, idempotency_key: str, result: dict[str, Any]) -> None:
    session.execute(
        update(ActivityEffect)
        .where(ActivityEffect.idempotency_key == idempotency_key)
        .values(result=result)
    )
