"""The API under faults of the store and of Temporal: clear answers, nothing lost."""

from __future__ import annotations

import httpx
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from api.main import create_app
from tests.api.conftest import (
    SERVICE_OK,
    api_settings,
    engineer_of,
    order_body,
    wait_for,
    waiting_at,
)


class _DiesOnClose(Session):
    """A session whose connection was terminated under it: closing it raises."""

    def close(self) -> None:
        super().close()
        raise OperationalError("ROLLBACK", {}, Exception("terminating connection"))


async def test_a_failing_session_teardown_loses_no_answer(demo, headers, client, task_queue):
    # PostgreSQL terminated the pooled connection: the request's answer must still arrive,
    # and the next request on the same client must be answered too.
    dying = sessionmaker(bind=demo.kw["bind"], class_=_DiesOnClose, expire_on_commit=False)
    app = create_app(
        api_settings(), session_factory=dying, temporal_client=client, task_queue=task_queue
    )
    login = {"username": "finance", "password": "demo1234"}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as http:
        first = await http.post("/api/auth/login", json=login)
        second = await http.post("/api/auth/login", json=login)
    assert first.status_code == 200, first.text
    assert second.status_code == 200, second.text


async def test_a_just_started_order_is_found_before_any_worker_answers(api, headers):
    # No worker polls this test's task queue: the order exists only in Temporal.
    started = await api.post("/api/orders", json=order_body(), headers=headers("region_mgr_huabei"))
    assert started.status_code == 201, started.text
    order_id = started.json()["order_id"]
    me = headers("region_mgr_huabei")

    detail = await api.get(f"/api/orders/{order_id}", headers=me)
    assert detail.status_code == 200, detail.text
    assert detail.json()["state"]["status"] == "running"
    assert detail.json()["state"]["definition_key"] == "ac-repair"
    waiting = await api.get(f"/api/orders/{order_id}/waiting", headers=me)
    assert waiting.status_code == 200 and waiting.json()["steps"] == []
    outcome = await api.get(f"/api/orders/{order_id}/outcome", headers=me)
    assert outcome.status_code == 200 and outcome.json()["closed"] is False


async def test_a_just_started_order_stays_hidden_outside_its_scope(api, headers):
    started = await api.post("/api/orders", json=order_body(), headers=headers("region_mgr_huabei"))
    order_id = started.json()["order_id"]
    other = await api.get(f"/api/orders/{order_id}", headers=headers("region_mgr_huanan"))
    assert other.status_code == 404
    assert other.json()["detail"] == f"no order '{order_id}'"


async def test_a_step_retried_with_its_idempotency_key_is_answered_not_refused(
    api, worker, headers
):
    started = await api.post("/api/orders", json=order_body(), headers=headers("hq_admin"))
    order_id = started.json()["order_id"]
    body = await wait_for(api, order_id, waiting_at("service"), headers("hq_admin"))
    engineer = {**headers(engineer_of(body)), "Idempotency-Key": "svc-1"}
    url = f"/api/orders/{order_id}/steps/service"

    first = await api.post(url, json={"data": SERVICE_OK}, headers=engineer)
    # The answer was lost on the way back; the field app sends the same request again.
    again = await api.post(url, json={"data": SERVICE_OK}, headers=engineer)

    assert first.status_code == 200, first.text
    assert again.status_code == 200, again.text
    assert again.json()["visit"] == first.json()["visit"] == 1
    assert again.json()["completed_at"] == first.json()["completed_at"]
    # Without the key the same request is what it is: a second submission, refused.
    plain = {k: v for k, v in engineer.items() if k != "Idempotency-Key"}
    assert (await api.post(url, json={"data": SERVICE_OK}, headers=plain)).status_code == 409


async def test_a_step_no_worker_takes_is_a_bounded_504_to_retry(demo, headers, client, task_queue):
    # No worker polls this queue: the order never takes the step.
    app = create_app(
        api_settings(step_wait_seconds=1),
        session_factory=demo,
        temporal_client=client,
        task_queue=task_queue,
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as http:
        started = await http.post("/api/orders", json=order_body(), headers=headers("hq_admin"))
        order_id = started.json()["order_id"]
        response = await http.post(
            f"/api/orders/{order_id}/steps/report",
            json={"data": {}},
            headers={**headers("hq_admin"), "Idempotency-Key": "k-1"},
        )
    assert response.status_code == 504, response.text
    assert response.headers.get("Retry-After") == "1"
    assert "retry" in response.json()["detail"]
