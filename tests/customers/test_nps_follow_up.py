"""A detractor's score at sign-off opens a real follow-up: an `nps_followup` order at the
rated order's outlet whose call-back task waits in the task list of customer care (客服)
of that scope — not the dispatchers', who only read the order — once per survey, even
when the sign-off is submitted twice or the opener runs twice or dies between starting
the order and recording it."""

from __future__ import annotations

import asyncio
import base64
import io
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from PIL import Image
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client

from activities.registry import ActivityDeps, build_activities
from servflow.customers import service as customers
from servflow.customers.models import Survey
from servflow.definitions import service as definitions
from servflow.integrations import followups
from servflow.orders.models import WorkOrder
from servflow.org.models import OrgUnit
from servflow.platform.base import utcnow
from tests.api.conftest import make_headers, quiesce, seed
from tests.customers.conftest import sealing_api
from worker import build_worker


@pytest.fixture
def demo(session_factory: sessionmaker[Session]) -> sessionmaker[Session]:
    seed(session_factory)
    return session_factory


@pytest.fixture
def task_queue() -> str:
    return f"nps-{uuid.uuid4()}"


@pytest.fixture
async def api(demo, client: Client, task_queue: str, tmp_path) -> AsyncIterator[httpx.AsyncClient]:
    async with sealing_api(demo, tmp_path, client, task_queue) as http:
        yield http


@pytest.fixture
async def worker(demo, client: Client, task_queue: str) -> AsyncIterator[None]:
    deps = ActivityDeps(session_factory=demo)
    async with build_worker(client, task_queue=task_queue, activities=build_activities(deps)):
        yield
        await quiesce(client, task_queue)


def signature() -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (300, 120), (255, 255, 255)).save(buffer, "PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def signoff_link(demo, rated_order: str) -> str:
    with demo() as session:
        outlet = session.scalars(select(OrgUnit).where(OrgUnit.code == "bj-001")).one()
        customer, _ = customers.link_or_create_customer(
            session,
            name="吴敏",
            phone=f"139{uuid.uuid4().int % 10**8:08d}",
            address="北京市朝阳区建国路88号",
            city="北京",
            lat=39.9087,
            lng=116.4605,
        )
        token, _ = customers.create_signoff_link(
            session,
            order_id=rated_order,
            customer_id=customer.id,
            org_path=outlet.path,
            region="huabei",
            outlet="bj-001",
            engineer="engineer_bj_01",
            now=utcnow(),
        )
        session.commit()
    return token


async def tasks_of(api, headers, username: str) -> list[dict]:
    response = await api.get("/api/my/tasks", headers=headers(username))
    assert response.status_code == 200, response.text
    return response.json()["data"]


async def wait_for_task(api, headers, username: str, order_id: str) -> dict:
    for _ in range(200):
        found = [t for t in await tasks_of(api, headers, username) if t["order_id"] == order_id]
        if found:
            return found[0]
        await asyncio.sleep(0.1)
    raise AssertionError(f"no task of {order_id} for {username}")


async def open_round(demo, client, task_queue) -> int:
    return await followups.open_follow_ups(demo, client, task_queue=task_queue, clock=utcnow)


async def test_a_low_score_opens_one_call_back_task_for_customer_care(
    api, worker, demo, client, task_queue
):
    headers = make_headers(demo)
    rated = f"order-{uuid.uuid4().hex[:12]}"
    token = signoff_link(demo, rated)
    body = {"rating": 3, "comment": "迟到两小时", "signature": signature()}
    first = await api.post(f"/api/signoff/{token}", json=body)
    assert first.status_code == 200 and first.json()["follow_up"] is True
    again = await api.post(f"/api/signoff/{token}", json=body)
    assert again.json() == first.json()  # the same answer again: still one survey

    assert await open_round(demo, client, task_queue) == 1
    assert await open_round(demo, client, task_queue) == 0

    follow_up = f"nps-{rated}"
    task = await wait_for_task(api, headers, "care_huabei", follow_up)
    assert task["node_id"] == "call_back"
    for other in ("care_huanan", "dispatcher_huabei"):
        assert follow_up not in {t["order_id"] for t in await tasks_of(api, headers, other)}
    # Another region's customer care does not see the order; the region's dispatcher reads
    # it (an order of their scope) but may not do the call back.
    hidden = await api.get(f"/api/orders/{follow_up}", headers=headers("care_huanan"))
    assert hidden.status_code == 404
    seen = await api.get(f"/api/orders/{follow_up}", headers=headers("dispatcher_huabei"))
    assert seen.status_code == 200
    called = {"reached": True, "cause": "上门时间", "resolution": "致歉, 下次提前电话"}
    refused = await api.post(
        f"/api/orders/{follow_up}/steps/call_back",
        json={"data": called},
        headers=headers("dispatcher_huabei"),
    )
    assert refused.status_code == 403, refused.text
    # Customer care reads the low score with its call-back order, and does the call back.
    listed = await api.get("/api/nps/follow-ups", headers=headers("care_huabei"))
    assert [
        (f["order_id"], f["follow_up_order_id"], f["follow_up_status"]) for f in listed.json()
    ] == [(rated, follow_up, "reported")]
    done = await api.post(
        f"/api/orders/{follow_up}/steps/call_back",
        json={"data": called},
        headers=headers("care_huabei"),
    )
    assert done.status_code == 200, done.text
    for _ in range(200):
        listed = await api.get("/api/nps/follow-ups", headers=headers("care_huabei"))
        if listed.json()[0]["follow_up_status"] == "completed":
            break
        await asyncio.sleep(0.1)
    assert listed.json()[0]["follow_up_status"] == "completed"
    order = (await api.get(f"/api/orders/{follow_up}", headers=headers("hq_admin"))).json()
    assert order["state"]["context"]["outlet"] == "bj-001"
    assert order["state"]["variables"]["survey_order_id"] == rated
    assert order["state"]["variables"]["rating"] == 3
    with demo() as session:
        survey = session.scalars(select(Survey).where(Survey.order_id == rated)).one()
        assert survey.follow_up_order_id == follow_up
        # One follow-up order, whatever the rounds.
        assert (
            session.scalar(
                select(func.count()).select_from(WorkOrder).where(WorkOrder.order_id == follow_up)
            )
            == 1
        )


async def test_a_follow_up_started_but_not_recorded_is_not_started_twice(
    api, worker, demo, client, task_queue, monkeypatch
):
    rated = f"order-{uuid.uuid4().hex[:12]}"
    token = signoff_link(demo, rated)
    done = await api.post(f"/api/signoff/{token}", json={"rating": 5, "signature": signature()})
    assert done.json()["follow_up"] is True

    def dies(*args, **kwargs):
        raise ConnectionError("the worker died after starting the order")

    real_mark = followups._mark
    monkeypatch.setattr(followups, "_mark", dies)
    assert await open_round(demo, client, task_queue) == 1  # started, not recorded
    monkeypatch.setattr(followups, "_mark", real_mark)
    assert await open_round(demo, client, task_queue) == 0  # found started: only recorded
    assert await open_round(demo, client, task_queue) == 0
    with demo() as session:
        survey = session.scalars(select(Survey).where(Survey.order_id == rated)).one()
        assert survey.follow_up_order_id == f"nps-{rated}"


async def test_a_good_score_opens_nothing(api, demo, client, task_queue):
    rated = f"order-{uuid.uuid4().hex[:12]}"
    token = signoff_link(demo, rated)
    done = await api.post(f"/api/signoff/{token}", json={"rating": 9, "signature": signature()})
    assert done.json()["follow_up"] is False
    assert await open_round(demo, client, task_queue) == 0


def _published(demo, raw: dict, user: str) -> None:
    with demo() as session:
        definitions.publish(session, key=raw["key"], raw=raw, user=user)
        session.commit()


def _call_back_role(demo) -> str:
    with demo() as session:
        pipeline, _ = followups._definition(session)
    node = next(n for n in pipeline.nodes if n.id == "call_back")
    assert node.assignee is not None
    return node.assignee.value


def test_the_shipped_follow_up_moves_to_customer_care_a_designers_stays(demo):
    # A store that published the earlier shipped pipeline (the dispatcher's desk).
    old = customers.follow_up_definition()
    next(n for n in old["nodes"] if n["id"] == "call_back")["assignee"]["value"] = "dispatcher"
    _published(demo, old, followups.SHIPPED_BY)
    assert _call_back_role(demo) == "customer_care"
    assert _call_back_role(demo) == "customer_care"  # published once
    with demo() as session:
        assert len(definitions.list_versions(session, key=old["key"])) == 2
    # A designer's version is theirs to keep.
    _published(demo, old, "designer")
    assert _call_back_role(demo) == "dispatcher"
