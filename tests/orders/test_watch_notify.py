"""Long polls woken across API replicas by PostgreSQL LISTEN/NOTIFY.

Two apps (two StepWatch/listener pairs, as two API replicas) share one database. Their
fallback tick is set to an hour and every wait to a minute, so a waiter answered at all was
woken by a notification. On SQLite (no LISTEN) the writer sends nothing and the watch ticks.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from typing import Any, cast

import pytest
from fastapi import FastAPI
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client

from api.main import create_app
from servflow.orders import steps
from servflow.orders.notify_pg import CHANNEL, Listener
from servflow.orders.watch import StepWatch, Waiting
from servflow.platform.settings import Settings
from tests.orders.test_watch import add_order, add_waiting
from workflows.contracts import WaitingStep

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
HOUR = 3600.0


async def until(condition: Callable[[], bool]) -> None:
    """Yields to the loop until `condition` holds (the test's own timeout bounds it)."""
    while not condition():
        await asyncio.sleep(0.01)


def waiting_step(order_id: str, node_id: str) -> WaitingStep:
    return WaitingStep(
        order_id=order_id,
        node_id=node_id,
        node_type="service",
        visit=1,
        assignee="engineer_bj_01",
        since=NOW,
        status="dispatched",
    )


class Replica:
    """An API app with its lifespan entered: its watch and the listener the lifespan made."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.watch: StepWatch = app.state.ctx.step_watch
        self.session_factory: sessionmaker[Session] = app.state.ctx.session_factory

    @property
    def listener(self) -> Listener:
        return cast(Listener, self.app.state.step_listener)


@pytest.fixture
async def replicas(
    db_backend: str, session_factory: sessionmaker[Session]
) -> AsyncIterator[tuple[Replica, Replica]]:
    if db_backend != "postgresql":
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's; SQLite keeps the in-process tick")
    settings = Settings(
        jwt_secret="test-secret-for-servflow-notify-tests-0123456789",
        demo=True,
        step_watch_fallback_seconds=HOUR,
    )
    made: list[Replica] = []
    async with AsyncExitStack() as stack:
        for _ in range(2):
            app = create_app(
                settings, session_factory=session_factory, temporal_client=cast(Client, object())
            )
            await stack.enter_async_context(app.router.lifespan_context(app))
            made.append(Replica(app))
        for replica in made:
            await asyncio.wait_for(replica.listener.connected.wait(), 30)
            assert replica.watch.listening
        yield made[0], made[1]
    for replica in made:
        assert not replica.listener.connected.is_set()  # the lifespan stopped it


async def first_look_done(watch: StepWatch, ticks: int) -> None:
    """Waits until the watch has run its look for a new waiter (after `ticks` looks)."""
    await until(lambda: watch.ticks > ticks)
    await asyncio.sleep(0.05)  # the look's answer handed out on the loop


async def test_a_step_written_through_one_replica_wakes_a_long_poll_on_the_other(
    replicas: tuple[Replica, Replica], session: Session
) -> None:
    a, b = replicas
    add_order(session, "wo-n1")
    ticks = b.watch.ticks
    poll = asyncio.create_task(b.watch.wait("wo-n1", node_id="service", timeout=60))
    await first_look_done(b.watch, ticks)
    assert not poll.done()  # nothing waits yet, and B's tick is an hour away

    await asyncio.to_thread(
        steps.record_waiting, a.session_factory, waiting_step("wo-n1", "service"), lambda: NOW
    )

    seen = await asyncio.wait_for(poll, 60)
    assert seen is not None and [s.node_id for s in seen.steps] == ["service"]


async def test_an_order_closed_through_one_replica_wakes_the_other(
    replicas: tuple[Replica, Replica], session: Session
) -> None:
    a, b = replicas
    add_order(session, "wo-n2")
    ticks = b.watch.ticks
    poll = asyncio.create_task(b.watch.wait("wo-n2", node_id="signoff", timeout=60))
    await first_look_done(b.watch, ticks)
    assert not poll.done()

    closed = await asyncio.to_thread(
        steps.close_from_temporal,
        a.session_factory,
        order_id="wo-n2",
        status="cancelled",
        now=NOW,
    )

    seen = await asyncio.wait_for(poll, 60)
    assert closed and seen is not None and seen.closed and seen.status == "cancelled"


async def test_a_rolled_back_write_wakes_nobody(
    replicas: tuple[Replica, Replica], session: Session
) -> None:
    """NOTIFY is sent on commit only: the order of a writer that rolled back is not looked
    at, while the one committed after it is."""
    a, b = replicas
    add_order(session, "wo-n3")
    add_order(session, "wo-n3b")
    looked: list[list[str]] = []
    answer = b.watch._answer

    def spy(wants: dict[str, list[str | None]]) -> dict[str, Waiting]:
        looked.append(list(wants))
        return answer(wants)

    b.watch._answer = spy  # type: ignore[method-assign]
    ticks = b.watch.ticks
    rolled_back = asyncio.create_task(b.watch.wait("wo-n3", node_id=None, timeout=60))
    sentinel = asyncio.create_task(b.watch.wait("wo-n3b", node_id=None, timeout=60))
    await first_look_done(b.watch, ticks)
    await until(lambda: any("wo-n3b" in ids for ids in looked))
    await asyncio.sleep(0.05)
    looked.clear()
    with pytest.raises(RuntimeError), a.session_factory() as writer:
        steps.notify_pg.notify(writer, "wo-n3")
        raise RuntimeError("the transaction fails after the notification was queued")
    await asyncio.to_thread(
        steps.record_waiting, a.session_factory, waiting_step("wo-n3b", "service"), lambda: NOW
    )
    assert await asyncio.wait_for(sentinel, 60) is not None
    assert all("wo-n3" not in ids for ids in looked)
    assert not rolled_back.done()
    rolled_back.cancel()


async def test_the_listener_reconnects_after_its_backend_is_terminated(
    replicas: tuple[Replica, Replica], session: Session
) -> None:
    a, b = replicas
    pid = b.listener.backend_pid
    with a.session_factory() as admin:
        assert admin.scalar(select(func.pg_terminate_backend(pid)))
    await until(lambda: b.listener.connections == 2 and b.listener.connected.is_set())
    assert b.listener.backend_pid != pid and b.watch.listening

    add_order(session, "wo-n4")
    ticks = b.watch.ticks
    poll = asyncio.create_task(b.watch.wait("wo-n4", node_id="service", timeout=60))
    await first_look_done(b.watch, ticks)
    assert not poll.done()
    await asyncio.to_thread(
        steps.record_waiting, a.session_factory, waiting_step("wo-n4", "service"), lambda: NOW
    )
    seen = await asyncio.wait_for(poll, 60)
    assert seen is not None and [s.node_id for s in seen.steps] == ["service"]


async def test_a_payload_naming_an_unknown_order_is_ignored(
    replicas: tuple[Replica, Replica], session: Session
) -> None:
    """Notifications of orders nobody here waits on (or that are no order id at all) cost
    no query; the one naming the watched order, sent after them, answers its waiter."""
    a, b = replicas
    add_order(session, "wo-n5")
    add_waiting(session, "wo-n5", "service")
    ticks = b.watch.ticks
    poll = asyncio.create_task(b.watch.wait("wo-n5", node_id="signoff", timeout=60))
    await first_look_done(b.watch, ticks)
    ticks = b.watch.ticks
    add_waiting(session, "wo-n5", "signoff")  # committed without a notification
    with a.session_factory() as writer:
        for payload in ["no-such-order", "x" * 300, "'; DROP TABLE work_order; --"]:
            writer.execute(text("SELECT pg_notify(:c, :p)"), {"c": CHANNEL, "p": payload})
        writer.commit()
    with a.session_factory() as writer:
        steps.notify_pg.notify(writer, "wo-n5")
        writer.commit()
    seen = await asyncio.wait_for(poll, 60)
    assert seen is not None and {s.node_id for s in seen.steps} == {"service", "signoff"}
    assert b.watch.ticks == ticks + 1  # the unknown payloads woke no look
    assert b.listener.connections == 1  # and did not upset the listener


async def test_wake_answers_at_once_and_ignores_orders_nobody_waits_on(
    session_factory: sessionmaker[Session], session: Session
) -> None:
    """The watch's side, on every store: with a listener up (the tick an hour away) a wake
    of the waiter's order answers it, a wake of another order is ignored."""
    watch = StepWatch(session_factory, fallback=HOUR)
    watch.listener_up(True)
    add_order(session, "wo-w1")
    poll = asyncio.create_task(watch.wait("wo-w1", node_id=None, timeout=60))
    await first_look_done(watch, 0)
    add_waiting(session, "wo-w1", "service")
    assert not watch.wake("wo-unknown")
    assert watch.wake("wo-w1")
    seen = await asyncio.wait_for(poll, 60)
    assert seen is not None and [s.node_id for s in seen.steps] == ["service"]
    assert watch.ticks == 2


async def test_a_dropped_listener_brings_back_the_fast_tick(
    session_factory: sessionmaker[Session], session: Session
) -> None:
    """While no listener is up, nothing strands a waiter: the watch ticks every `interval`."""
    watch = StepWatch(session_factory, interval=0.01, fallback=HOUR)
    watch.listener_up(True)
    add_order(session, "wo-w2")
    poll = asyncio.create_task(watch.wait("wo-w2", node_id=None, timeout=60))
    await first_look_done(watch, 0)
    add_waiting(session, "wo-w2", "service")
    watch.listener_up(False)
    seen = await asyncio.wait_for(poll, 60)
    assert seen is not None and [s.node_id for s in seen.steps] == ["service"]


def test_the_writer_notifies_on_postgresql_only(
    db_backend: str, session_factory: sessionmaker[Session]
) -> None:
    statements: list[str] = []
    with session_factory() as session:
        bind: Any = session.get_bind()
        from sqlalchemy import event

        def seen(_c: Any, _cur: Any, statement: str, *_a: Any) -> None:
            statements.append(statement)

        event.listen(bind, "before_cursor_execute", seen)
        try:
            steps.record_waiting(session_factory, waiting_step("wo-s1", "service"), lambda: NOW)
        finally:
            event.remove(bind, "before_cursor_execute", seen)
    sent = [s for s in statements if "pg_notify" in s]
    assert len(sent) == (1 if db_backend == "postgresql" else 0)
