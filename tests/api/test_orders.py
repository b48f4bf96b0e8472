"""Starting orders: who may, where, with what; test runs; lists and detail."""

from __future__ import annotations

import uuid

from tests.api.conftest import (
    AC_REPAIR,
    CUSTOMER_GZ,
    SERVICE_OK,
    engineer_of,
    order_body,
    wait_for,
    waiting_at,
)
from workflows.constants import SA_REGION


def keyed(headers: dict[str, str]) -> dict[str, str]:
    return {**headers, "Idempotency-Key": str(uuid.uuid4())}


async def test_api_clients_must_send_an_idempotency_key(api, headers):
    response = await api.post("/api/orders", json=order_body(), headers=headers("api_key"))
    assert response.status_code == 422
    assert response.json()["errors"] == {"Idempotency-Key": "is required"}


async def test_start_body_errors_name_the_field(api, headers):
    admin = keyed(headers("hq_admin"))
    missing_variable = await api.post("/api/orders", json=order_body(variables={}), headers=admin)
    assert missing_variable.status_code == 422
    assert missing_variable.json()["errors"] == {"variables.fault": "is required"}
    wrong_type = await api.post(
        "/api/orders", json=order_body(variables={"fault": 3}), headers=admin
    )
    assert wrong_type.json()["errors"] == {"variables.fault": "must be of type text"}
    bad_lat = await api.post(
        "/api/orders",
        json=order_body(customer={"name": "x", "lat": 123}),
        headers=admin,
    )
    assert bad_lat.status_code == 422
    assert "customer.lat" in bad_lat.json()["errors"]
    unknown = await api.post("/api/orders", json=order_body(definition_key="nope"), headers=admin)
    assert unknown.status_code == 422 and "definition_key" in unknown.json()["errors"]
    no_version = await api.post("/api/orders", json=order_body(version=7), headers=admin)
    assert no_version.status_code == 422 and "version" in no_version.json()["errors"]
    bad_region = await api.post("/api/orders", json=order_body(region="火星"), headers=admin)
    assert bad_region.json()["errors"] == {"region": "no region '火星' within your scope"}
    mismatch = await api.post(
        "/api/orders", json=order_body(region="huanan", outlet="bj-001"), headers=admin
    )
    assert mismatch.status_code == 422 and "outlet" in mismatch.json()["errors"]
    extra = await api.post("/api/orders", json={**order_body(), "owner": "me"}, headers=admin)
    assert extra.status_code == 422 and "owner" in extra.json()["errors"]


async def test_nobody_starts_orders_outside_their_scope(api, headers):
    # Refused like an unknown unit (422), so the answer does not reveal what exists.
    huanan = await api.post(
        "/api/orders", json=order_body(region="huabei"), headers=headers("region_mgr_huanan")
    )
    assert huanan.status_code == 422
    assert huanan.json()["errors"] == {"region": "no region 'huabei' within your scope"}
    outlet = await api.post(
        "/api/orders",
        json=order_body(region=None, outlet="bj-002"),
        headers=headers("outlet_mgr_bj_001"),
    )
    assert outlet.status_code == 422
    assert outlet.json()["errors"] == {"outlet": "no outlet 'bj-002' within your scope"}
    for user in ("engineer_bj_01", "finance", "designer"):
        response = await api.post("/api/orders", json=order_body(), headers=headers(user))
        assert response.status_code == 403, user


async def test_an_order_without_a_region_belongs_to_the_callers_own_unit(
    api, worker, headers, client
):
    started = await api.post(
        "/api/orders",
        json=order_body(region=None, customer=CUSTOMER_GZ),
        headers=headers("dispatcher_huanan"),
    )
    assert started.status_code == 201, started.text
    body = await wait_for(
        api, started.json()["order_id"], waiting_at("service"), headers("dispatcher_huanan")
    )
    # Operators search Temporal by the region's name; the read model keeps its code.
    assert body["state"]["context"]["region"] == "华南"
    assert body["order"]["region"] == "huanan"
    handle = client.get_workflow_handle(started.json()["order_id"])
    attributes = (await handle.describe()).typed_search_attributes
    assert attributes.get(SA_REGION) == "华南"
    assert body["state"]["context"]["started_by"] == "dispatcher_huanan"


async def test_lists_filter_and_page(api, worker, headers):
    admin = headers("hq_admin")
    ids = []
    for fault in ("ac_leak", "ac_noise", "ac_smell"):
        body = order_body(variables={"fault": fault})
        started = await api.post("/api/orders", json=body, headers=admin)
        ids.append(started.json()["order_id"])
    for order_id in ids:
        await wait_for(api, order_id, waiting_at("service"), admin)
    page = await api.get("/api/orders?limit=2&region=华北&status=dispatched", headers=admin)
    assert page.status_code == 200
    assert page.json()["count"] == 3 and len(page.json()["data"]) == 2
    rest = await api.get("/api/orders?limit=2&offset=2&definition_key=ac-repair", headers=admin)
    assert len(rest.json()["data"]) == 1
    none = await api.get("/api/orders?region=huanan", headers=admin)
    assert none.json()["count"] == 0
    bad = await api.get("/api/orders?limit=0", headers=admin)
    assert bad.status_code == 422 and "limit" in bad.json()["errors"]
    missing = await api.get("/api/orders/wo-does-not-exist", headers=admin)
    assert missing.status_code == 404


async def test_a_draft_runs_as_a_test_order(api, worker, headers):
    draft = {**AC_REPAIR, "key": "ac-repair-next"}
    started = await api.post(
        "/api/orders/test-run",
        json={
            "definition": draft,
            "variables": {"fault": "noise"},
            "customer": CUSTOMER_GZ,
            "region": "huanan",
        },
        headers=headers("designer"),
    )
    assert started.status_code == 201, started.text
    assert started.json()["test"] is True
    assert started.json()["definition_key"] == "ac-repair-next-test"
    order_id = started.json()["order_id"]
    body = await wait_for(api, order_id, waiting_at("service"), headers("designer"))
    assert body["state"]["context"]["started_by"] == "test-run:designer"
    # A test run is its designer's alone: the engineer dispatch would have chosen never
    # sees it; the designer submits its steps.
    engineer = headers(engineer_of(body))
    hidden = await api.post(
        f"/api/orders/{order_id}/steps/service", json={"data": SERVICE_OK}, headers=engineer
    )
    assert hidden.status_code == 404
    done = await api.post(
        f"/api/orders/{order_id}/steps/service",
        json={"data": SERVICE_OK},
        headers=headers("designer"),
    )
    assert done.status_code == 200, done.text


async def test_a_broken_draft_is_not_test_run(api, headers):
    draft = {**AC_REPAIR, "key": "broken", "start": "nowhere"}
    response = await api.post(
        "/api/orders/test-run", json={"definition": draft}, headers=headers("designer")
    )
    assert response.status_code == 422
    assert response.json()["problems"][0]["path"].startswith("$")
    nothing = await api.post("/api/orders/test-run", json={}, headers=headers("designer"))
    assert nothing.status_code == 422 and "definition" in nothing.json()["errors"]
    refused = await api.post(
        "/api/orders/test-run", json={"definition": draft}, headers=headers("dispatcher_huabei")
    )
    assert refused.status_code == 403


async def test_a_published_version_runs_as_a_test_order(api, worker, headers):
    response = await api.post(
        "/api/orders/test-run",
        json={
            "definition_key": "ac-repair",
            "version": 1,
            "variables": {"fault": "x"},
            "customer": CUSTOMER_GZ,
            "region": "huanan",
        },
        headers=headers("hq_admin"),
    )
    assert response.status_code == 201, response.text
    assert response.json()["definition_key"] == "ac-repair-test"


async def test_nul_characters_are_refused_before_they_reach_an_order(api, headers):
    body = order_body(variables={"fault": "leak\x00"})
    response = await api.post("/api/orders", json=body, headers=keyed(headers("hq_admin")))
    assert response.status_code == 422
    assert "variables.fault contains a NUL character" in response.json()["detail"]


async def test_a_step_for_a_role_is_in_the_tasks_of_that_role_within_scope(api, worker, headers):
    draft = {
        "key": "approval",
        "name": "审批",
        "start": "report",
        "nodes": [
            {"id": "report", "type": "report", "next": "approve"},
            {
                "id": "approve",
                "type": "task",
                "name": "区域经理审批",
                "next": "end",
                "assignee": {"kind": "role", "value": "region_manager"},
            },
            {"id": "end", "type": "end"},
        ],
    }
    designer = headers("designer")
    assert (
        await api.post("/api/definitions", json={"definition": draft}, headers=designer)
    ).is_success
    assert (await api.post("/api/definitions/approval/publish", headers=designer)).is_success
    started = await api.post(
        "/api/orders",
        json={
            "definition_key": "approval",
            "customer": CUSTOMER_GZ,
            "region": "huanan",
            "variables": {},
        },
        headers=headers("hq_admin"),
    )
    assert started.status_code == 201, started.text
    order_id = started.json()["order_id"]
    waiting = await api.get(
        f"/api/orders/{order_id}/waiting?node_id=approve&wait=20", headers=headers("hq_admin")
    )
    assert [s["assignee"] for s in waiting.json()["steps"]] == ["role:region_manager"]

    tasks = (await api.get("/api/my/tasks", headers=headers("region_mgr_huanan"))).json()
    assert [(t["order_id"], t["node_id"]) for t in tasks["data"]] == [(order_id, "approve")]
    for elsewhere in ("region_mgr_huabei", "finance", "engineer_gz_01"):
        theirs = (await api.get("/api/my/tasks", headers=headers(elsewhere))).json()["data"]
        assert order_id not in {t["order_id"] for t in theirs}, elsewhere

    done = await api.post(
        f"/api/orders/{order_id}/steps/approve",
        json={"data": {}},
        headers=headers("region_mgr_huanan"),
    )
    assert done.status_code == 200, done.text
    outcome = await api.get(f"/api/orders/{order_id}/outcome?wait=20", headers=headers("hq_admin"))
    assert outcome.json()["status"] == "completed"
    after = (await api.get("/api/my/tasks", headers=headers("region_mgr_huanan"))).json()["data"]
    assert order_id not in {t["order_id"] for t in after}
