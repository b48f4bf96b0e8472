"""Issue 11 bug: an SLA breach notice must not complete the step it is about.

The interpreter sends the breach notice through the notify activity under the step's own
order, node and visit (idempotency key `<order>/<node>/<visit>/sla`, node type
`<type>:sla`). The read model once wrote that notice as the step itself, so the waiting
`service` row turned "completed by system" and left `/waiting` and "my tasks" while the
workflow still waited for it.
"""

from __future__ import annotations

from sqlalchemy import select
from temporalio.testing import ActivityEnvironment

from servflow.orders import service as orders
from servflow.orders.models import WorkOrderStep
from servflow.org.rules import Principal
from tests.orders.test_waiting import waiting
from tests.world import make_step

REFRIGERATION = {"skills": ["refrigeration"]}


def _breach_notice(node_id: str = "service", visit: int = 1):
    step = make_step(
        f"{node_id}:sla",
        node_id=node_id,
        visit=visit,
        params={
            "channel": "wecom",
            "to_roles": ["region_manager"],
            "message": "SLA breached: order order-1, step service",
            "to_assignee": False,
        },
        status="dispatched",
    )
    return step.model_copy(update={"idempotency_key": f"order-1/{node_id}/{visit}/sla"})


async def test_a_breach_notice_leaves_the_waiting_step_waiting_and_in_my_tasks(run, world, session):
    await run("report", make_step("report"))
    await run("dispatch", make_step("dispatch", params=REFRIGERATION))
    await ActivityEnvironment().run(run.by_name["record_waiting"], waiting())

    notice = await run("notify", _breach_notice())

    assert notice.output["notification_id"] is not None  # the notice itself was written
    session.expire_all()
    row = session.scalars(
        select(WorkOrderStep).where(WorkOrderStep.node_id == "service", WorkOrderStep.visit == 1)
    ).one()
    assert row.completed_at is None, "the breach notice completed the waiting step"
    assert row.actor == "" and row.assignee == "engineer_bj_near"
    assert "notification_id" not in row.data
    engineer = Principal(
        id=0,
        username="engineer_bj_near",
        display_name="",
        roles=("engineer",),
        scope_path="/hq/huabei/bj-branch/bj-001",
    )
    tasks = orders.waiting_for(session, engineer, limit=10)
    assert [(step.node_id, step.visit) for step, _order in tasks] == [("service", 1)]
