"""The read model shows a human step from the moment it waits, and whom it waits for."""

from datetime import UTC, datetime

from sqlalchemy import select
from temporalio.testing import ActivityEnvironment

from servflow.orders.models import WorkOrder, WorkOrderStep
from tests.orders.test_steps import service_entry
from tests.world import make_step
from workflows.contracts import OrderContext, WaitingStep

REFRIGERATION = {"skills": ["refrigeration"]}
SINCE = datetime(2026, 11, 22, 8, 5, tzinfo=UTC)


def waiting(node_id: str = "service", assignee: str = "engineer_bj_near", **kw) -> WaitingStep:
    fields = {
        "order_id": "order-1",
        "node_id": node_id,
        "node_type": node_id,
        "visit": 1,
        "assignee": assignee,
        "since": SINCE,
        "sla_deadline": datetime(2026, 11, 22, 12, 5, tzinfo=UTC),
        "status": "dispatched",
        "context": OrderContext(region="huabei", started_by="crm"),
        "definition_key": "ac-repair",
        "definition_version": 1,
        **kw,
    }
    return WaitingStep.model_validate(fields)


def steps(session):
    session.expire_all()
    query = select(WorkOrderStep).order_by(WorkOrderStep.node_id, WorkOrderStep.visit)
    return {(s.node_id, s.visit): s for s in session.scalars(query)}


async def record(run, step: WaitingStep) -> None:
    await ActivityEnvironment().run(run.by_name["record_waiting"], step)


async def test_a_waiting_step_is_recorded_with_its_assignee_and_the_order_points_at_it(
    run, world, session
):
    await run("report", make_step("report"))
    await run("dispatch", make_step("dispatch", params=REFRIGERATION))

    await record(run, waiting())

    service = steps(session)[("service", 1)]
    assert service.completed_at is None and service.assignee == "engineer_bj_near"
    assert service.sla_deadline is not None and service.started_at is not None
    order = session.scalars(select(WorkOrder)).one()
    assert order.current_node == "service" and order.status == "dispatched"


async def test_completion_closes_the_waiting_row_and_a_late_retry_does_not_reopen_it(
    run, world, session
):
    await run("report", make_step("report"))
    await record(run, waiting())
    # The next activity carries the completed step.
    await run(
        "notify",
        make_step("notify", params={"to_roles": [], "message": "x"}, unrecorded=[service_entry()]),
    )

    service = steps(session)[("service", 1)]
    assert service.completed_at is not None and service.actor == "engineer_bj_near"
    assert service.data["diagnosis"] == "电容击穿"
    assert service.assignee == "engineer_bj_near"

    await record(run, waiting(assignee="engineer_bj_far"))  # a retried local activity
    again = steps(session)[("service", 1)]
    assert again.completed_at == service.completed_at and again.assignee == "engineer_bj_near"


async def test_the_next_waiting_step_carries_the_step_before_it(run, world, session):
    await run("report", make_step("report"))
    await record(run, waiting())
    await record(run, waiting("signoff", unrecorded_steps=[service_entry()]))

    rows = steps(session)
    assert rows[("service", 1)].completed_at is not None
    assert rows[("signoff", 1)].completed_at is None
    assert rows[("signoff", 1)].assignee == "engineer_bj_near"


async def test_a_reassigned_waiting_step_changes_hands(run, world, session):
    await run("report", make_step("report"))
    await record(run, waiting())
    await record(run, waiting(assignee="role:region_manager"))
    assert steps(session)[("service", 1)].assignee == "role:region_manager"
    assert len(steps(session)) == 2  # report and service: no second service row


async def test_an_order_that_starts_with_a_human_step_gets_its_row(run, world, session):
    await record(run, waiting(order_id="order-first-human", status="running"))
    order = session.scalars(select(WorkOrder)).one()
    assert (order.order_id, order.current_node, order.definition_key) == (
        "order-first-human",
        "service",
        "ac-repair",
    )
    assert [key for key in steps(session)] == [("service", 1)]


async def test_a_cancelled_order_leaves_no_step_waiting(run, world, session):
    await run("report", make_step("report"))
    await record(run, waiting())
    await run("close_order", make_step("end", status="cancelled", final=True))
    service = steps(session)[("service", 1)]
    assert service.completed_at is not None and service.outcome == "cancelled"
