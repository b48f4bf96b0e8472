"""The attack table: each attack on the trust of the platform, performed through the API.

Every refusal is a JSON body that names the field or the node, never a 500, and leaves
nothing written. Attacks whose fix another area owns (accounts, money bounds, test-run
sandbox, forged actors, codec) are tested in those areas.
"""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.exc import DataError, IntegrityError

from api.main import create_app
from tests.api.conftest import (
    AC_REPAIR,
    SERVICE_OK,
    SIGNOFF_OK,
    api_settings,
    engineer_of,
    finished,
    order_body,
    wait_for,
    waiting_at,
)

pytestmark = pytest.mark.usefixtures("demo")


def definition(key: str, **changes: Any) -> dict[str, Any]:
    body = copy.deepcopy(AC_REPAIR)
    body.update({"key": key, **changes})
    return body


def escaped(body: dict[str, Any]) -> bytes:
    """The body as JSON with every non-ASCII character as an escape ("\\ud800")."""
    return json.dumps(body, ensure_ascii=True).encode()


def assert_refused(response: httpx.Response, status: int, field: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert field in body["errors"], body
    assert body["detail"].startswith(f"{field}: "), body
    return dict(body)


async def definition_keys(api: httpx.AsyncClient, headers: dict[str, str]) -> set[str]:
    listed = await api.get("/api/definitions", headers=headers)
    return {d["key"] for d in listed.json()["data"]}


# ---- a lone surrogate in a definition name ----------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/definitions"),
        ("POST", "/api/definitions/validate"),
        ("PUT", "/api/definitions/ac-repair/draft"),
    ],
)
async def test_a_lone_surrogate_in_a_definition_name_is_refused_naming_it(
    api, headers, method, path
):
    designer = headers("designer")
    content = escaped({"definition": definition("ux-surrogate", name="UX-\ud800")})
    assert b"UX-\\ud800" in content
    response = await api.request(
        method, path, content=content, headers={**designer, "Content-Type": "application/json"}
    )
    body = assert_refused(response, 422, "definition.name")
    assert "unpaired surrogate" in body["errors"]["definition.name"]
    assert "ux-surrogate" not in await definition_keys(api, designer)
    stored = await api.get("/api/definitions/ac-repair", headers=designer)
    assert stored.json()["draft"]["name"] == "空调维修"  # the draft is unchanged


async def test_a_surrogate_pair_is_ordinary_text(api, headers):
    designer = headers("designer")
    content = escaped({"definition": definition("emoji", name="UX-\U0001f600")})
    assert b"\\ud83d\\ude00" in content
    response = await api.post(
        "/api/definitions",
        content=content,
        headers={**designer, "Content-Type": "application/json"},
    )
    assert response.status_code == 201, response.text
    assert response.json()["draft"]["name"] == "UX-\U0001f600"


async def test_a_lone_surrogate_in_order_variables_is_refused_and_nothing_starts(api, headers):
    admin = headers("hq_admin")
    content = escaped(order_body(variables={"fault": "漏水\udc00"}))
    response = await api.post(
        "/api/orders", content=content, headers={**admin, "Content-Type": "application/json"}
    )
    assert_refused(response, 422, "variables.fault")
    listed = await api.get("/api/orders", headers=admin)
    assert listed.json()["count"] == 0


# ---- nesting 500 deep --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/orders"),
        ("POST", "/api/definitions"),
        ("POST", "/api/definitions/validate"),
        ("PUT", "/api/definitions/ac-repair/draft"),
        ("POST", "/api/auth/login"),
        ("POST", "/api/outlets"),
        ("POST", "/api/orders/wo-x/steps/service"),
    ],
)
async def test_json_nested_500_deep_is_refused_on_every_route(api, headers, method, path):
    deep = b'{"definition": ' + b"[" * 500 + b"]" * 500 + b"}"
    response = await api.request(
        method,
        path,
        content=deep,
        headers={**headers("hq_admin"), "Content-Type": "application/json"},
    )
    assert_refused(response, 422, "body")
    assert "nested deeper than" in response.json()["errors"]["body"]


# ---- valid-looking pipelines that would wedge the worker ---------------------------------


def with_decision(key: str, when: str) -> dict[str, Any]:
    body = definition(key)
    parts = next(n for n in body["nodes"] if n["id"] == "parts")
    parts["branches"][0]["when"] = when
    return body


@pytest.mark.parametrize(
    "when",
    ['int(decimal("1e300000")) > 0', "-" * 1990 + "1"],
    ids=["huge-decimal", "deep-unary"],
)
async def test_a_pipeline_that_would_wedge_the_worker_is_refused_at_publish(api, headers, when):
    designer = headers("designer")
    saved = await api.put(
        "/api/definitions/ac-repair/draft",
        json={"definition": with_decision("ac-repair", when)},
        headers=designer,
    )
    assert saved.status_code == 200, saved.text
    published = await api.post("/api/definitions/ac-repair/publish", headers=designer)
    assert published.status_code == 422, published.text
    [problem] = published.json()["problems"]
    assert problem["node_id"] == "parts" and problem["path"] == "$.nodes[4].branches[0].when"
    versions = await api.get("/api/definitions/ac-repair/versions", headers=designer)
    assert [v["version"] for v in versions.json()["data"]] == [1]  # nothing published


async def test_a_catastrophic_form_pattern_answers_a_submission_at_once(api, headers, worker):
    designer, admin = headers("designer"), headers("hq_admin")
    body = definition("ac-repair")
    service = next(n for n in body["nodes"] if n["id"] == "service")
    service["form"].append({"name": "code", "type": "text", "pattern": "(a+)+$"})
    await api.put("/api/definitions/ac-repair/draft", json={"definition": body}, headers=designer)
    published = await api.post("/api/definitions/ac-repair/publish", headers=designer)
    assert published.status_code == 201, published.text
    started = await api.post("/api/orders", json=order_body(), headers=admin)
    order_id = started.json()["order_id"]
    engineer = headers(engineer_of(await wait_for(api, order_id, waiting_at("service"), admin)))
    evil = await api.post(
        f"/api/orders/{order_id}/steps/service",
        json={"data": {**SERVICE_OK, "code": "a" * 5000 + "!"}},
        headers=engineer,
    )
    assert evil.status_code == 422, evil.text
    assert evil.json()["node_id"] == "service" and "data.code" in evil.json()["errors"]
    fine = await api.post(
        f"/api/orders/{order_id}/steps/service",
        json={"data": {**SERVICE_OK, "code": "aaaa"}},
        headers=engineer,
    )
    assert fine.status_code == 200, fine.text


# ---- what a refusal tells ----------------------------------------------------------------


LEAKS = ("constraint", "insert", "sqlite", "psycopg", "unique", "violat", "values", "org_unit")


async def test_a_duplicate_through_master_data_is_refused_without_database_text(api, headers):
    admin = headers("hq_admin")
    again = await api.post(
        "/api/outlets", json={"code": "bj-001", "name": "x", "parent": "bj-branch"}, headers=admin
    )
    assert again.status_code == 409
    assert_no_database_text(again)


def refusing_app(error: Exception) -> FastAPI:
    """The real app with one more route, which fails the way a racing write does."""
    app = create_app(api_settings())

    def write() -> None:
        raise error

    app.add_api_route("/api/race", write, methods=["POST"])
    return app


def duplicate_outlet(demo) -> IntegrityError:
    """What the database (SQLite or PostgreSQL) raises for a second outlet 'bj-001'."""
    duplicate = text(
        "INSERT INTO org_unit (kind, code, name, path, city, created_at) "
        "VALUES ('outlet', 'bj-001', 'x', '/elsewhere', '', CURRENT_TIMESTAMP)"
    )
    with pytest.raises(IntegrityError) as caught, demo() as session:
        session.execute(duplicate)
    return caught.value


async def refused_by(error: Exception) -> httpx.Response:
    transport = httpx.ASGITransport(app=refusing_app(error))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        return await http.post("/api/race")


def assert_no_database_text(response: httpx.Response) -> None:
    assert not [leak for leak in LEAKS if leak in response.text.lower()], response.text


async def test_a_conflict_names_the_field_but_never_the_database(demo, caplog):
    response = await refused_by(duplicate_outlet(demo))
    assert response.status_code == 409
    assert_no_database_text(response)
    assert response.json() == {
        "detail": "code: conflicts with stored data",
        "errors": {"code": "conflicts with stored data"},
    }
    assert "org_unit" in caplog.text  # the driver's detail is kept for the operator


async def test_a_refused_value_never_shows_the_database_text(caplog):
    driver = ValueError("value too long for type character varying(64) in org_unit")
    response = await refused_by(DataError("INSERT INTO org_unit", {}, driver))
    assert response.status_code == 422
    assert_no_database_text(response)
    assert response.json() == {"detail": "a value was refused by the database"}
    assert "character varying(64)" in caplog.text


# ---- units outside the caller's scope look like unknown ones -----------------------------


@pytest.mark.parametrize(
    ("who", "elsewhere"),
    [
        ("dispatcher_huabei", "gz-001"),
        ("outlet_mgr_bj_001", "bj-002"),
        ("region_mgr_huanan", "bj-001"),
    ],
)
async def test_an_outlet_outside_the_scope_is_refused_like_an_unknown_one(
    api, headers, who, elsewhere
):
    caller = headers(who)
    answers = []
    for outlet in (elsewhere, "zz-999"):
        response = await api.post(
            "/api/orders", json=order_body(region=None, outlet=outlet), headers=caller
        )
        body = assert_refused(response, 422, "outlet")
        answers.append(body["errors"]["outlet"].replace(outlet, "<code>"))
    assert answers[0] == answers[1] == "no outlet '<code>' within your scope"
    assert (await api.get("/api/orders", headers=headers("hq_admin"))).json()["count"] == 0


async def test_a_region_outside_the_scope_is_refused_like_an_unknown_one(api, headers):
    caller = headers("region_mgr_huanan")
    out = await api.post("/api/orders", json=order_body(region="huabei"), headers=caller)
    unknown = await api.post("/api/orders", json=order_body(region="mars"), headers=caller)
    assert assert_refused(out, 422, "region")["errors"] == {
        "region": "no region 'huabei' within your scope"
    }
    assert assert_refused(unknown, 422, "region")["errors"] == {
        "region": "no region 'mars' within your scope"
    }


async def test_a_reassign_target_outside_the_scope_is_refused_like_an_unknown_one(
    api, headers, worker
):
    dispatcher = headers("dispatcher_huabei")
    started = await api.post("/api/orders", json=order_body(), headers=dispatcher)
    order_id = started.json()["order_id"]
    first = engineer_of(await wait_for(api, order_id, waiting_at("service"), dispatcher))
    answers = []
    for target in ("engineer_gz_01", "engineer_zz_99"):
        response = await api.post(
            f"/api/orders/{order_id}/reassign",
            json={"node_id": "service", "user_id": target},
            headers=dispatcher,
        )
        body = assert_refused(response, 422, "user_id")
        answers.append(body["errors"]["user_id"].replace(target, "<user>"))
    assert answers[0] == answers[1] == "no active engineer '<user>' within your scope"
    state = (await api.get(f"/api/orders/{order_id}", headers=dispatcher)).json()["state"]
    assert [a["assignee"] for a in state["active"]] == [first]  # still where it was


# ---- money is for money roles ------------------------------------------------------------


MONEY_KEYS = ("amount", "job_amount", "payouts", "breakdown")


def money_in(value: Any) -> list[str]:
    """Paths of every money key anywhere in a response body."""
    found: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            found += [key] if key in MONEY_KEYS else [f"{key}.{p}" for p in money_in(item)]
    elif isinstance(value, list):
        for item in value:
            found += money_in(item)
    return found


async def test_settlement_amounts_are_shown_only_to_money_roles(api, headers, worker):
    admin = headers("hq_admin")
    order_id = (await api.post("/api/orders", json=order_body(), headers=admin)).json()["order_id"]
    engineer_name = engineer_of(await wait_for(api, order_id, waiting_at("service"), admin))
    for node_id, data in (("service", SERVICE_OK), ("signoff", SIGNOFF_OK)):
        await wait_for(api, order_id, waiting_at(node_id), admin)
        step = f"/api/orders/{order_id}/steps/{node_id}"
        await api.post(step, json={"data": data}, headers=headers(engineer_name))
    await wait_for(api, order_id, finished, admin)

    seen = await api.get(f"/api/orders/{order_id}", headers=headers("finance"))
    assert Decimal(seen.json()["state"]["variables"]["final_settlement"]["amount"]) > 0
    assert money_in(seen.json()["steps"])
    outlet = seen.json()["state"]["variables"]["dispatch"]["outlet_id"]
    manager = f"outlet_mgr_{outlet.replace('-', '_')}"
    for who in (engineer_name, manager):
        for live in ("true", "false"):
            response = await api.get(f"/api/orders/{order_id}?live={live}", headers=headers(who))
            assert response.status_code == 200, (who, response.text)
            body = response.json()
            assert money_in(body) == [], (who, money_in(body))
            amount = seen.json()["state"]["variables"]["final_settlement"]["amount"]
            assert amount not in response.text, who
            settled = [s for s in body["steps"] if s["node_type"] == "settlement"]
            assert settled and all(s["data"]["milestone"] for s in settled)
        waiting = await api.get(f"/api/orders/{order_id}/waiting", headers=headers(who))
        assert waiting.status_code == 200 and money_in(waiting.json()) == []


# ---- a definition too large to run -------------------------------------------------------


async def test_an_oversized_draft_is_refused_before_it_is_read(api, headers):
    designer = headers("designer")
    huge = definition("huge", description="x" * 18_000_000)
    response = await api.post("/api/definitions", json={"definition": huge}, headers=designer)
    assert response.status_code == 413 and "body" in response.json()["errors"]
    assert "huge" not in await definition_keys(api, designer)


def big(key: str, nodes: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A definition just within the body limit: 900 000 characters of description."""
    body = definition(key, description="说明" * 150_000)  # 900 kB of UTF-8
    if nodes is not None:
        body["nodes"] = nodes
    return body


async def test_a_published_definition_always_starts(api, headers, worker):
    designer, admin = headers("designer"), headers("hq_admin")
    for key in ("big-a", "big-b", "big-c"):
        created = await api.post(
            "/api/definitions", json={"definition": big(key)}, headers=designer
        )
        assert created.status_code == 201, created.text
        published = await api.post(f"/api/definitions/{key}/publish", headers=designer)
        assert published.status_code == 201, published.text
    started = await api.post("/api/orders", json=order_body(definition_key="big-a"), headers=admin)
    assert started.status_code == 201, started.text  # as large as a body may be: it runs

    # Three of them as sub-pipelines: 2.7 MB to carry, more than Temporal takes.
    calls = [
        {"id": f"call_{key[-1]}", "type": "subpipeline", "name": key, "next": then}
        | {"params": {"definition": key, "inputs": {"fault": "fault"}}}
        for key, then in (("big-a", "call_b"), ("big-b", "call_c"), ("big-c", "end"))
    ]
    parent = definition("big-parent", start="call_a")
    parent["nodes"] = [*calls, {"id": "end", "type": "end", "name": "完成"}]
    created = await api.post("/api/definitions", json={"definition": parent}, headers=designer)
    assert created.status_code == 201, created.text
    published = await api.post("/api/definitions/big-parent/publish", headers=designer)
    assert published.status_code == 422, published.text
    [problem] = published.json()["problems"]
    assert problem["code"] == "definition_too_large"
    assert problem["node_id"] == "call_a" and problem["path"] == "$.nodes[0]"
    versions = await api.get("/api/definitions/big-parent/versions", headers=designer)
    assert versions.json()["data"] == []


async def test_master_data_outside_the_scope_is_refused_like_an_unknown_code(api, headers):
    # 华南's manager probes 华北's branch and outlet codes through master-data writes.
    huanan = headers("region_mgr_huanan")
    outlet = {"code": "x-1", "name": "x", "parent": "bj-branch", "city": "北京"}
    known = await api.post("/api/outlets", json=outlet, headers=huanan)
    unknown = await api.post("/api/outlets", json={**outlet, "parent": "zz-branch"}, headers=huanan)
    assert known.status_code == unknown.status_code == 422
    assert known.json()["errors"] == {"parent": "no org unit 'bj-branch'"}
    engineer = {"code": "x-eng", "name": "x", "outlet": "bj-001", "skills": []}
    known = await api.post("/api/engineers", json=engineer, headers=huanan)
    unknown = await api.post("/api/engineers", json={**engineer, "outlet": "zz-1"}, headers=huanan)
    assert known.status_code == unknown.status_code == 422
    assert known.json()["errors"] == {"outlet": "no outlet 'bj-001'"}
    assert unknown.json()["errors"] == {"outlet": "no outlet 'zz-1'"}
    listed = await api.get("/api/engineers?limit=500", headers=headers("hq_admin"))
    assert "x-eng" not in {e["code"] for e in listed.json()["data"]}
