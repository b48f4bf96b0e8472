"""Dispatch through HTTP with real coordinates: the dispatcher queue, offers declined and
accepted, and the explanation route."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import engineer_of, order_body, wait_for, waiting_at
from tests.api.test_test_runs import start_test_run, timeline

HANDOFF = "dispatch.handoff"


def handoff_of(body: dict[str, Any]) -> dict[str, Any]:
    return next(a for a in body["state"]["active"] if a["node_id"] == HANDOFF)


async def store_policy(api, headers, **fields: Any) -> None:
    policy = {
        "key": "ac-test",
        "pipeline": "ac-repair",
        "skills": ["refrigeration"],
        "ladder": [{"name": "in_region_200km", "radius_km": 200}],
        **fields,
    }
    stored = await api.post("/api/dispatch/policies", json=policy, headers=headers("hq_admin"))
    assert stored.status_code == 201, stored.text


async def test_no_engineer_anywhere_waits_for_a_dispatcher_who_picks_and_the_order_goes_on(
    api, worker, headers
):
    await store_policy(api, headers, skills=["medical_imaging"])
    started = await api.post("/api/orders", json=order_body(), headers=headers("hq_admin"))
    order_id = started.json()["order_id"]
    dispatcher = headers("dispatcher_huabei")

    body = await wait_for(api, order_id, waiting_at(HANDOFF), dispatcher)
    assert body["state"]["status"] not in ("failed", "completed")
    assert handoff_of(body)["assignee"] == "role:dispatcher"
    explained = await api.get(f"/api/orders/{order_id}/dispatch?lang=en", headers=dispatcher)
    assert explained.status_code == 200, explained.text
    decision = explained.json()["decisions"][-1]
    assert decision["status"] == "queued" and decision["rung"] == "dispatcher_queue"
    assert decision["rungs"][0]["excluded"]["no_certificate"] > 0
    assert decision["rungs"][0]["excluded_text"]["no certificate"] > 0
    assert any(
        "no certificate in Medical imaging" in c.get("rejected", "") for c in decision["candidates"]
    )

    picked = await api.post(
        f"/api/orders/{order_id}/steps/{HANDOFF}",
        json={"data": {"answer": "assign", "choice": "bj_02"}},
        headers=dispatcher,
    )
    assert picked.status_code == 200, picked.text
    body = await wait_for(api, order_id, waiting_at("service"), dispatcher)
    assert engineer_of(body) == "engineer_bj_02"
    decisions = (await api.get(f"/api/orders/{order_id}/dispatch", headers=dispatcher)).json()
    assert decisions["decisions"][-1]["status"] == "picked"


async def test_a_declined_offer_goes_to_the_next_candidate_never_the_same(api, worker, headers):
    await store_policy(api, headers, accept_within="PT10M")
    started = await api.post("/api/orders", json=order_body(), headers=headers("hq_admin"))
    order_id = started.json()["order_id"]
    admin = headers("hq_admin")

    body = await wait_for(api, order_id, waiting_at(HANDOFF), admin)
    first = handoff_of(body)["assignee"]
    assert first.startswith("engineer_bj_")
    declined = await api.post(
        f"/api/orders/{order_id}/steps/{HANDOFF}",
        json={"data": {"answer": "decline", "reason": "车坏了"}},
        headers=headers(first),
    )
    assert declined.status_code == 200, declined.text

    def offered_again(b: dict[str, Any]) -> bool:
        active = [a for a in (b.get("state") or {}).get("active", []) if a["node_id"] == HANDOFF]
        return bool(active) and active[0]["visit"] == 2

    body = await wait_for(api, order_id, offered_again, admin)
    second = handoff_of(body)["assignee"]
    assert second != first and second.startswith("engineer_bj_")
    accepted = await api.post(
        f"/api/orders/{order_id}/steps/{HANDOFF}",
        json={"data": {"answer": "accept"}},
        headers=headers(second),
    )
    assert accepted.status_code == 200, accepted.text
    body = await wait_for(api, order_id, waiting_at("service"), admin)
    assert engineer_of(body) == second
    decisions = (await api.get(f"/api/orders/{order_id}/dispatch", headers=admin)).json()
    statuses = [d["status"] for d in decisions["decisions"]]
    assert statuses == ["declined", "accepted"]
    assert decisions["decisions"][0]["answer"]["reason"] == "车坏了"
    assert decisions["decisions"][1]["declined"] == [first.removeprefix("engineer_")]


async def test_a_duplicate_report_is_refused_naming_the_open_order_or_merged_into_it(
    api, worker, headers
):
    admin = headers("hq_admin")
    started = await api.post("/api/orders", json=order_body(), headers=admin)
    assert started.status_code == 201, started.text
    open_id = started.json()["order_id"]
    body = await wait_for(api, open_id, waiting_at("service"), admin)
    order_no = body["order"]["order_no"]

    again = await api.post("/api/orders", json=order_body(), headers=admin)
    assert again.status_code == 409, again.text
    assert again.json()["order_id"] == open_id
    assert order_no in again.json()["detail"]

    # Another call about the same leak: a different contact person, marked urgent.
    contact = {
        **order_body()["customer"],
        "name": "王女士",
        "address": "北京市朝阳区工体北路8号3单元",
    }
    merged = await api.post(
        "/api/orders",
        json=order_body(
            variables={"fault": "ac_leak", "urgent": True},
            customer=contact,
            merge_into_open=True,
        ),
        headers=admin,
    )
    assert merged.status_code == 200, merged.text
    assert merged.json()["order_id"] == open_id and merged.json()["merged"] is True

    def noted(b: dict[str, Any]) -> bool:
        return any(e["node_id"] == ".note" for e in (b.get("state") or {}).get("timeline", []))

    body = await wait_for(api, open_id, noted, admin)
    note = next(e for e in body["state"]["timeline"] if e["node_id"] == ".note")
    assert note["data"]["customer"]["name"] == "王女士"
    assert note["data"]["customer"]["address"] == contact["address"]
    assert note["data"]["variables"]["urgent"] is True
    assert note["actor"] == "hq_admin"


async def test_dispatchers_list_engineers_in_their_scope_with_load_and_position(api, headers):
    listed = await api.get(
        "/api/dispatch/engineers?skill=制冷&state=available", headers=headers("dispatcher_huabei")
    )
    assert listed.status_code == 200, listed.text
    rows = listed.json()["data"]
    assert rows and {r["region"] for r in rows} == {"huabei"}
    assert all("refrigeration" in r["skills"] for r in rows)
    first = rows[0]
    assert {"current_load", "max_load", "lat", "lng", "certificates"} <= set(first)
    refused = await api.get("/api/dispatch/engineers", headers=headers("engineer_bj_01"))
    assert refused.status_code == 403


async def test_service_areas_import_and_export_as_geojson_for_admins_in_scope(api, headers):
    area = {
        "type": "Polygon",
        "coordinates": [
            [[116.3, 39.9], [116.5, 39.9], [116.5, 40.0], [116.3, 40.0], [116.3, 39.9]]
        ],
    }
    body = {
        "type": "FeatureCollection",
        "features": [{"type": "Feature", "properties": {"outlet": "bj-001"}, "geometry": area}],
    }
    manager = headers("region_mgr_huabei")
    put = await api.put("/api/dispatch/service-areas", json=body, headers=manager)
    assert put.status_code == 200, put.text
    exported = await api.get("/api/dispatch/service-areas", headers=manager)
    geometries = {f["properties"]["outlet"]: f["geometry"] for f in exported.json()["features"]}
    assert geometries["bj-001"] == area  # replaced the demo's area of bj-001
    other = await api.put(
        "/api/dispatch/service-areas", json=body, headers=headers("region_mgr_huadong")
    )
    assert other.status_code == 422 and "features[0].properties.outlet" in other.json()["errors"]
    dispatcher = await api.put(
        "/api/dispatch/service-areas", json=body, headers=headers("dispatcher_huabei")
    )
    assert dispatcher.status_code == 403


async def test_a_policy_with_a_bad_field_is_refused_naming_it_and_only_hq_stores_one(api, headers):
    bad = {"key": "p1", "ladder": [{"name": "r1", "radius_km": -1}]}
    refused = await api.post("/api/dispatch/policies", json=bad, headers=headers("hq_admin"))
    assert refused.status_code == 422
    assert "body.ladder.0.radius_km" in refused.json()["errors"]
    good = {"key": "p1", "ladder": [{"name": "r1", "radius_km": 50}]}
    forbidden = await api.post(
        "/api/dispatch/policies", json=good, headers=headers("region_mgr_huabei")
    )
    assert forbidden.status_code == 403


async def test_a_designers_test_run_shows_the_dispatch_explanation(api, worker, headers):
    order_id = await start_test_run(api, headers)
    body = await wait_for(api, order_id, waiting_at("service"), headers("designer"))
    dispatch = timeline(body)["dispatch"]
    explained = dispatch["explanation"]
    assert explained["rung"] == "node" and explained["policy"] == {"key": "node", "version": 0}
    assert explained["rungs"][0]["radius_km"] == "200"
    assert explained["candidates"][0]["code"] == dispatch["engineer_id"]
    assert set(explained["candidates"][0]["parts"]) >= {"distance", "load"}


async def test_the_demo_has_skills_certificates_a_policy_whose_engineer_accepts_and_areas(
    api, headers
):
    admin = headers("hq_admin")
    skills = (await api.get("/api/dispatch/skills", headers=admin)).json()
    assert {"code": "gas", "name_zh": "燃气", "name_en": "Gas", "levels": 3} in skills
    policies = (await api.get("/api/dispatch/policies", headers=admin)).json()
    lock = next(p for p in policies if p["key"] == "smart-lock-install")
    assert lock["body"]["accept_within"] == "PT15M"
    areas = (await api.get("/api/dispatch/service-areas", headers=admin)).json()
    assert {f["properties"]["outlet"] for f in areas["features"]} == {"bj-001", "bj-002", "bj-003"}
    engineers = (await api.get("/api/dispatch/engineers?skill=refrigeration", headers=admin)).json()
    bj_02 = next(e for e in engineers["data"] if e["code"] == "bj_02")
    assert bj_02["certificates"] == [
        {"skill": "refrigeration", "level": 1, "expires": "2026-06-30"}
    ]
