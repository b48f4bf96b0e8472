"""Step effects: the once-only guard keyed by idempotency key, and the contract between the
step runner (servflow.orders.steps) and the domains whose services apply an automatic step:
an effect reads `OrderFacts`, does its work in the runner's transaction and answers a
`StepOutcome` whose `OrderChanges` the orders domain writes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from servflow.platform.models import ActivityEffect
from servflow.platform.sql import insert_ignore
from workflows.contracts import StepInput, StepResult


@dataclass(frozen=True)
class OrderFacts:
    """What a step's effect may read of its order: a copy of the read-model row."""

    order_id: str
    order_no: str | None = None
    region: str = ""
    org_path: str = ""
    outlet_id: int | None = None
    customer_id: int | None = None
    engineer_id: int | None = None
    fault: str = ""


@dataclass(frozen=True)
class OrderChanges:
    """What a step's effect tells its order; None leaves a column as it is. The orders
    domain writes them (the one writer of an order row)."""

    org_path: str | None = None
    outlet_id: int | None = None
    region: str | None = None
    customer_id: int | None = None
    fault: str | None = None
    engineer_id: int | None = None
    order_no: str | None = None
    priority: int | None = None  # 1 (most urgent) to 5: an SLA level that raises it

    def columns(self) -> dict[str, Any]:
        """The read-model columns to set (engineer_id is `current_engineer_id` there)."""
        values = {
            "org_path": self.org_path,
            "outlet_id": self.outlet_id,
            "region": self.region,
            "customer_id": self.customer_id,
            "fault": self.fault,
            "current_engineer_id": self.engineer_id,
            "order_no": self.order_no,
            "priority": self.priority,
        }
        return {name: value for name, value in values.items() if value is not None}


@dataclass(frozen=True)
class StepOutcome:
    """An effect's answer: the step's result and what changes on its order."""

    result: StepResult
    changes: OrderChanges = field(default_factory=OrderChanges)


Effect = Callable[[Session, StepInput, datetime, OrderFacts], StepOutcome]


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
