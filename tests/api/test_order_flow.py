"""Orders driven only through HTTP: start to settled, idempotent start, racing field apps."""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal

from sqlalchemy import func, select

from servflow.billing.models import Payout, Settlement
from servflow.dispatch.models import Engineer
from servflow.orders.models import WorkOrder
from tests.api.conftest import (
    SERVICE_OK,
    SIGNOFF_OK,
    engineer_of,
    finished,
    order_body,
    wait_for,
    waiting_at,
)


async def test_an_order_runs_from_start_to_settled_through_http_only(api, worker, headers):
    client_key = {**headers("api_key"), "Idempotency-Key": f"crm-{uuid.uuid4()}"}
    started = await api.post("/api/orders", json=order_body(), headers=client_key)
    assert started.status_code == 201, started.text
    order_id = started.json()["order_id"]
    assert started.json()["definition_version"] == 1

    admin = headers("hq_admin")
    # One long poll until the first step waits for an engineer (no polling loop needed).
    first = await api.get(
        f"/api/orders/{order_id}/waiting?node_id=service&wait=20", headers=client_key
    )
    assert first.status_code == 200, first.text
    assert [s["node_id"] for s in first.json()["steps"]] == ["service"]
    assert first.json()["status"] == "dispatched" and first.json()["closed"] is False
    body = await wait_for(api, order_id, waiting_at("service"), admin)
    engineer = engineer_of(body)
    assert first.json()["steps"][0]["assignee"] == engineer
    assert engineer.startswith("engineer_bj_")  # a refrigeration engineer in 华北
    assert body["order"]["region"] == "huabei"
    # The read model alone (no question to the running order) shows the waiting step too.
    quick = (await api.get(f"/api/orders/{order_id}?live=false", headers=admin)).json()
    assert quick["state"] is None
    assert quick["order"]["current_node"] == "service"
    waiting = [(s["node_id"], s["assignee"]) for s in quick["steps"] if not s["completed_at"]]
    assert waiting == [("service", engineer)]

    # The engineer logs in with the demo password and finds the step in "my tasks".
    login = await api.post("/api/auth/login", json={"username": engineer, "password": "demo1234"})
    assert login.status_code == 200, login.text
    field_app = {"Authorization": f"Bearer {login.json()['access_token']}"}
    tasks = (await api.get("/api/my/tasks", headers=field_app)).json()["data"]
    assert [(t["order_id"], t["node_id"], t["name"]) for t in tasks] == [
        (order_id, "service", "上门维修")
    ]
    assert tasks[0]["assignee"] == engineer and tasks[0]["sla_deadline"] is not None

    done = await api.post(
        f"/api/orders/{order_id}/steps/service", json={"data": SERVICE_OK}, headers=field_app
    )
    assert done.status_code == 200, done.text
    assert done.json()["node_id"] == "service" and done.json()["visit"] == 1
    # The answer shows the order as it moved on: commissioning is being settled now.
    assert done.json()["status"] == "serviced"
    assert [(a["node_id"], a["human"]) for a in done.json()["active"]] == [("commissioning", False)]
    # The accepted step is in the read model at once.
    steps = (await api.get(f"/api/orders/{order_id}", headers=admin)).json()["steps"]
    service = next(s for s in steps if s["node_id"] == "service")
    assert service["actor"] == engineer and service["data"]["diagnosis"] == "冷媒泄漏，已补焊"

    signoff = await api.get(
        f"/api/orders/{order_id}/waiting?node_id=signoff&wait=20", headers=field_app
    )
    assert [(s["node_id"], s["assignee"]) for s in signoff.json()["steps"]] == [
        ("signoff", engineer)
    ]
    await wait_for(api, order_id, waiting_at("signoff"), admin)
    signed = await api.post(
        f"/api/orders/{order_id}/steps/signoff",
        json={"data": SIGNOFF_OK, "outcome": "accepted"},
        headers=field_app,
    )
    assert signed.status_code == 200, signed.text

    # The integration waits for the outcome with one long poll instead of polling.
    outcome = await api.get(f"/api/orders/{order_id}/outcome?wait=20", headers=client_key)
    assert outcome.status_code == 200, outcome.text
    assert outcome.json() == {"order_id": order_id, "closed": True, "status": "completed"}
    body = await wait_for(api, order_id, finished, admin)
    assert body["order"]["status"] == "completed"
    assert body["state"]["status"] == "completed"
    node_ids = [s["node_id"] for s in body["steps"]]
    for node in ("report", "dispatch", "service", "commissioning", "signoff", "final_settlement"):
        assert node in node_ids

    # Money per 华北's table: base fee 100 CNY, no parts, within the free km; 60/40.
    money = await api.get(f"/api/orders/{order_id}/settlements", headers=headers("finance"))
    assert money.status_code == 200
    amounts = {s["milestone"]: Decimal(s["amount"]) for s in money.json()["data"]}
    assert amounts == {"commissioning": Decimal("60.00"), "signoff": Decimal("40.00")}
    assert {Decimal(s["job_amount"]) for s in money.json()["data"]} == {Decimal("100.00")}
    assert all(s["currency"] == "CNY" for s in money.json()["data"])
    listed = await api.get("/api/settlements?region=华北", headers=headers("finance"))
    assert listed.json()["count"] == 2
    assert (await api.get("/api/my/tasks", headers=field_app)).json()["data"] == []


async def test_a_retry_with_the_same_idempotency_key_returns_the_same_order(api, worker, headers):
    ticket = f"crm-{uuid.uuid4()}"
    key = {**headers("api_key"), "Idempotency-Key": ticket}
    first = await api.post("/api/orders", json=order_body(), headers=key)
    again = await api.post("/api/orders", json=order_body(), headers=key)
    assert first.status_code == 201 and again.status_code == 200
    assert again.json()["order_id"] == first.json()["order_id"]
    assert again.json()["definition_key"] == "ac-repair"

    different = await api.post("/api/orders", json=order_body(priority=1), headers=key)
    assert different.status_code == 409
    assert "Idempotency-Key" in different.json()["detail"]

    # The same key from another caller is another order (another fault: the same customer's
    # open order for the same fault would be refused as a duplicate, whoever reports it).
    other = {**headers("dispatcher_huabei"), "Idempotency-Key": ticket}
    noise = order_body(variables={"fault": "ac_noise"})
    theirs = await api.post("/api/orders", json=noise, headers=other)
    assert theirs.status_code == 201
    assert theirs.json()["order_id"] != first.json()["order_id"]


async def test_concurrent_retries_start_one_order(api, worker, headers):
    key = {**headers("api_key"), "Idempotency-Key": f"crm-{uuid.uuid4()}"}
    responses = await asyncio.gather(
        *(api.post("/api/orders", json=order_body(), headers=key) for _ in range(4))
    )
    assert sorted(r.status_code for r in responses) == [200, 200, 200, 201]
    assert len({r.json()["order_id"] for r in responses}) == 1


async def test_two_field_apps_submitting_one_step_at_once_one_wins(api, worker, headers):
    started = await api.post("/api/orders", json=order_body(), headers=headers("hq_admin"))
    order_id = started.json()["order_id"]
    body = await wait_for(api, order_id, waiting_at("service"), headers("hq_admin"))
    engineer = headers(engineer_of(body))

    results = await asyncio.gather(
        api.post(
            f"/api/orders/{order_id}/steps/service", json={"data": SERVICE_OK}, headers=engineer
        ),
        api.post(
            f"/api/orders/{order_id}/steps/service", json={"data": SERVICE_OK}, headers=engineer
        ),
    )
    assert sorted(r.status_code for r in results) == [200, 409]
    loser = next(r for r in results if r.status_code == 409)
    assert "service" in loser.json()["detail"]

    body = await wait_for(api, order_id, waiting_at("signoff"), headers("hq_admin"))
    visits = [e for e in body["state"]["timeline"] if e["node_id"] == "service"]
    assert len(visits) == 1 and visits[0]["actor"] == engineer_of(body)
    rows = [s for s in body["steps"] if s["node_id"] == "service"]
    assert len(rows) == 1


async def test_step_errors_map_to_409_403_and_422_with_fields(api, worker, headers):
    started = await api.post("/api/orders", json=order_body(), headers=headers("hq_admin"))
    order_id = started.json()["order_id"]
    body = await wait_for(api, order_id, waiting_at("service"), headers("hq_admin"))
    engineer = headers(engineer_of(body))
    url = f"/api/orders/{order_id}/steps"

    not_active = await api.post(f"{url}/signoff", json={"data": SIGNOFF_OK}, headers=engineer)
    assert not_active.status_code == 409
    assert "signoff" in not_active.json()["detail"]

    unknown = await api.post(f"{url}/nope", json={"data": {}}, headers=engineer)
    assert unknown.status_code == 409

    # A dispatcher of the region sees the order but is not the dispatched engineer.
    wrong_actor = await api.post(
        f"{url}/service", json={"data": SERVICE_OK}, headers=headers("dispatcher_huabei")
    )
    assert wrong_actor.status_code == 403
    assert "dispatcher_huabei" in wrong_actor.json()["detail"]

    bad_form = await api.post(
        f"{url}/service", json={"data": {"parts_needed": "maybe"}}, headers=engineer
    )
    assert bad_form.status_code == 422
    errors = bad_form.json()["errors"]
    assert "data.diagnosis" in errors and "data.parts_needed" in errors
    assert bad_form.json()["node_id"] == "service"

    # Nothing was written: the step still waits and accepts a good form.
    ok = await api.post(f"{url}/service", json={"data": SERVICE_OK}, headers=engineer)
    assert ok.status_code == 200


async def test_cancel_and_reassign(api, worker, headers, demo):
    admin = headers("hq_admin")
    started = await api.post("/api/orders", json=order_body(), headers=headers("dispatcher_huabei"))
    assert started.status_code == 201, started.text
    order_id = started.json()["order_id"]
    body = await wait_for(api, order_id, waiting_at("service"), admin)
    first = engineer_of(body)
    other = "engineer_bj_02" if first != "engineer_bj_02" else "engineer_bj_01"

    bad_target = await api.post(
        f"/api/orders/{order_id}/reassign",
        json={"node_id": "service", "user_id": "engineer_gz_01"},
        headers=headers("dispatcher_huabei"),
    )
    assert bad_target.status_code == 422
    assert "user_id" in bad_target.json()["errors"]
    not_engineer = await api.post(
        f"/api/orders/{order_id}/reassign",
        json={"node_id": "service", "user_id": "finance"},
        headers=headers("dispatcher_huabei"),
    )
    assert not_engineer.status_code == 422
    not_waiting = await api.post(
        f"/api/orders/{order_id}/reassign",
        json={"node_id": "signoff", "user_id": other},
        headers=headers("dispatcher_huabei"),
    )
    assert not_waiting.status_code == 409

    moved = await api.post(
        f"/api/orders/{order_id}/reassign",
        json={"node_id": "service", "user_id": other, "reason": "病假"},
        headers=headers("dispatcher_huabei"),
    )
    assert moved.status_code == 202, moved.text
    body = await wait_for(
        api,
        order_id,
        lambda b: any(a["assignee"] == other for a in b["state"]["active"]),
        admin,
    )
    quick = (await api.get(f"/api/orders/{order_id}?live=false", headers=admin)).json()
    assert [(s["node_id"], s["assignee"]) for s in quick["steps"] if not s["completed_at"]] == [
        ("service", other)
    ]
    # The new engineer sees the order and may do the step; the first may not any more.
    assert (await api.get(f"/api/orders/{order_id}", headers=headers(other))).status_code == 200
    refused = await api.post(
        f"/api/orders/{order_id}/steps/service", json={"data": SERVICE_OK}, headers=headers(first)
    )
    assert refused.status_code in (403, 404)
    tasks = (await api.get("/api/my/tasks", headers=headers(other))).json()["data"]
    assert [(t["order_id"], t["node_id"]) for t in tasks] == [(order_id, "service")]
    assert (await api.get("/api/my/tasks", headers=headers(first))).json()["data"] == []
    listed = await api.get("/api/orders", headers=headers(other))
    assert [o["order_id"] for o in listed.json()["data"]] == [order_id]
    with demo() as session:
        loads = dict(
            session.execute(
                select(Engineer.code, Engineer.current_load).where(
                    Engineer.code.in_(
                        [first.removeprefix("engineer_"), other.removeprefix("engineer_")]
                    )
                )
            ).all()
        )
    assert loads == {first.removeprefix("engineer_"): 0, other.removeprefix("engineer_"): 1}

    cancelled = await api.post(
        f"/api/orders/{order_id}/cancel",
        json={"reason": "客户取消"},
        headers=headers("region_mgr_huabei"),
    )
    assert cancelled.status_code == 202, cancelled.text
    body = await wait_for(api, order_id, lambda b: b["state"]["status"] == "cancelled", admin)
    outcome = await api.get(f"/api/orders/{order_id}/outcome?wait=20", headers=admin)
    assert outcome.json() == {"order_id": order_id, "closed": True, "status": "cancelled"}
    # The step that was waiting is closed with the order, not left waiting for ever.
    steps = (await api.get(f"/api/orders/{order_id}?live=false", headers=admin)).json()["steps"]
    service = next(s for s in steps if s["node_id"] == "service")
    assert service["completed_at"] is not None and service["outcome"] == "cancelled"
    assert (await api.get("/api/my/tasks", headers=headers(other))).json()["data"] == []
    again = await api.post(
        f"/api/orders/{order_id}/cancel", json={"reason": "again"}, headers=admin
    )
    assert again.status_code == 409
    late = await api.post(
        f"/api/orders/{order_id}/steps/service", json={"data": SERVICE_OK}, headers=admin
    )
    assert late.status_code == 409


async def test_settlements_filter_by_time_and_missing_orders_are_404(api, headers):
    finance = headers("finance")
    future = await api.get("/api/settlements?from=2099-01-01T00:00:00", headers=finance)
    assert future.status_code == 200 and future.json() == {"data": [], "count": 0}
    bad = await api.get("/api/settlements?from=yesterday", headers=finance)
    assert bad.status_code == 422 and "from" in bad.json()["errors"]
    missing = await api.get("/api/orders/wo-missing/settlements", headers=finance)
    assert missing.status_code == 404
    versions = await api.get("/api/definitions/nope/versions", headers=finance)
    assert versions.status_code == 404


async def test_long_polls_on_a_running_order_answer_when_the_wait_runs_out(api, worker, headers):
    admin = headers("hq_admin")
    started = await api.post("/api/orders", json=order_body(), headers=admin)
    order_id = started.json()["order_id"]
    body = await wait_for(api, order_id, waiting_at("service"), admin)

    now = await api.get(f"/api/orders/{order_id}/outcome", headers=admin)
    assert now.json() == {"order_id": order_id, "closed": False, "status": "dispatched"}
    waited = await api.get(f"/api/orders/{order_id}/outcome?wait=0.3", headers=admin)
    assert waited.status_code == 200 and waited.json()["closed"] is False

    # Waiting for a step the order has not reached answers with what waits when time is up.
    not_yet = await api.get(
        f"/api/orders/{order_id}/waiting?node_id=signoff&wait=0.3", headers=admin
    )
    assert [s["node_id"] for s in not_yet.json()["steps"]] == ["service"]
    too_long = await api.get(f"/api/orders/{order_id}/outcome?wait=600", headers=admin)
    assert too_long.status_code == 422 and "wait" in too_long.json()["errors"]
    # Another region's manager cannot learn whether the order exists.
    for path in ("outcome", "waiting?wait=1", "?live=false"):
        hidden = await api.get(
            f"/api/orders/{order_id}/{path}".replace("/?", "?"),
            headers=headers("region_mgr_huanan"),
        )
        assert hidden.status_code == 404
    missing = await api.get("/api/orders/wo-missing/outcome", headers=admin)
    assert missing.status_code == 404
    # An engineer sees only the orders dispatched to them, from the read model too.
    other = "engineer_bj_02" if engineer_of(body) != "engineer_bj_02" else "engineer_bj_01"
    theirs = await api.get(f"/api/orders/{order_id}?live=false", headers=headers(other))
    assert theirs.status_code == 404
    mine = await api.get(f"/api/orders/{order_id}?live=false", headers=headers(engineer_of(body)))
    assert mine.status_code == 200 and mine.json()["state"] is None


def money_rows(factory, order_id: str | None = None) -> tuple[int, int, int]:
    """Orders, settlements and payouts written (of one order when given)."""
    with factory() as session:
        orders = select(func.count(WorkOrder.order_id))
        settled = select(func.count(Settlement.id))
        paid = select(func.count(Payout.id)).join(Settlement)
        if order_id is not None:
            orders = orders.where(WorkOrder.order_id == order_id)
            settled = settled.where(Settlement.order_id == order_id)
            paid = paid.where(Settlement.order_id == order_id)
        return tuple(session.scalar(q) or 0 for q in (orders, settled, paid))  # type: ignore[return-value]


async def test_undeclared_order_variables_are_refused_and_nothing_is_written(api, headers, demo):
    """Issue 9: `zz.parts_used` was settled as 405,100.00 CNY of refrigerant."""
    attack = order_body(
        region=None, variables={"fault": "x", "zz": {"parts_used": "R410A-10KG x 1000"}}
    )

    refused = await api.post("/api/orders", json=attack, headers=headers("outlet_mgr_bj_001"))

    assert refused.status_code == 422, refused.text
    assert refused.json()["errors"] == {"variables.zz": "is not a variable of this pipeline"}
    assert money_rows(demo) == (0, 0, 0)


async def test_reported_parts_are_checked_and_a_job_above_the_ceiling_waits_for_finance(
    api, worker, headers, demo
):
    admin = headers("hq_admin")
    started = await api.post("/api/orders", json=order_body(), headers=admin)
    order_id = started.json()["order_id"]
    body = await wait_for(api, order_id, waiting_at("service"), admin)
    engineer = headers(engineer_of(body))
    url = f"/api/orders/{order_id}/steps/service"

    for parts, field, message in [
        ("AC CAP 35UF two pieces", "data.parts_used", "must be a list"),
        ([{"sku": "AC-CAP-35UF", "qty": 99999999999999}], "data.parts_used", "line 1: qty"),
        ([{"sku": "NOPE-1", "qty": 1}], "data.parts_used[0].sku", "no part 'NOPE-1'"),
    ]:
        refused = await api.post(
            url, json={"data": {**SERVICE_OK, "parts_used": parts}}, headers=engineer
        )
        assert refused.status_code == 422, refused.text
        assert refused.json()["errors"][field].startswith(message)
    assert money_rows(demo, order_id)[1:] == (0, 0)

    # 30 compressors at 680.00 and the 100.00 visit: above the 20,000.00 ceiling.
    compressors = [{"sku": "AC-COMP-1P", "qty": 30}]
    done = await api.post(
        url, json={"data": {**SERVICE_OK, "parts_used": compressors}}, headers=engineer
    )
    assert done.status_code == 200, done.text
    await wait_for(api, order_id, waiting_at("signoff"), admin)
    signed = await api.post(
        f"/api/orders/{order_id}/steps/signoff", json={"data": SIGNOFF_OK}, headers=engineer
    )
    assert signed.status_code == 200, signed.text
    assert (await wait_for(api, order_id, finished, admin))["order"]["status"] == "completed"

    finance = headers("finance")
    listed = (await api.get(f"/api/orders/{order_id}/settlements", headers=finance)).json()
    assert [(s["status"], s["job_amount"], s["payouts"]) for s in listed["data"]] == [
        ("held", "20500.00", []),
        ("held", "20500.00", []),
    ]
    held = listed["data"][0]
    assert held["breakdown"]["hold"]["reasons"] == [
        "job total 20500.00 is above the ceiling 20000.00"
    ]
    approve = f"/api/settlements/{held['id']}/approve"
    assert (await api.post(approve, headers=headers("region_mgr_huabei"))).status_code == 403
    assert (await api.post("/api/settlements/999999/approve", headers=finance)).status_code == 404

    approved = await api.post(approve, headers=finance)
    again = await api.post(approve, headers=headers("hq_admin"))

    assert approved.status_code == again.status_code == 200, approved.text
    assert again.json() == approved.json()
    assert approved.json()["status"] == "paid" and approved.json()["approved_by"] == "finance"
    assert sum(Decimal(p["amount"]) for p in approved.json()["payouts"]) == Decimal("12300.00")
    assert money_rows(demo, order_id) == (1, 2, 2)
