"""Business-time SLA clocks end to end on the time-skipping server, with the real
activities: deadlines in working hours, holidays skipped, paused clocks, each ladder level
once, and the breach list showing a breach from its stored deadline."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from activities.registry import ActivityDeps, build_activities
from api.main import create_app
from servflow.notify.models import Notification
from servflow.orders.models import WorkOrder, WorkOrderStep
from servflow.org.rules import Principal
from servflow.sla import service as sla
from servflow.sla.models import SlaCalendar, SlaClock, SlaPolicy
from tests.api.conftest import api_settings, make_headers
from tests.workflows.support import definition, start_order, state, submit, wait_until
from worker import build_worker
from workflows import constants as c
from workflows.business_time import SEVEN_BY_TWELVE
from workflows.contracts import OrderState, SlaHold

SHANGHAI = ZoneInfo("Asia/Shanghai")
ENGINEER = "engineer_bj_near"
SCOPES = {
    "hq": "/hq",
    "huabei": "/hq/huabei",
    "huadong": "/hq/huadong",
}


def principal(username: str, role: str, scope: str) -> Principal:
    return Principal(
        id=0, username=username, display_name="", roles=(role,), scope_path=SCOPES[scope]
    )


def task(sla: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "id": "repair",
            "type": "task",
            "name": "上门维修",
            "next": "end",
            "assignee": {"kind": "user", "value": ENGINEER},
            "sla": sla,
        },
        {"id": "end", "type": "end"},
    ]


def add_calendar(session_factory: sessionmaker[Session], **update: Any) -> None:
    with session_factory() as session:
        body = SEVEN_BY_TWELVE.model_copy(update=update).model_dump(mode="json")
        session.add(SlaCalendar(key="cn-7x12", name="7×12", scope_path="/hq", body=body))
        session.commit()


@pytest.fixture
async def env(
    skipping_env: WorkflowEnvironment, world: Any, deps: ActivityDeps
) -> AsyncIterator[tuple[WorkflowEnvironment, str]]:
    queue = f"sla-{uuid.uuid4()}"
    async with build_worker(
        skipping_env.client, task_queue=queue, activities=build_activities(deps)
    ):
        yield skipping_env, queue


async def skip_to(env: WorkflowEnvironment, moment: datetime) -> None:
    now = await env.get_current_time()
    assert moment > now, "the test server's clock only moves forward"
    await env.sleep(moment - now)


def next_weekday_at(after: datetime, weekday: int, hour: int, minute: int) -> datetime:
    """The first local `weekday` (ISO) at hour:minute in Shanghai at least a day after `after`."""
    day = after.astimezone(SHANGHAI).date() + timedelta(days=1)
    while day.isoweekday() != weekday:
        day += timedelta(days=1)
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=SHANGHAI)


async def clocked(handle: WorkflowHandle[Any, Any], session_factory: Any) -> SlaClock:
    """The step's clock once the workflow started it."""
    await wait_until(handle, lambda s: any(a.node_id == "repair" for a in s.active))
    for _ in range(200):
        with session_factory() as session:
            clock = session.scalars(select(SlaClock).where(SlaClock.order_id == handle.id)).first()
            if clock is not None:
                return clock
        await wait_until(handle, lambda s: True)
    raise AssertionError("the clock never started")


def breached(session_factory: Any, user: Principal, now: datetime, state: str = "breached"):
    with session_factory() as session:
        rows, _count = sla.breach_list(session, user, state=state, now=now, limit=50, offset=0)
        return [(r.order_id, r.node_id) for r in rows]


async def test_friday_evening_under_7x12_is_due_saturday_and_the_breach_shows_at_once(
    env: tuple[WorkflowEnvironment, str], session_factory: sessionmaker[Session]
) -> None:
    skipping, queue = env
    add_calendar(session_factory)
    friday = next_weekday_at(await skipping.get_current_time(), 5, 19, 50)
    await skip_to(skipping, friday)
    handle = await start_order(
        skipping.client,
        definition(task({"within": "PT2H", "clock": "business", "notify": ["region_manager"]})),
        queue,
    )
    clock = await clocked(handle, session_factory)
    late = clock.started_at - friday
    assert clock.deadline == friday + timedelta(hours=14) + late  # Saturday 09:50
    assert clock.deadline.astimezone(SHANGHAI).strftime("%a %H:%M") == "Sat 09:50"
    live = await wait_until(handle, lambda s: s.active[0].sla_deadline == clock.deadline)
    assert live.breaches == []

    # Visible from the stored deadline, before the workflow's timer has fired.
    after = clock.deadline + timedelta(seconds=1)
    manager = principal("region_mgr_huabei", "region_manager", "huabei")
    assert breached(session_factory, manager, clock.deadline - timedelta(minutes=1)) == []
    assert breached(session_factory, manager, after) == [(handle.id, "repair")]
    assert breached(session_factory, principal("x", "region_manager", "huadong"), after) == []
    at_risk_at = clock.at_risk_at
    assert at_risk_at is not None and at_risk_at < clock.deadline
    assert breached(session_factory, manager, at_risk_at, "at_risk") == [(handle.id, "repair")]

    await skip_to(skipping, clock.deadline + timedelta(minutes=5))
    hit = await wait_until(handle, lambda s: bool(s.breaches))
    assert [(b.node_id, b.level) for b in hit.breaches] == [("repair", 1)]
    with session_factory() as session:
        row = session.scalars(
            select(WorkOrderStep).where(WorkOrderStep.order_id == handle.id)
        ).one()
        assert row.completed_at is None and row.assignee == ENGINEER  # still waiting
        assert row.sla_deadline == clock.deadline
    await submit(handle, "repair", {}, user=ENGINEER, issued_at=await skipping.get_current_time())
    result = await handle.result()
    assert result.status == "completed" and len(result.breaches) == 1
    assert breached(session_factory, manager, after) == []  # done: off the list


async def test_a_national_day_holiday_is_skipped(
    env: tuple[WorkflowEnvironment, str], session_factory: sessionmaker[Session]
) -> None:
    skipping, queue = env
    now = (await skipping.get_current_time()).astimezone(SHANGHAI)
    # The test server's clock only moves forward: the next National Day it has not passed.
    year = now.year + 1 if now.date() >= date(now.year, 9, 29) else now.year
    golden_week = [date(year, 10, day) for day in range(1, 8)]
    add_calendar(session_factory, holidays=golden_week)
    eve = datetime(year, 9, 30, 19, 0, tzinfo=SHANGHAI)
    await skip_to(skipping, eve)
    handle = await start_order(
        skipping.client, definition(task({"within": "PT2H", "clock": "business"})), queue
    )
    clock = await clocked(handle, session_factory)
    assert clock.deadline is not None
    assert clock.deadline - (clock.started_at - eve) == datetime(year, 10, 8, 9, 0, tzinfo=SHANGHAI)
    await submit(handle, "repair", {}, user=ENGINEER, issued_at=await skipping.get_current_time())
    assert (await handle.result()).breaches == []


async def test_a_paused_clock_does_not_breach_and_resumes_with_its_deadline_moved(
    env: tuple[WorkflowEnvironment, str], session_factory: sessionmaker[Session]
) -> None:
    skipping, queue = env
    add_calendar(session_factory)
    monday = next_weekday_at(await skipping.get_current_time(), 1, 9, 0)
    await skip_to(skipping, monday)
    handle = await start_order(
        skipping.client,
        definition(task({"within": "PT2H", "clock": "business", "notify": ["region_manager"]})),
        queue,
    )
    clock = await clocked(handle, session_factory)
    first_deadline = clock.deadline
    assert first_deadline is not None
    await skip_to(skipping, monday + timedelta(hours=1))
    app = create_app(
        api_settings(), session_factory=session_factory, temporal_client=skipping.client
    )
    headers = make_headers(session_factory)
    pause = f"/api/orders/{handle.id}/steps/repair/sla/pause"
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as http:
        # Only the step's own engineer (or a manager of the order) may pause its clock.
        other = await http.post(pause, json={}, headers=headers("engineer_bj_far"))
        assert other.status_code in (403, 404)
        paused = await http.post(pause, json={"reason": "等待配件"}, headers=headers(ENGINEER))
        assert paused.status_code == 202, paused.text
        held = await wait_until(handle, lambda s: s.active[0].sla_deadline is None)
        with session_factory() as session:
            row = session.scalars(select(SlaClock).where(SlaClock.order_id == handle.id)).one()
            assert row.paused_at is not None and row.deadline is None
            assert row.pause_reason == "等待配件"
    await skip_to(skipping, monday + timedelta(hours=30))  # past the old deadline, paused
    assert (await state(handle)).breaches == []
    manager = principal("region_mgr_huabei", "region_manager", "huabei")
    assert breached(session_factory, manager, monday + timedelta(hours=30)) == []
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as http:
        resume = f"/api/orders/{handle.id}/steps/repair/sla/resume"
        answer = await http.post(resume, headers=headers("region_mgr_huabei"))
        assert answer.status_code == 202, answer.text
    resumed: OrderState = await wait_until(handle, lambda s: s.active[0].sla_deadline is not None)
    # Paused Mon 10:00 → Tue 15:00: 10 + 7 working hours later than first planned.
    moved = resumed.active[0].sla_deadline
    assert moved is not None
    # (The test server's clock runs on between calls: a few seconds either way.)
    assert abs(moved - first_deadline - timedelta(hours=29)) < timedelta(minutes=1)
    with session_factory() as session:
        row = session.scalars(select(SlaClock).where(SlaClock.order_id == handle.id)).one()
        assert row.paused_at is None and row.pause_reason is None
    assert held.breaches == [] and resumed.breaches == []
    await submit(handle, "repair", {}, user=ENGINEER, issued_at=await skipping.get_current_time())
    result = await handle.result()
    assert result.breaches == []


LADDER = {
    "name": "上门服务 7×12",
    "calendar": "cn-7x12",
    "rules": [
        {
            "priorities": [1, 2],
            "within": "PT4H",
            "ladder": [
                {"at": 80, "action": "notify", "to_assignee": True},
                {"at": 100, "action": "notify", "to_roles": ["dispatcher", "region_manager"]},
                {"at": 100, "after": "PT2H", "action": "raise_priority", "to_roles": ["hq_admin"]},
                {"at": 150, "action": "reassign", "reassign_to": "engineer_bj_far"},
            ],
        },
        {"within": "P1D"},
    ],
}


async def test_each_escalation_level_fires_once_even_across_a_pause(
    env: tuple[WorkflowEnvironment, str], session_factory: sessionmaker[Session]
) -> None:
    skipping, queue = env
    add_calendar(session_factory)
    with session_factory() as session:
        session.add(SlaPolicy(key="onsite", version=1, scope_path="/hq", body=LADDER))
        session.commit()
    monday = next_weekday_at(await skipping.get_current_time(), 1, 9, 0)
    await skip_to(skipping, monday)
    handle = await start_order(
        skipping.client, definition(task({"within": "P2D", "policy": "onsite"})), queue
    )
    clock = await clocked(handle, session_factory)
    assert (clock.policy_key, clock.policy_version, clock.target_seconds) == ("onsite", 1, 4 * 3600)
    await skip_to(skipping, monday + timedelta(hours=3, minutes=30))  # past 80 %
    await wait_until(handle, lambda s: s.active[0].sla_deadline is not None)
    await handle.signal(c.SIGNAL_SLA_PAUSE, SlaHold(node_id="repair", reason="customer"))
    await wait_until(handle, lambda s: s.active[0].sla_deadline is None)
    await handle.signal(c.SIGNAL_SLA_RESUME, SlaHold(node_id="repair"))
    await wait_until(handle, lambda s: s.active[0].sla_deadline is not None)
    await skip_to(skipping, monday + timedelta(hours=10))  # past every level
    done = await wait_until(handle, lambda s: len(s.breaches) == 3)
    assert [b.level for b in done.breaches] == [2, 3, 4]
    assert done.active[0].assignee == "engineer_bj_far"
    await skip_to(skipping, monday + timedelta(days=3))
    assert len((await state(handle)).breaches) == 3
    with session_factory() as session:
        keys = session.scalars(
            select(Notification.idempotency_key).where(Notification.order_id == handle.id)
        ).all()
        fired = session.scalars(select(SlaClock.fired).where(SlaClock.order_id == handle.id)).one()
        # Level 3 raised the priority (2 → 1) in the workflow and in the stored order row
        # the lists and the desk show, once.
        stored = session.scalars(
            select(WorkOrder.priority).where(WorkOrder.order_id == handle.id)
        ).one()
    described = await handle.describe()
    assert stored == 1 == described.typed_search_attributes.get(c.SA_PRIORITY)
    # Level 4 only reassigns: nobody is told.
    assert sorted(k.rsplit("/", 1)[1] for k in keys) == ["sla1", "sla2", "sla3"]
    assert fired == [0, 1, 2, 3]
    await submit(
        handle, "repair", {}, user="engineer_bj_far", issued_at=await skipping.get_current_time()
    )
    assert (await handle.result()).status == "completed"
