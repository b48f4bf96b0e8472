from sqlalchemy import select

from servflow.notify import service as notify
from servflow.notify.models import Notification
from servflow.notify.notifier import OutgoingMessage
from servflow.notify.rules import render_message
from servflow.org.models import AppUser
from servflow.org.service import principal_of
from tests.world import NOW, Runner, make_step

REFRIGERATION = {"skills": ["refrigeration"]}


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

    text, card = session.scalars(select(Notification).order_by(Notification.id)).all()
    assert result.output["notification_id"] == text.id
    assert result.output["notification_ids"] == [text.id, card.id]
    # 华东's manager is out of scope; the order sits under bj-001 in 华北.
    assert text.recipients == ["outlet_mgr_bj_001", "region_mgr_huabei"]
    assert (card.kind, card.recipients) == ("template_card", ["engineer_bj_near"])
    assert text.message == card.message == "工单 SF20261122-000001 已派单 (ac_leak)"
    assert text.sent_at is not None and card.status == "sent"
    assert result.output["recipients"] == [
        "engineer_bj_near",
        "outlet_mgr_bj_001",
        "region_mgr_huabei",
    ]
    assert notifier.sent == [
        OutgoingMessage(text.id, "wecom", tuple(text.recipients), text.message, "order-1"),
        OutgoingMessage(
            card.id, "wecom", ("engineer_bj_near",), card.message, "order-1", "template_card"
        ),
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
    assert (row.status, row.attempts, row.last_error) == ("retry", 1, "ConnectionError: WeCom down")
    assert row.next_attempt_at is not None and row.next_attempt_at > NOW


def test_a_low_score_tells_the_managers_and_customer_care_of_the_orders_scope(world, session):
    units = {u.code: session.merge(u) for u in world.units.values()}
    for username, unit in [
        ("care_huabei", "huabei"),  # the region of the rated order's outlet
        ("care_bj_001", "bj-001"),  # the outlet itself
        ("care_bj_002", "bj-002"),  # another outlet of the region: not theirs
        ("care_huadong", "huadong"),  # another region
    ]:
        session.add(
            AppUser(
                username=username, password_hash="x", roles=["customer_care"], org_unit=units[unit]
            )
        )
    session.add(
        AppUser(
            username="care_retired",
            password_hash="x",
            roles=["customer_care"],
            org_unit=units["huabei"],
            is_active=False,
        )
    )
    session.flush()
    org_path = units["bj-001"].path

    row = notify.low_score_follow_up(
        session, order_id="order-7", org_path=org_path, rating=3, comment="迟到两小时", now=NOW
    )

    assert row.recipients == [
        "care_bj_001",
        "care_huabei",
        "outlet_mgr_bj_001",
        "region_mgr_huabei",
    ]
    assert (row.idempotency_key, row.channel) == ("nps-follow-up/order-7", "wecom")
    assert "3/10" in row.message and "迟到两小时" in row.message
    # Exactly the customer care who are offered the call-back task (a role task on an
    # order they may see): active, holding the role, their scope covering the order's unit.
    care = session.scalars(select(AppUser).where(AppUser.username.like("care_%"))).all()
    offered = {
        u.username
        for u in care
        if u.is_active and "customer_care" in u.roles and principal_of(u).sees(org_path)
    }
    assert offered == {r for r in row.recipients if r.startswith("care_")}
