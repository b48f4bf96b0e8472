"""One error hierarchy for every use case: services raise these, never `HTTPException`.

The API maps them to JSON (`{"detail": message, **extra}` with `status_code`); activities
turn `BusinessRuleViolation` into a non-retryable Temporal `ApplicationError`.
"""

from __future__ import annotations

from typing import Any


class AppError(Exception):
    """A failure the caller can understand; `extra` adds keys to the JSON body."""

    status_code = 400

    def __init__(self, message: str, *, status_code: int | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        if status_code is not None:
            self.status_code = status_code
        self.extra = extra


class Unauthorized(AppError):
    status_code = 401


class Forbidden(AppError):
    status_code = 403


class NotFound(AppError):
    status_code = 404


class Conflict(AppError):
    status_code = 409


class Invalid(AppError):
    """422: `errors` maps field paths to messages, or `problems` lists definition problems."""

    status_code = 422


def invalid_field(field: str, message: str) -> Invalid:
    """A 422 about one field: the detail reads "<field>: <message>", `errors` names it."""
    return Invalid(f"{field}: {message}", errors={field: message})


class BusinessRuleViolation(AppError):
    """A rule of the business refuses the step (no engineer, no price table, a duplicate):
    retrying cannot fix it, so an order's activity fails at once with this message."""

    status_code = 422


class NotTakenInTime(AppError):
    """504: the order did not take a step in time (no worker, or all busy). Nothing is
    lost: a retry with the same Idempotency-Key is answered with the first one's result."""

    status_code = 504
