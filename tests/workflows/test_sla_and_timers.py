"""SLAs and timers over hours and days, on the time-skipping test server."""

from __future__ import annotations

import uuid
from datetime import timedelta

from temporalio.testing import WorkflowEnvironment

from tests.workflows.fakes import ENGINEER_USER, FakeActivities
from tests.workflows.support import (
    SERVICE_OK,
    SIGNOFF_OK,
    definition,
    load_example,
    start_order,
    submit,
    wait_for_step,
    wait_until,
)
from worker import build_worker


async def test_service_sla_breach_notifies_and_keeps_the_step(
    skipping_env: WorkflowEnvironment,
) -> None:
    fakes, queue = FakeActivities(), f"sla-{uuid.uuid4()}"
    client = skipping_env.client
    async with build_worker(client, task_queue=queue, activities=fakes.all()):
        handle = await start_order(
            client, load_example("ac-repair"), queue, variables={"fault": "x"}
        )
        waiting = await wait_for_step(handle, "service")
        deadline = waiting.active[0].sla_deadline
        assert deadline is not None and deadline - waiting.active[0].since == timedelta(hours=24)
        await skipping_env.sleep(timedelta(hours=25))
        breached = await wait_until(handle, lambda s: bool(s.breaches))
        assert [b.node_id for b in breached.breaches] == ["service"]
        assert breached.breaches[0].action == "notify"
        assert breached.active[0].node_id == "service"  # the step is not lost
        sla_notice = fakes.calls["notify"][-1]
        assert sla_notice.params["to_roles"] == ["outlet_manager", "region_manager"]
        assert sla_notice.params["channel"] == "wecom"  # the default channel, as ever
        assert sla_notice.params["to_assignee"] is False
        assert sla_notice.idempotency_key.endswith("/service/1/sla")
        await submit(handle, "service", SERVICE_OK, issued_at=await skipping_env.get_current_time())
        await wait_for_step(handle, "signoff")
        await submit(handle, "signoff", SIGNOFF_OK, issued_at=await skipping_env.get_current_time())
        result = await handle.result()
    assert result.status == "completed" and len(result.breaches) == 1


async def test_sla_met_records_no_breach(skipping_env: WorkflowEnvironment) -> None:
    fakes, queue = FakeActivities(), f"sla-{uuid.uuid4()}"
    client = skipping_env.client
    async with build_worker(client, task_queue=queue, activities=fakes.all()):
        handle = await start_order(
            client, load_example("ac-repair"), queue, variables={"fault": "x"}
        )
        await wait_for_step(handle, "service")
        await skipping_env.sleep(timedelta(hours=23))
        await submit(handle, "service", SERVICE_OK, issued_at=await skipping_env.get_current_time())
        await wait_for_step(handle, "signoff")
        await submit(handle, "signoff", SIGNOFF_OK, issued_at=await skipping_env.get_current_time())
        result = await handle.result()
    assert result.breaches == [] and fakes.calls["notify"] == []


ESCALATING = [
    {
        "id": "approve",
        "type": "task",
        "next": "check",
        "assignee": {"kind": "user", "value": ENGINEER_USER},
        "sla": {"within": "P2D", "on_breach": "escalate", "escalate_to": "region_manager"},
    },
    {
        "id": "check",
        "type": "task",
        "next": "end",
        "assignee": {"kind": "user", "value": ENGINEER_USER},
        "sla": {"within": "PT4H", "on_breach": "reassign", "reassign_to": "engineer_bj_02"},
    },
    {"id": "end", "type": "end"},
]


async def test_escalation_lets_the_role_complete_and_reassign_moves_the_step(
    skipping_env: WorkflowEnvironment,
) -> None:
    fakes, queue = FakeActivities(), f"sla-{uuid.uuid4()}"
    client = skipping_env.client
    async with build_worker(client, task_queue=queue, activities=fakes.all()):
        handle = await start_order(client, definition(ESCALATING), queue)
        await wait_for_step(handle, "approve")
        await skipping_env.sleep(timedelta(days=2, minutes=1))
        await wait_until(handle, lambda s: bool(s.breaches))
        assert fakes.calls["notify"][-1].params["to_roles"] == ["region_manager"]
        await submit(
            handle,
            "approve",
            {},
            user="region_mgr_huabei",
            roles=["region_manager"],
            issued_at=await skipping_env.get_current_time(),
        )
        await wait_for_step(handle, "check")
        await skipping_env.sleep(timedelta(hours=5))
        moved = await wait_until(handle, lambda s: len(s.breaches) == 2)
        assert moved.active[0].assignee == "engineer_bj_02"
        await submit(
            handle,
            "check",
            {},
            user="engineer_bj_02",
            issued_at=await skipping_env.get_current_time(),
        )
        result = await handle.result()
    assert [b.action for b in result.breaches] == ["escalate", "reassign"]


async def test_timer_node_waits_its_duration(skipping_env: WorkflowEnvironment) -> None:
    fakes, queue = FakeActivities(), f"timer-{uuid.uuid4()}"
    client = skipping_env.client
    nodes = [
        {"id": "cool_down", "type": "timer", "params": {"duration": "P3D"}, "next": "end"},
        {"id": "end", "type": "end"},
    ]
    async with build_worker(client, task_queue=queue, activities=fakes.all()):
        handle = await start_order(client, definition(nodes), queue)
        result = await handle.result()  # the test server skips the three days
    timer = result.timeline[0]
    assert timer.completed_at is not None
    assert timer.completed_at - timer.started_at >= timedelta(days=3)
