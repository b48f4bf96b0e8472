"""The authorization matrix: each role × each route × an order in and out of its scope.

Two orders run once for the whole module: A in 华北, driven to settled (it has money), and
B in 华南, waiting for its engineer at `service`. Every route is asked by every kind of
user; a caller outside an order's scope gets the same 404 as for a missing order, and
routes that would change something are probed so that an allowed caller gets a harmless
refusal further in (409 on a finished order, 422 on a bad body) instead of a change.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import Engine
from temporalio.testing import WorkflowEnvironment

from api.main import create_app
from servflow.platform.db import make_session_factory
from tests.api.conftest import (
    CUSTOMER_BJ,
    CUSTOMER_GZ,
    SERVICE_OK,
    SIGNOFF_OK,
    api_settings,
    engineer_of,
    finished,
    make_headers,
    order_body,
    quiesce,
    real_worker,
    seed,
    truncate,
    wait_for,
    waiting_at,
)


@dataclass
class World:
    http: httpx.AsyncClient
    headers: object
    a: str
    b: str
    names: dict[str, str]

    def h(self, who: str) -> dict[str, str]:
        return self.headers(self.names.get(who, who))  # type: ignore[operator]


@pytest.fixture(scope="module")
async def world(db_engine: Engine, temporal_env: WorkflowEnvironment) -> AsyncIterator[World]:
    factory = make_session_factory(db_engine)
    seed(factory)
    queue = f"authz-{uuid.uuid4()}"
    client = temporal_env.client
    app = create_app(
        api_settings(), session_factory=factory, temporal_client=client, task_queue=queue
    )
    headers = make_headers(factory)
    try:
        async with real_worker(client, factory, queue):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
                admin = headers("hq_admin")
                a = (
                    await http.post(
                        "/api/orders",
                        json=order_body(),
                        headers={**headers("api_key"), "Idempotency-Key": str(uuid.uuid4())},
                    )
                ).json()["order_id"]
                body = await wait_for(http, a, waiting_at("service"), admin)
                engineer_a = engineer_of(body)
                outlet_a = body["state"]["variables"]["dispatch"]["outlet_id"]
                field = headers(engineer_a)
                await http.post(
                    f"/api/orders/{a}/steps/service", json={"data": SERVICE_OK}, headers=field
                )
                await wait_for(http, a, waiting_at("signoff"), admin)
                await http.post(
                    f"/api/orders/{a}/steps/signoff", json={"data": SIGNOFF_OK}, headers=field
                )
                await wait_for(http, a, finished, admin)

                b = (
                    await http.post(
                        "/api/orders",
                        json=order_body(region="huanan", customer=CUSTOMER_GZ),
                        headers=headers("dispatcher_huanan"),
                    )
                ).json()["order_id"]
                body = await wait_for(http, b, waiting_at("service"), admin)
                engineer_b = engineer_of(body)
                other_outlet = "tj_001" if outlet_a != "tj-001" else "sjz_001"
                names = {
                    "engineer_A": engineer_a,
                    "engineer_B": engineer_b,
                    "outlet_mgr_A": f"outlet_mgr_{outlet_a.replace('-', '_')}",
                    "outlet_mgr_other": f"outlet_mgr_{other_outlet}",
                    "engineer_other": "engineer_tj_01",
                }
                yield World(http=http, headers=headers, a=a, b=b, names=names)
                await quiesce(client, queue)
    finally:
        truncate(db_engine)


# who: (orders seen, reads money, manages orders)
USERS = {
    "hq_admin": ({"A", "B"}, True, True),
    "designer": ({"A", "B"}, False, False),
    "finance": ({"A", "B"}, True, False),
    "api_key": ({"A", "B"}, False, False),
    "dispatcher_huabei": ({"A"}, False, True),
    "dispatcher_huanan": ({"B"}, False, True),
    "region_mgr_huabei": ({"A"}, True, True),
    "region_mgr_huanan": ({"B"}, True, True),
    "outlet_mgr_A": ({"A"}, False, True),
    "outlet_mgr_other": (set(), False, True),
    "engineer_A": ({"A"}, False, False),
    "engineer_B": ({"B"}, False, False),
    "engineer_other": (set(), False, False),
    "care_huabei": ({"A"}, False, False),
    "care_huanan": ({"B"}, False, False),
}
# Who reads NPS and the low scores' follow-ups: the order's managers and customer care.
SURVEY_READERS = {
    "hq_admin",
    "dispatcher_huabei",
    "dispatcher_huanan",
    "region_mgr_huabei",
    "region_mgr_huanan",
    "outlet_mgr_A",
    "outlet_mgr_other",
    "care_huabei",
    "care_huanan",
}
WHO = sorted(USERS)


def order_id(world: World, which: str) -> str:
    return world.a if which == "A" else world.b


@pytest.mark.parametrize("which", ["A", "B"])
@pytest.mark.parametrize("who", WHO)
async def test_reading_an_order(world, who, which):
    sees, money, _ = USERS[who]
    response = await world.http.get(f"/api/orders/{order_id(world, which)}", headers=world.h(who))
    if which not in sees:
        assert response.status_code == 404
        assert "no order" in response.json()["detail"]
        return
    assert response.status_code == 200
    settlements = response.json()["settlements"]
    assert len(settlements) == (2 if money and which == "A" else 0)


@pytest.mark.parametrize("who", WHO)
async def test_reading_an_orders_money(world, who):
    sees, money, _ = USERS[who]
    response = await world.http.get(f"/api/orders/{world.a}/settlements", headers=world.h(who))
    if not money:
        assert response.status_code == 403
    elif "A" not in sees:
        assert response.status_code == 404
    else:
        assert response.status_code == 200
        assert len(response.json()["data"]) == 2


@pytest.mark.parametrize("who", WHO)
async def test_listing_orders_shows_only_what_is_in_scope(world, who):
    sees, _, _ = USERS[who]
    response = await world.http.get("/api/orders?limit=200", headers=world.h(who))
    assert response.status_code == 200
    listed = {o["order_id"] for o in response.json()["data"]}
    assert listed == {order_id(world, w) for w in sees}
    assert response.json()["count"] == len(sees)


@pytest.mark.parametrize("who", WHO)
async def test_listing_settlements_shows_only_money_in_scope(world, who):
    sees, money, _ = USERS[who]
    response = await world.http.get("/api/settlements", headers=world.h(who))
    if not money:
        assert response.status_code == 403
        return
    orders = {s["order_id"] for s in response.json()["data"]}
    assert orders == ({world.a} if "A" in sees else set())


@pytest.mark.parametrize("who", WHO)
async def test_cancelling(world, who):
    sees, _, manages = USERS[who]
    response = await world.http.post(
        f"/api/orders/{world.a}/cancel", json={"reason": "probe"}, headers=world.h(who)
    )
    expected = 403 if not manages else (409 if "A" in sees else 404)
    assert response.status_code == expected, response.text


@pytest.mark.parametrize("who", WHO)
async def test_reassigning(world, who):
    sees, _, manages = USERS[who]
    response = await world.http.post(
        f"/api/orders/{world.b}/reassign",
        json={"node_id": "service", "user_id": "engineer_bj_01"},  # outside 华南: refused
        headers=world.h(who),
    )
    expected = 403 if not manages else (422 if "B" in sees else 404)
    assert response.status_code == expected, response.text


@pytest.mark.parametrize("who", WHO)
async def test_submitting_a_step(world, who):
    sees, _, _ = USERS[who]
    response = await world.http.post(
        f"/api/orders/{world.b}/steps/service",
        json={"data": {"parts_needed": "not a boolean"}},  # a bad form: never accepted
        headers=world.h(who),
    )
    if "B" not in sees:
        expected = 404
    elif who == "engineer_B":
        expected = 422
    else:
        expected = 403  # sees the order, but the step is the dispatched engineer's
    assert response.status_code == expected, response.text


@pytest.mark.parametrize("who", WHO)
async def test_my_tasks(world, who):
    response = await world.http.get("/api/my/tasks", headers=world.h(who))
    assert response.status_code == 200
    tasks = {(t["order_id"], t["node_id"]) for t in response.json()["data"]}
    assert tasks == ({(world.b, "service")} if who == "engineer_B" else set())


@pytest.mark.parametrize("who", WHO)
async def test_starting_an_order_in_华北(world, who):
    # An unknown definition key is refused after the role and scope checks.
    body = order_body(definition_key="no-such-pipeline")
    headers = {**world.h(who), "Idempotency-Key": str(uuid.uuid4())}
    response = await world.http.post("/api/orders", json=body, headers=headers)
    starts = who in {"hq_admin", "api_key", "dispatcher_huabei", "region_mgr_huabei"}
    wrong_scope = who in {
        "dispatcher_huanan",
        "region_mgr_huanan",
        "outlet_mgr_A",
        "outlet_mgr_other",
    }
    expected = 422 if starts or wrong_scope else 403  # out of scope: refused as unknown
    assert response.status_code == expected, response.text
    if wrong_scope:
        assert "scope" in response.json()["detail"]


@pytest.mark.parametrize("who", WHO)
async def test_design_and_master_data_routes(world, who):
    designs = who in {"hq_admin", "designer"}
    edits_master_data = who in {"hq_admin", "region_mgr_huabei", "region_mgr_huanan"}
    h = world.h(who)
    draft = await world.http.put(
        "/api/definitions/no-such-definition/draft", json={"definition": {}}, headers=h
    )
    assert draft.status_code == (404 if designs else 403)
    test_run = await world.http.post("/api/orders/test-run", json={}, headers=h)
    assert test_run.status_code == (422 if designs else 403)
    read = await world.http.get("/api/definitions/ac-repair", headers=h)
    assert read.status_code == 200
    outlets = await world.http.get("/api/outlets", headers=h)
    assert outlets.status_code == (200 if edits_master_data else 403)


@pytest.mark.parametrize("who", WHO)
async def test_reading_nps_and_its_follow_ups(world, who):
    for path in ("/api/nps", "/api/nps/follow-ups"):
        response = await world.http.get(path, headers=world.h(who))
        assert response.status_code == (200 if who in SURVEY_READERS else 403), (path, who)


@pytest.mark.parametrize("who", ["care_huabei", "care_huanan", "engineer_A"])
async def test_customer_care_finds_the_customers_of_its_scope(world, who):
    found = {}
    for name in (CUSTOMER_BJ["name"], CUSTOMER_GZ["name"]):
        response = await world.http.get("/api/customers", params={"q": name}, headers=world.h(who))
        if who.startswith("engineer"):
            assert response.status_code == 403
            return
        assert response.status_code == 200, response.text
        found[name] = [c["name"] for c in response.json()["data"]]
    mine = CUSTOMER_BJ["name"] if who == "care_huabei" else CUSTOMER_GZ["name"]
    assert {name: bool(names) for name, names in found.items()} == {
        n: n == mine for n in (CUSTOMER_BJ["name"], CUSTOMER_GZ["name"])
    }
