from datetime import UTC, datetime

from sqlalchemy import select

from servflow.dispatch.models import Engineer
from servflow.orders.models import WorkOrder, WorkOrderStep
from tests.world import make_step
from workflows.contracts import TimelineEntry

REFRIGERATION = {"skills": ["refrigeration"]}


def service_entry(visit: int = 1) -> TimelineEntry:
    return TimelineEntry(
        node_id="service",
        node_type="service",
        visit=visit,
        started_at=datetime(2026, 11, 22, 8, 5, tzinfo=UTC),
        completed_at=datetime(2026, 11, 22, 9, 30, tzinfo=UTC),
        actor="engineer_bj_near",
        outcome="done",
        data={"diagnosis": "电容击穿", "parts_used": [{"sku": "AC-CAP-35UF", "qty": 1}]},
    )


async def test_human_steps_are_recorded_with_the_next_activity(run, world, session):
    await run("report", make_step("report"))
    await run("dispatch", make_step("dispatch", params=REFRIGERATION))

    step = make_step(
        "settlement",
        node_id="completion",
        params={"milestone": "completion", "share": "1"},
        unrecorded=[service_entry()],
        status="settled",
    )
    await run("settlement", step)

    steps = session.scalars(select(WorkOrderStep).order_by(WorkOrderStep.id)).all()
    assert [(s.node_id, s.actor) for s in steps] == [
        ("report", "system"),
        ("dispatch", "system"),
        ("service", "engineer_bj_near"),
        ("completion", "system"),
    ]
    assert steps[2].data["diagnosis"] == "电容击穿"
    assert steps[2].completed_at == datetime(2026, 11, 22, 9, 30, tzinfo=UTC)


async def test_already_recorded_steps_are_ignored(run, world, session):
    await run("report", make_step("report", unrecorded=[service_entry()]))
    await run("close_order", make_step("end", unrecorded=[service_entry()], final=True))
    nodes = session.scalars(select(WorkOrderStep.node_id).order_by(WorkOrderStep.id)).all()
    assert nodes == ["service", "report", "end"]


async def test_close_order_completes_the_order_and_frees_the_engineer(run, world, session):
    await run("report", make_step("report"))
    await run("dispatch", make_step("dispatch", params=REFRIGERATION))
    loads = dict(session.execute(select(Engineer.code, Engineer.current_load)).all())
    assert loads["bj_near"] == 1

    result = await run(
        "close_order",
        make_step("end", unrecorded=[service_entry()], status="signed_off", final=True),
    )

    session.expire_all()
    order = session.scalars(select(WorkOrder)).one()
    assert order.status == "completed"
    assert order.completed_at is not None
    assert result.summary == "工单 SF20261122-000001 已完成"
    assert (
        session.scalars(select(Engineer.current_load).where(Engineer.code == "bj_near")).one() == 0
    )


async def test_final_settlement_marks_the_order_completed_in_the_same_transaction(
    run, world, session
):
    await run("report", make_step("report"))
    step = make_step(
        "settlement",
        params={"milestone": "completion", "share": "1"},
        status="settled",
        final=True,
    )
    await run("settlement", step)
    order = session.scalars(select(WorkOrder)).one()
    assert order.status == "completed"
    assert order.completed_at is not None


async def test_closing_a_cancelled_order_keeps_it_cancelled(run, world, session):
    await run("report", make_step("report"))
    await run("close_order", make_step("end", status="cancelled", final=True))
    order = session.scalars(select(WorkOrder)).one()
    assert order.status == "cancelled"
    assert order.completed_at is not None
