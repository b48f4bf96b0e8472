"""The long polls' tick is light: while nothing a waiter wants has happened, it reads plain
rows only (no step rows loaded); the full rows are read for an order once it answers."""

import asyncio

from servflow.orders.watch import StepWatch, Waiting
from tests.orders.test_watch import add_order, add_waiting


async def test_ticks_with_nothing_new_load_no_steps(session_factory, session):
    watch = StepWatch(session_factory, interval=0.01)
    looks: list[list[str]] = []
    look = watch._look

    def spy(order_ids: list[str]) -> dict[str, Waiting]:
        looks.append(order_ids)
        return look(order_ids)

    watch._look = spy  # type: ignore[method-assign]
    add_order(session, "t-1")
    add_order(session, "t-2")
    add_waiting(session, "t-2", "service")  # waits, but not for what t-2's waiter wants
    first = asyncio.create_task(watch.wait("t-1", node_id=None, timeout=5))
    second = asyncio.create_task(watch.wait("t-2", node_id="signoff", timeout=5))
    await asyncio.sleep(0.1)  # several ticks
    assert looks == [] and not first.done() and not second.done()
    add_waiting(session, "t-1", "service")
    seen = await first
    assert seen is not None and [s.node_id for s in seen.steps] == ["service"]
    assert looks == [["t-1"]]
    add_waiting(session, "t-2", "signoff")
    seen = await second
    assert seen is not None and {s.node_id for s in seen.steps} == {"service", "signoff"}
