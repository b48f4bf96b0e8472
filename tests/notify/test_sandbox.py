"""A test run's notification is rendered and shown, never written or sent."""

from sqlalchemy import select

from servflow.notify.models import Notification
from tests.world import make_step

REFRIGERATION = {"skills": ["refrigeration"]}
TELL = {
    "channel": "wecom",
    "to_roles": ["region_manager", "outlet_manager"],
    "to_assignee": True,
    "message": "工单 {order_no} 已派单 ({fault})",
}


def sandboxed(node_type: str, **kw):
    return make_step(node_type, **kw).model_copy(update={"sandbox": True})


async def test_sandbox_notify_shows_message_and_recipients_but_writes_and_sends_nothing(
    run, world, session, notifier
):
    await run("report", sandboxed("report"))
    dispatched = await run("dispatch", sandboxed("dispatch", params=REFRIGERATION))
    step = sandboxed(
        "notify", node_id="tell", params=TELL, variables={"dispatch": dispatched.output}
    )

    result = await run("notify", step)

    assert result.output["sandbox"] is True
    assert result.output["notification_id"] is None
    assert result.output["message"] == "工单 SF20261122-000001 已派单 (ac_leak)"
    # The engineer the simulated dispatch chose is shown, though no one was assigned.
    assert result.output["recipients"] == [
        "engineer_bj_near",
        "outlet_mgr_bj_001",
        "region_mgr_huabei",
    ]
    assert "模拟通知" in result.summary
    assert session.scalars(select(Notification)).all() == []
    assert notifier.sent == []
