"""A `raise_priority` SLA level raises the order's stored priority — the read-model row the
order lists, the desk and the dashboards sort by — not only the workflow's search
attribute and the clock: once per level, on that order only."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from servflow.orders.models import WorkOrder
from tests.world import make_step


def _level(index: int, action: str, **more: Any) -> dict[str, Any]:
    return {"index": index, "percent": 100, "action": action, **more}


def _escalation(level: dict[str, Any], *, priority: int, order_id: str = "order-1"):
    """The `sla_escalate` step as the interpreter sends it: under the waiting step's node and
    visit, keyed by level, with the order's context as the workflow holds it (a
    raise_priority level has already raised `context.priority` there)."""
    step = make_step(
        f"service:sla{level['index'] + 1}",
        order_id=order_id,
        node_id="service",
        params={"level": level, "message": "SLA breached"},
        status="dispatched",
    )
    context = step.context.model_copy(update={"priority": priority})
    return step.model_copy(
        update={
            "context": context,
            "idempotency_key": f"{order_id}/service/1/sla{level['index'] + 1}",
        }
    )


def _priorities(session) -> dict[str, int]:
    session.expire_all()
    return dict(session.execute(select(WorkOrder.order_id, WorkOrder.priority)).tuples().all())


async def test_raise_priority_raises_the_stored_order_priority_once_and_on_that_order_only(
    run, world, session
):
    await run("report", make_step("report"))
    await run("report", make_step("report", order_id="order-2", variables={"fault": "no_power"}))
    assert _priorities(session) == {"order-1": 3, "order-2": 3}

    told = await run("sla_escalate", _escalation(_level(0, "notify"), priority=3))
    assert "priority" not in told.output
    assert _priorities(session) == {"order-1": 3, "order-2": 3}  # a notice changes nothing

    raised = await run("sla_escalate", _escalation(_level(2, "raise_priority"), priority=2))
    assert _priorities(session) == {"order-1": 2, "order-2": 3}
    assert raised.output["priority"] == 2

    # The same level again (a retry, a replayed command): stored, not applied twice, even
    # if the context it carries were more urgent by then.
    again = await run("sla_escalate", _escalation(_level(2, "raise_priority"), priority=1))
    assert again.output["priority"] == 2
    assert _priorities(session) == {"order-1": 2, "order-2": 3}

    # A later level raises it once more; the other order never moves.
    await run("sla_escalate", _escalation(_level(4, "raise_priority", priority=1), priority=1))
    assert _priorities(session) == {"order-1": 1, "order-2": 3}
