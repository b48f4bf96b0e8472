"""Delivering notifications: a protocol, and the logging implementation used until WeCom."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

log = logging.getLogger("servflow.notify")


@dataclass(frozen=True)
class OutgoingMessage:
    notification_id: int
    channel: str
    recipients: tuple[str, ...]
    message: str
    order_id: str


class Notifier(Protocol):
    def send(self, message: OutgoingMessage) -> None:
        """Delivers `message`; raises when it could not (the outbox row stays unsent)."""


class LoggingNotifier:
    """Writes each message to the `servflow.notify` log and keeps the last ones for tests."""

    def __init__(self) -> None:
        self.sent: list[OutgoingMessage] = []

    def send(self, message: OutgoingMessage) -> None:
        log.info(
            "notify %s via %s to %s: %s",
            message.order_id,
            message.channel,
            ", ".join(message.recipients) or "(nobody)",
            message.message,
        )
        self.sent.append(message)
        del self.sent[:-100]
