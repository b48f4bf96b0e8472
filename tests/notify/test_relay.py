"""The outbox relay: retries with backoff, gives up, never sends one message twice at once."""

from __future__ import annotations

from datetime import timedelta

from servflow.notify import service
from servflow.notify.models import Notification
from servflow.notify.notifier import DeliveryFailed, LoggingNotifier
from servflow.notify.rules import backoff
from tests.world import NOW


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self):
        return self.now


class Flaky(LoggingNotifier):
    def __init__(self, failures: int, *, retryable: bool = True) -> None:
        super().__init__()
        self.failures, self.retryable = failures, retryable

    def send(self, message):
        if self.failures:
            self.failures -= 1
            raise DeliveryFailed("errcode -1 system busy", retryable=self.retryable)
        super().send(message)


def _queue(session_factory, key="k1", clock=None) -> int:
    with session_factory() as session:
        row = service.enqueue(
            session,
            key=key,
            channel="wecom",
            recipients=["u1"],
            message="hello",
            now=(clock or Clock())(),
            org_path="/hq/huabei",
        )
        session.commit()
        return row.id


def test_backoff_doubles_and_is_capped_and_respects_retry_after():
    assert [backoff(n).total_seconds() for n in (1, 2, 3, 4)] == [2, 4, 8, 16]
    assert backoff(30).total_seconds() == 600
    assert backoff(1, retry_after=45).total_seconds() == 45


def test_a_failed_message_is_retried_after_its_backoff_and_then_sent(session_factory):
    clock, notifier = Clock(), Flaky(2)
    nid = _queue(session_factory, clock=clock)

    assert service.deliver_due(session_factory, notifier, clock=clock) == 0
    # Not due again before its backoff has passed.
    clock.now += timedelta(seconds=1)
    assert service.deliver_due(session_factory, notifier, clock=clock) == 0
    clock.now += timedelta(seconds=2)
    assert service.deliver_due(session_factory, notifier, clock=clock) == 0
    clock.now += timedelta(seconds=5)
    assert service.deliver_due(session_factory, notifier, clock=clock) == 1

    with session_factory() as session:
        row = session.get(Notification, nid)
        assert (row.status, row.attempts, row.last_error) == ("sent", 3, "")
    assert [m.message for m in notifier.sent] == ["hello"]


def test_a_message_that_can_never_go_is_dead_at_once(session_factory):
    clock = Clock()
    nid = _queue(session_factory, clock=clock)
    service.deliver_due(session_factory, Flaky(1, retryable=False), clock=clock)
    with session_factory() as session:
        row = session.get(Notification, nid)
        assert (row.status, row.attempts) == ("dead", 1)
        assert "system busy" in row.last_error


def test_the_relay_gives_up_after_max_attempts(session_factory):
    clock, notifier = Clock(), Flaky(10)
    nid = _queue(session_factory, clock=clock)
    for _ in range(3):
        service.deliver_due(session_factory, notifier, clock=clock, max_attempts=3)
        clock.now += timedelta(minutes=15)
    with session_factory() as session:
        assert session.get(Notification, nid).status == "dead"
    assert notifier.sent == []


def test_a_message_claimed_by_one_relay_is_not_sent_by_another(session_factory):
    clock = Clock()
    nid = _queue(session_factory, clock=clock)
    first, second = LoggingNotifier(), LoggingNotifier()

    class SendsWhileAnotherTries(LoggingNotifier):
        def send(self, message):
            # While this relay holds the message, a second relay finds nothing to do.
            assert service.deliver_due(session_factory, second, clock=clock) == 0
            first.send(message)

    service.deliver_one(session_factory, SendsWhileAnotherTries(), notification_id=nid, clock=clock)
    assert len(first.sent) == 1 and second.sent == []
    # Sent: no relay sends it again.
    assert service.deliver_due(session_factory, second, clock=clock) == 0
