"""The customer's sign-off completes the order's waiting `signoff` step, exactly once:
the link issued while the order waits there submits the customer's signature, rating and
comment as that step (as the customer, through the step-submission service) and the
order moves on to its settlement; a double tap or a retry is answered alike and submits
nothing twice; a step whose form asks for more than the customer gives (ac-repair's
completion photos) stays the engineer's and the link is a survey only."""

from __future__ import annotations

import asyncio
import base64
import copy
import io
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from PIL import Image
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client

from servflow.customers.models import SignoffLink, Survey
from servflow.definitions import repo as definitions
from servflow.orders.models import WorkOrderStep
from servflow.platform.base import utcnow
from tests.api.conftest import (
    AC_REPAIR,
    SERVICE_OK,
    engineer_of,
    finished,
    make_headers,
    order_body,
    quiesce,
    real_worker,
    seed,
    wait_for,
    waiting_at,
)
from tests.customers.conftest import sealing_api
from workflows.validate import validate_definition

# ac-repair with the customer's sign-off: what the page gives, nothing the engineer gives.
CUSTOMER_SIGNOFF = [
    {"name": "signature", "label": "客户签名", "type": "signature"},
    {"name": "rating", "label": "推荐度", "type": "number", "min": 0, "max": 10},
    {"name": "comment", "label": "留言", "type": "text", "required": False},
]


def customer_pipeline() -> dict:
    raw = copy.deepcopy(AC_REPAIR)
    raw["key"] = "ac-repair-customer-signs"
    for node in raw["nodes"]:
        if node["id"] == "signoff":
            node["form"] = CUSTOMER_SIGNOFF
    return raw


@pytest.fixture
def demo(session_factory: sessionmaker[Session]) -> sessionmaker[Session]:
    seed(session_factory)
    raw = customer_pipeline()
    report = validate_definition(raw)
    assert report.definition is not None, report.problems
    with session_factory() as session:
        definitions.save_draft(session, key=raw["key"], draft=raw, user="designer")
        definitions.publish_version(
            session, key=raw["key"], body=report.definition.model_dump(mode="json"), user="designer"
        )
        session.commit()
    return session_factory


@pytest.fixture
def task_queue() -> str:
    return f"signoff-{uuid.uuid4()}"


@pytest.fixture
async def api(demo, client: Client, task_queue: str, tmp_path) -> AsyncIterator[httpx.AsyncClient]:
    async with sealing_api(demo, tmp_path, client, task_queue) as http:
        yield http


@pytest.fixture
async def worker(demo, client: Client, task_queue: str) -> AsyncIterator[None]:
    async with real_worker(client, demo, task_queue):
        yield
        await quiesce(client, task_queue)


def signature(color=(255, 255, 255)) -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (300, 120), color).save(buffer, "PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def completed(body: dict, node_id: str) -> list[dict]:
    return [
        e
        for e in body["state"]["timeline"]
        if e["node_id"] == node_id and e["completed_at"] is not None
    ]


async def at_signoff(api, headers, definition_key: str) -> tuple[str, str]:
    """An order of `definition_key` serviced and waiting for its sign-off; its engineer."""
    admin = headers("hq_admin")
    started = await api.post(
        "/api/orders",
        json=order_body(definition_key=definition_key),
        headers={**headers("api_key"), "Idempotency-Key": str(uuid.uuid4())},
    )
    assert started.status_code in (200, 201, 202), started.text
    order_id = started.json()["order_id"]
    body = await wait_for(api, order_id, waiting_at("service"), admin)
    engineer = engineer_of(body)
    done = await api.post(
        f"/api/orders/{order_id}/steps/service",
        json={"data": SERVICE_OK},
        headers=headers(engineer),
    )
    assert done.status_code == 200, done.text
    await wait_for(api, order_id, waiting_at("signoff"), admin)
    return order_id, engineer


async def test_the_customers_signoff_completes_the_step_once_and_the_order_settles(
    api, worker, demo
):
    headers = make_headers(demo)
    admin = headers("hq_admin")
    order_id, engineer = await at_signoff(api, headers, "ac-repair-customer-signs")
    link = await api.post(f"/api/orders/{order_id}/signoff-link", headers=headers(engineer))
    assert link.status_code == 201, link.text
    assert (link.json()["node_id"], link.json()["survey_only"]) == ("signoff", "")
    token = link.json()["url"].rsplit("/", 1)[1]

    answer = {"rating": 8, "comment": "准时, 干净", "signature": signature()}
    # A double tap: two posts of the same answer at once.
    first, second = await asyncio.gather(
        api.post(f"/api/signoff/{token}", json=answer),
        api.post(f"/api/signoff/{token}", json=answer),
    )
    assert first.status_code == second.status_code == 200, (first.text, second.text)
    expected = {"order_id": order_id, "rating": 8, "follow_up": False, "node_id": "signoff"}
    assert first.json() == second.json() == expected
    # A retry later: the same answer again.
    again = await api.post(f"/api/signoff/{token}", json=answer)
    assert again.status_code == 200 and again.json() == expected

    body = await wait_for(api, order_id, finished, admin)
    assert body["order"]["status"] == "completed"
    signed = completed(body, "signoff")
    assert len(signed) == 1  # submitted once
    step = signed[0]
    assert step["actor"] == f"signoff-link:{link_id(demo, order_id)}"
    assert step["actor"] != engineer
    # The survey and the step agree.
    with demo() as session:
        survey = session.scalars(select(Survey).where(Survey.order_id == order_id)).one()
        assert step["data"] == {
            "signature": survey.signature_file,
            "rating": survey.rating,
            "comment": survey.comment,
        }
        assert (survey.rating, survey.comment) == (8, "准时, 干净")
        recorded = session.scalars(
            select(WorkOrderStep).where(
                WorkOrderStep.order_id == order_id, WorkOrderStep.node_id == "signoff"
            )
        ).all()
        assert len(recorded) == 1
    # The final settlement ran after the customer's sign-off.
    assert any(e["node_id"] == "final_settlement" for e in body["state"]["timeline"])

    # Another answer on the used link is refused, clearly.
    other = await api.post(
        f"/api/signoff/{token}", json={**answer, "rating": 2, "comment": "改主意了"}
    )
    assert other.status_code == 409 and "another answer" in other.json()["detail"]
    page = await api.get(f"/api/signoff/{token}")
    assert page.status_code == 404 and "used" in page.json()["detail"]


def link_id(demo, order_id: str) -> int:
    with demo() as session:
        return session.scalars(select(SignoffLink.id).where(SignoffLink.order_id == order_id)).one()


async def test_an_expired_link_is_410_and_signs_nothing(api, worker, demo):
    headers = make_headers(demo)
    order_id, engineer = await at_signoff(api, headers, "ac-repair-customer-signs")
    link = await api.post(f"/api/orders/{order_id}/signoff-link", headers=headers(engineer))
    token = link.json()["url"].rsplit("/", 1)[1]
    with demo() as session:
        session.execute(
            update(SignoffLink)
            .where(SignoffLink.order_id == order_id)
            .values(expires_at=utcnow() - timedelta(minutes=1))
        )
        session.commit()
    late = await api.post(f"/api/signoff/{token}", json={"rating": 9, "signature": signature()})
    assert late.status_code == 410, late.text
    assert "expired" in late.json()["detail"]
    unknown = await api.post("/api/signoff/nope", json={"rating": 9, "signature": signature()})
    assert unknown.status_code == 404 and "unknown" in unknown.json()["detail"]
    body = await wait_for(api, order_id, waiting_at("signoff"), headers("hq_admin"))
    assert not completed(body, "signoff")


async def test_a_step_asking_for_the_engineers_photos_stays_theirs(api, worker, demo):
    headers = make_headers(demo)
    admin = headers("hq_admin")
    order_id, engineer = await at_signoff(api, headers, "ac-repair")
    link = await api.post(f"/api/orders/{order_id}/signoff-link", headers=headers(engineer))
    assert link.status_code == 201, link.text
    assert link.json()["node_id"] is None
    assert "photos" in link.json()["survey_only"]
    token = link.json()["url"].rsplit("/", 1)[1]
    done = await api.post(f"/api/signoff/{token}", json={"rating": 10, "signature": signature()})
    assert done.status_code == 200 and done.json()["node_id"] is None
    body = await wait_for(api, order_id, waiting_at("signoff"), admin)
    assert not completed(body, "signoff")


async def test_a_step_the_engineer_completed_first_leaves_the_survey_alone(api, worker, demo):
    headers = make_headers(demo)
    admin = headers("hq_admin")
    order_id, engineer = await at_signoff(api, headers, "ac-repair-customer-signs")
    link = await api.post(f"/api/orders/{order_id}/signoff-link", headers=headers(engineer))
    token = link.json()["url"].rsplit("/", 1)[1]
    by_engineer = await api.post(
        f"/api/orders/{order_id}/steps/signoff",
        json={"data": {"signature": "file-sig-paper", "rating": 7}},
        headers=headers(engineer),
    )
    assert by_engineer.status_code == 200, by_engineer.text
    done = await api.post(f"/api/signoff/{token}", json={"rating": 9, "signature": signature()})
    assert done.status_code == 200, done.text
    assert done.json()["node_id"] is None  # the survey is kept; the step was the engineer's
    body = await wait_for(api, order_id, finished, admin)
    assert [e["actor"] for e in completed(body, "signoff")] == [engineer]
