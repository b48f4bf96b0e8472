"""The API under faults of the store and of Temporal: clear answers, nothing lost."""

from __future__ import annotations

import httpx
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from api.main import create_app
from tests.api.conftest import api_settings, order_body


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
