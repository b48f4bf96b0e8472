"""What every activity shares: its injected dependencies, and business failures as
non-retryable Temporal errors."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, ParamSpec, TypeVar

from temporalio.exceptions import ApplicationError

from servflow.billing.rules import ENGINEER_SHARE, SETTLEMENT_CEILING
from servflow.notify.notifier import LoggingNotifier, Notifier
from servflow.platform.base import utcnow
from servflow.platform.errors import BusinessRuleViolation
from workflows.constants import ERROR_BUSINESS_RULE

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

P = ParamSpec("P")
R = TypeVar("R")


@dataclass
class ActivityDeps:
    """What the activities need from outside, injected by worker.py and the tests."""

    session_factory: sessionmaker[Session]
    clock: Callable[[], datetime] = utcnow
    notifier: Notifier = field(default_factory=LoggingNotifier)
    engineer_share: Decimal = ENGINEER_SHARE
    settlement_ceiling: Decimal = SETTLEMENT_CEILING
    """A job priced above this is held for finance (settings.settlement_ceiling)."""


def business_rules(fn: Callable[P, R]) -> Callable[P, R]:
    """A refusal by the business rules fails the activity at once: retrying cannot fix it."""

    @functools.wraps(fn)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except BusinessRuleViolation as exc:
            raise ApplicationError(
                exc.message, type=ERROR_BUSINESS_RULE, non_retryable=True
            ) from exc

    return run
