from datetime import UTC, datetime

from sqlalchemy import select

from servflow.dispatch.models import Engineer
from servflow.notify.models import Notification
from servflow.notify.notifier import OutgoingMessage
from servflow.notify.rules import render_message
from servflow.orders.models import WorkOrder, WorkOrderStep
from tests.activities.conftest import Runner, make_step
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


def test_message_placeholders_are_filled_and_unknown_ones_kept():
    text = render_message("工单 {order_no} {missing} {0.__class__}", {"order_no": "SF1"})
    assert text == "工单 SF1 {missing} {0.__class__}"


async def test_notify_writes_the_outbox_to_in_scope_roles_and_the_engineer(
    run, world, session, notifier
):
    await run("report", make_step("report"))
    await run("dispatch", make_step("dispatch", params=REFRIGERATION))
    step = make_step(
        "notify",
        node_id="tell",
        params={
            "channel": "wecom",
            "to_roles": ["region_manager", "outlet_manager"],
            "to_assignee": True,
            "message": "工单 {order_no} 已派单 ({fault})",
        },
    )

    result = await run("notify", step)

    row = session.scalars(select(Notification)).one()
    assert result.output["notification_id"] == row.id
    # 华东's manager is out of scope; the order sits under bj-001 in 华北.
    assert row.recipients == ["engineer_bj_near", "outlet_mgr_bj_001", "region_mgr_huabei"]
    assert row.message == "工单 SF20261122-000001 已派单 (ac_leak)"
    assert row.sent_at is not None
    assert notifier.sent == [
        OutgoingMessage(row.id, "wecom", tuple(row.recipients), row.message, "order-1")
    ]


async def test_notify_retry_neither_writes_nor_sends_again(run, world, session, notifier):
    await run("report", make_step("report"))
    step = make_step("notify", params={"to_roles": ["hq_admin"], "message": "hi {order_id}"})
    first = await run("notify", step)
    second = await run("notify", step)
    assert first == second
    assert len(session.scalars(select(Notification)).all()) == 1
    assert len(notifier.sent) == 1


async def test_failed_delivery_leaves_the_message_unsent_in_the_outbox(run, world, session, deps):
    class Broken:
        def send(self, message):
            raise ConnectionError("WeCom down")

    deps.notifier = Broken()
    await run("report", make_step("report"))
    result = await Runner(deps)(
        "notify", make_step("notify", params={"to_roles": ["hq_admin"], "message": "x"})
    )
    row = session.get(Notification, result.output["notification_id"])
    assert row is not None and row.sent_at is None


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
