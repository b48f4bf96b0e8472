"""A designer's test run is sandboxed: it shows what each effect would do and does none."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from servflow.billing.models import Payout, Settlement
from servflow.dispatch.models import DispatchDecision, Engineer
from servflow.notify.models import Notification
from servflow.orders.models import WorkOrder
from tests.api.conftest import CUSTOMER_BJ, engineer_of, wait_for, waiting_at

DRAFT: dict[str, Any] = {
    "key": "sandbox-check",
    "name": "试运行检查",
    "start": "report",
    "variables": [{"name": "fault", "type": "text", "required": True}],
    "nodes": [
        {"id": "report", "type": "report", "next": "dispatch"},
        {
            "id": "dispatch",
            "type": "dispatch",
            "next": "tell",
            "params": {"skills": ["refrigeration"], "radius_km": 200},
        },
        {
            "id": "tell",
            "type": "notify",
            "next": "service",
            "params": {
                "to_roles": ["region_manager"],
                "to_assignee": True,
                "message": "工单 {order_no} 已派单",
            },
        },
        {
            "id": "service",
            "type": "service",
            "next": "settle",
            "assignee": {"kind": "dispatched_engineer"},
            "form": [{"name": "diagnosis", "type": "text"}],
        },
        {"id": "settle", "type": "settlement", "next": "end", "params": {"share": "1"}},
        {"id": "end", "type": "end"},
    ],
}


def loads(session) -> dict[str, int]:
    return dict(session.execute(select(Engineer.code, Engineer.current_load)).tuples().all())


def count(session, model, order_id: str) -> int:
    return session.scalar(select(func.count()).where(model.order_id == order_id)) or 0


async def start_test_run(api, headers) -> str:
    started = await api.post(
        "/api/orders/test-run",
        json={
            "definition": DRAFT,
            "variables": {"fault": "ac_leak"},
            "customer": CUSTOMER_BJ,
            "region": "huabei",
        },
        headers=headers("designer"),
    )
    assert started.status_code == 201, started.text
    assert started.json()["test"] is True
    return str(started.json()["order_id"])


def timeline(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["node_id"]: e["data"] for e in body["state"]["timeline"]}


async def test_a_test_run_simulates_dispatch_and_notify_and_assigns_no_engineer(
    api, worker, headers, demo
):
    with demo() as session:
        before = loads(session)
    order_id = await start_test_run(api, headers)

    body = await wait_for(api, order_id, waiting_at("service"), headers("designer"))

    data = timeline(body)
    assert data["dispatch"]["sandbox"] is True
    assert data["dispatch"]["engineer_name"]
    ranked = [c["code"] for c in data["dispatch"]["candidates"] if "rank" in c]
    assert ranked[0] == data["dispatch"]["engineer_id"]
    assert data["tell"]["sandbox"] is True and data["tell"]["notification_id"] is None
    assert data["tell"]["message"].startswith("工单 SF")
    assert engineer_of(body) in data["tell"]["recipients"]
    with demo() as session:
        assert loads(session) == before
        assert count(session, DispatchDecision, order_id) == 0
        assert count(session, Notification, order_id) == 0
        row = session.scalars(select(WorkOrder).where(WorkOrder.order_id == order_id)).one()
        assert row.sandbox is True and row.current_engineer_id is None


async def test_a_test_run_is_in_no_one_elses_lists_tasks_or_order_reads(api, worker, headers):
    order_id = await start_test_run(api, headers)
    body = await wait_for(api, order_id, waiting_at("service"), headers("designer"))
    engineer = engineer_of(body)

    for user in ("designer", "hq_admin", "region_mgr_huabei", engineer):
        listed = (await api.get("/api/orders?limit=200", headers=headers(user))).json()
        assert order_id not in {o["order_id"] for o in listed["data"]}, user
        tasks = (await api.get("/api/my/tasks", headers=headers(user))).json()["data"]
        assert order_id not in {t["order_id"] for t in tasks}, user
    for other in ("hq_admin", "region_mgr_huabei", engineer):
        read = await api.get(f"/api/orders/{order_id}", headers=headers(other))
        assert read.status_code == 404, other
        waiting = await api.get(f"/api/orders/{order_id}/waiting", headers=headers(other))
        assert waiting.status_code == 404, other
    # The engineer the simulation chose cannot act on it either.
    refused = await api.post(
        f"/api/orders/{order_id}/steps/service",
        json={"data": {"diagnosis": "x"}},
        headers=headers(engineer),
    )
    assert refused.status_code == 404
    mine = await api.get(f"/api/orders/{order_id}/waiting", headers=headers("designer"))
    assert [s["node_id"] for s in mine.json()["steps"]] == ["service"]


async def test_a_test_run_completed_by_its_designer_settles_nothing(api, worker, headers, demo):
    with demo() as session:
        before = loads(session)
    order_id = await start_test_run(api, headers)
    await wait_for(api, order_id, waiting_at("service"), headers("designer"))

    done = await api.post(
        f"/api/orders/{order_id}/steps/service",
        json={"data": {"diagnosis": "冷媒泄漏"}},
        headers=headers("designer"),
    )
    assert done.status_code == 200, done.text
    outcome = await api.get(f"/api/orders/{order_id}/outcome?wait=20", headers=headers("designer"))
    assert outcome.json()["status"] == "completed"

    body = (await api.get(f"/api/orders/{order_id}", headers=headers("designer"))).json()
    settled = timeline(body)["settle"]
    assert settled["sandbox"] is True and settled["amount"] and settled["currency"] == "CNY"
    with demo() as session:
        assert count(session, Settlement, order_id) == 0
        assert session.scalar(select(func.count()).select_from(Payout)) == 0
        assert loads(session) == before
    money = (await api.get("/api/settlements", headers=headers("finance"))).json()
    assert order_id not in {s["order_id"] for s in money["data"]}
