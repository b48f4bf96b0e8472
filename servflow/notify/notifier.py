"""Delivering notifications: a protocol, and the logging implementation used when no
channel is configured (and by tests)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Protocol

log = logging.getLogger("servflow.notify")


@dataclass(frozen=True)
class OutgoingMessage:
    notification_id: int
    channel: str
    recipients: tuple[str, ...]
    message: str
    order_id: str
    kind: str = "text"
    """text, markdown, textcard, template_card or robot (servflow.notify.models)."""
    payload: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)


class DeliveryFailed(Exception):
    """A notifier could not deliver; `retryable` False when sending again cannot help (an
    unknown user), `retry_after` when the receiver named a wait (a robot's rate limit)."""

    def __init__(
        self, message: str, *, retryable: bool = True, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after


class Notifier(Protocol):
    def send(self, message: OutgoingMessage) -> None:
        """Delivers `message`; raises when it could not (the outbox row stays unsent)."""


class LoggingNotifier:
    """Writes each message to the `servflow.notify` log and keeps the last ones for tests."""

    def __init__(self) -> None:
        self.sent: list[OutgoingMessage] = []

    def send(self, message: OutgoingMessage) -> None:
        log.info(
            "notify %s via %s (%s) to %s: %s",
            message.order_id,
            message.channel,
            message.kind,
            ", ".join(message.recipients) or "(nobody)",
            message.message,
        )
        self.sent.append(message)
        del self.sent[:-100]
