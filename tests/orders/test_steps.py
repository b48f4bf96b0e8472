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


def failed_dispatch_entry(message: str) -> TimelineEntry:
    return TimelineEntry(
        node_id="dispatch",
        node_type="dispatch",
        visit=1,
        started_at=datetime(2026, 11, 22, 8, 1, tzinfo=UTC),
        completed_at=datetime(2026, 11, 22, 8, 2, tzinfo=UTC),
        outcome=f"failed: {message}",
    )


async def test_a_failed_order_closes_with_its_failed_step_on_every_database(run, world, session):
    # The close step names the failed node: its own row and the failed entry share a key.
    await run("report", make_step("report"))
    close = make_step(
        "dispatch",
        status="failed",
        final=True,
        unrecorded=[failed_dispatch_entry("no qualified engineer")],
    )
    await run("close_order", close)

    order = session.scalars(select(WorkOrder)).one()
    assert order.status == "failed" and order.completed_at is not None
    failed = session.scalars(select(WorkOrderStep).where(WorkOrderStep.node_id == "dispatch")).one()
    assert failed.outcome == "failed: no qualified engineer"


async def test_a_long_failure_message_is_kept_as_far_as_the_column_allows(run, world, session):
    await run("report", make_step("report"))
    reason = "数据库连接中断 " * 200  # far over the column's 500 characters
    close = make_step(
        "dispatch", status="failed", final=True, unrecorded=[failed_dispatch_entry(reason)]
    )
    await run("close_order", close)

    failed = session.scalars(select(WorkOrderStep).where(WorkOrderStep.node_id == "dispatch")).one()
    assert len(failed.outcome) == 500
    assert failed.outcome.startswith("failed: 数据库连接中断")
