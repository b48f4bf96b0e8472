"""Long polls on the read model: answered when a step waits or the order closes, never lost."""

import asyncio
import time
import types
from datetime import UTC, datetime

from sqlalchemy import update

from servflow.orders.models import WorkOrder, WorkOrderStep
from servflow.orders.watch import StepWatch

_real_monotonic = time.monotonic

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


def add_order(session, order_id: str, status: str = "dispatched") -> None:
    session.add(WorkOrder(order_id=order_id, status=status, created_at=NOW, updated_at=NOW))
    session.commit()


def add_waiting(session, order_id: str, node_id: str, assignee: str = "engineer_bj_01") -> None:
    session.add(
        WorkOrderStep(
            order_id=order_id,
            node_id=node_id,
            visit=1,
            node_type="service",
            data={},
            started_at=NOW,
            assignee=assignee,
        )
    )
    session.commit()


async def test_a_waiter_is_answered_when_its_step_starts_waiting(session_factory, session):
    watch = StepWatch(session_factory, interval=0.01)
    add_order(session, "o-1")
    waiting = asyncio.create_task(watch.wait("o-1", node_id="signoff", timeout=5))
    await asyncio.sleep(0.05)
    add_waiting(session, "o-1", "service")  # not the step it waits for
    await asyncio.sleep(0.05)
    assert not waiting.done()
    add_waiting(session, "o-1", "signoff")
    seen = await waiting
    assert seen is not None and not seen.closed
    assert [s.node_id for s in seen.steps] == ["service", "signoff"]


async def test_many_waiters_share_one_query_per_tick_and_closed_orders_answer(
    session_factory, session
):
    watch = StepWatch(session_factory, interval=0.01)
    looks: list[list[str]] = []
    answer = watch._answer
    watch._answer = lambda wants: looks.append(list(wants)) or answer(wants)  # type: ignore[method-assign]
    for i in range(20):
        add_order(session, f"o-{i}")
    waiters = [watch.wait(f"o-{i}", node_id=None, timeout=5) for i in range(20)]
    tasks = [asyncio.create_task(w) for w in waiters]
    await asyncio.sleep(0.05)
    for i in range(10):
        add_waiting(session, f"o-{i}", "service")
    session.execute(
        update(WorkOrder)
        .where(WorkOrder.order_id.in_([f"o-{i}" for i in range(10, 20)]))
        .values(status="cancelled")
    )
    session.commit()
    results = await asyncio.gather(*tasks)
    assert [r.closed for r in results] == [False] * 10 + [True] * 10
    assert all(r.steps == [] for r in results[10:])
    assert max(len(ids) for ids in looks) == 20  # every waiting order in one tick's query


async def test_a_wait_that_runs_out_answers_none_and_leaves_nothing_behind(
    session_factory, session
):
    watch = StepWatch(session_factory, interval=0.01)
    add_order(session, "o-1")
    assert await watch.wait("o-1", node_id="service", timeout=0.05) is None
    assert watch._waiters == {}
    await asyncio.sleep(0.03)
    assert watch._ticker is not None and watch._ticker.done()  # stops when nobody waits

    cancelled = asyncio.create_task(watch.wait("o-1", node_id=None, timeout=5))
    await asyncio.sleep(0.02)
    cancelled.cancel()  # the client went away
    await asyncio.gather(cancelled, return_exceptions=True)
    assert watch._waiters == {}


async def test_the_first_look_happens_on_a_host_booted_less_than_a_period_ago(
    session_factory, session, monkeypatch
):
    """time.monotonic() counts from boot: a watch with a one-hour fallback on a host up for
    a few minutes must still look at a new waiter at once (it once waited for the hour)."""
    import servflow.orders.watch as watch_module

    booted = watch_module.time.monotonic() - 120.0  # the host has been up two minutes
    clock = types.SimpleNamespace(monotonic=lambda: _real_monotonic() - booted)
    monkeypatch.setattr(watch_module, "time", clock)  # the watch's clock only, not the loop's
    watch = StepWatch(session_factory, fallback=3600.0)
    watch.listener_up(True)
    add_order(session, "wo-boot")
    add_waiting(session, "wo-boot", "service")
    seen = await asyncio.wait_for(watch.wait("wo-boot", node_id=None, timeout=60), 10)
    assert seen is not None and [s.node_id for s in seen.steps] == ["service"]
    assert watch.ticks == 1
