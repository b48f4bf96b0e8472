"""Definitions over HTTP: drafts, validation, publishing, versions, diffs, node templates."""

from __future__ import annotations

import copy

from tests.api.conftest import AC_REPAIR


def draft(key: str = "fridge-repair", **changes) -> dict:
    definition = copy.deepcopy(AC_REPAIR)
    definition.update({"key": key, "name": "冰箱维修", **changes})
    return definition


async def test_a_draft_is_created_saved_validated_and_published(api, headers):
    designer = headers("designer")
    created = await api.post(
        "/api/definitions",
        json={"definition": draft(), "layout": {"report": {"x": 10, "y": 20}}},
        headers=designer,
    )
    assert created.status_code == 201, created.text
    assert created.json()["problems"] == [] and created.json()["versions"] == []

    again = await api.post("/api/definitions", json={"definition": draft()}, headers=designer)
    assert again.status_code == 409

    published = await api.post("/api/definitions/fridge-repair/publish", headers=designer)
    assert published.status_code == 201
    assert published.json() == {"key": "fridge-repair", "version": 1}

    version = await api.get("/api/definitions/fridge-repair/versions/1", headers=designer)
    assert version.json()["definition"]["version"] == 1
    assert version.json()["layout"] == {"report": {"x": 10, "y": 20}}
    assert version.json()["published_by"] == "designer"

    listed = await api.get("/api/definitions", headers=headers("engineer_bj_01"))
    rows = {d["key"]: d for d in listed.json()["data"]}
    assert rows["fridge-repair"]["latest_version"] == 1
    assert rows["fridge-repair"]["has_draft"] is False
    assert rows["ac-repair"]["latest_version"] == 1


async def test_an_invalid_draft_is_saved_but_not_published(api, headers):
    designer = headers("designer")
    await api.post("/api/definitions", json={"definition": draft()}, headers=designer)
    broken = draft()
    broken["nodes"][1]["next"] = "nowhere"
    saved = await api.put(
        "/api/definitions/fridge-repair/draft", json={"definition": broken}, headers=designer
    )
    assert saved.status_code == 200
    problems = saved.json()["problems"]
    assert any(p["node_id"] == "dispatch" and p["path"] == "$.nodes[1].next" for p in problems)

    refused = await api.post("/api/definitions/fridge-repair/publish", headers=designer)
    assert refused.status_code == 422
    assert "problem" in refused.json()["detail"]
    assert refused.json()["problems"][0]["node_id"] == "dispatch"
    detail = await api.get("/api/definitions/fridge-repair", headers=designer)
    assert detail.json()["versions"] == [] and detail.json()["problems"]


async def test_validate_reports_every_problem_without_saving(api, headers):
    broken = draft(key="never-saved")
    broken["nodes"].append({"id": "orphan", "type": "end"})
    broken["nodes"][1]["next"] = "nowhere"
    response = await api.post(
        "/api/definitions/validate", json={"definition": broken}, headers=headers("designer")
    )
    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is False
    codes = {p["code"] for p in body["problems"]}
    assert len(codes) >= 2
    assert all(p["message"] and p["path"].startswith("$") for p in body["problems"])
    missing = await api.get("/api/definitions/never-saved", headers=headers("designer"))
    assert missing.status_code == 404


async def test_a_draft_key_must_match_and_be_well_formed(api, headers):
    designer = headers("designer")
    bad_key = await api.post(
        "/api/definitions", json={"definition": draft(key="Bad Key")}, headers=designer
    )
    assert bad_key.status_code == 422
    assert "definition.key" in bad_key.json()["errors"]
    mismatch = await api.put(
        "/api/definitions/ac-repair/draft", json={"definition": draft()}, headers=designer
    )
    assert mismatch.status_code == 422
    assert mismatch.json()["errors"] == {"definition.key": "must be 'ac-repair'"}
    not_a_dict = await api.post("/api/definitions", json={"definition": [1]}, headers=designer)
    assert not_a_dict.status_code == 422
    assert "definition" in not_a_dict.json()["errors"]


async def test_diff_and_draft_from_a_version(api, headers):
    designer = headers("designer")
    changed = draft(key="ac-repair", name="空调维修")
    changed["nodes"][1]["params"]["radius_km"] = 50
    changed["nodes"] = [n for n in changed["nodes"] if n["id"] != "parts_fitting"]
    decision = next(n for n in changed["nodes"] if n["id"] == "parts")
    decision["branches"] = [{"when": "service.parts_needed", "next": "signoff"}]
    await api.put(
        "/api/definitions/ac-repair/draft", json={"definition": changed}, headers=designer
    )
    v2 = await api.post("/api/definitions/ac-repair/publish", headers=designer)
    assert v2.status_code == 201, v2.text

    diff = await api.get("/api/definitions/ac-repair/diff?base=1&target=2", headers=designer)
    assert diff.status_code == 200
    body = diff.json()
    assert body["removed"] == ["parts_fitting"]
    assert {"node_id": "dispatch", "fields": ["params.radius_km"]} in body["changed"]
    to_draft = await api.get("/api/definitions/ac-repair/diff?base=2", headers=designer)
    assert to_draft.json()["target"] == "draft"
    missing = await api.get("/api/definitions/ac-repair/diff?base=9", headers=designer)
    assert missing.status_code == 404
    bad = await api.get("/api/definitions/ac-repair/diff?base=1&target=x", headers=designer)
    assert bad.status_code == 422 and "target" in bad.json()["errors"]

    restored = await api.post("/api/definitions/ac-repair/draft-from/1", headers=designer)
    assert restored.status_code == 200
    assert any(n["id"] == "parts_fitting" for n in restored.json()["draft"]["nodes"])
    versions = await api.get("/api/definitions/ac-repair/versions", headers=designer)
    assert [v["version"] for v in versions.json()["data"]] == [1, 2]


async def test_only_designers_and_hq_admins_write_definitions(api, headers):
    for user in ("engineer_bj_01", "finance", "region_mgr_huabei", "api_key", "dispatcher_huabei"):
        response = await api.post(
            "/api/definitions", json={"definition": draft()}, headers=headers(user)
        )
        assert response.status_code == 403, user
        publish = await api.post("/api/definitions/ac-repair/publish", headers=headers(user))
        assert publish.status_code == 403
    admin = await api.post(
        "/api/definitions", json={"definition": draft()}, headers=headers("hq_admin")
    )
    assert admin.status_code == 201


async def test_node_templates_crud_and_use_in_a_definition(api, headers):
    designer = headers("designer")
    template = {
        "key": "dispatch-refrigeration",
        "name": "制冷派单 200km",
        "node": {"type": "dispatch", "params": {"skills": ["refrigeration"], "radius_km": 200}},
        "locked": ["params.skills"],
    }
    created = await api.post("/api/node-templates", json=template, headers=designer)
    assert created.status_code == 201, created.text
    assert (
        await api.post("/api/node-templates", json=template, headers=designer)
    ).status_code == 409
    listed = await api.get("/api/node-templates", headers=headers("engineer_bj_01"))
    assert listed.json()["count"] == 1

    uses = draft(key="templated")
    uses["nodes"][1] = {"id": "dispatch", "template": "dispatch-refrigeration", "next": "service"}
    ok = await api.post("/api/definitions/validate", json={"definition": uses}, headers=designer)
    assert ok.json() == {"ok": True, "problems": []}
    uses["nodes"][1]["params"] = {"skills": ["gas"]}
    locked = await api.post(
        "/api/definitions/validate", json={"definition": uses}, headers=designer
    )
    assert [p["code"] for p in locked.json()["problems"]] == ["template_locked"]

    template["name"] = "制冷派单"
    updated = await api.put(
        "/api/node-templates/dispatch-refrigeration", json=template, headers=designer
    )
    assert updated.json()["name"] == "制冷派单"
    bad_type = {**template, "node": {"type": "warp"}}
    rejected = await api.put(
        "/api/node-templates/dispatch-refrigeration", json=bad_type, headers=designer
    )
    assert rejected.status_code == 422 and "node.type" in rejected.json()["errors"]
    forbidden = await api.delete(
        "/api/node-templates/dispatch-refrigeration", headers=headers("finance")
    )
    assert forbidden.status_code == 403
    deleted = await api.delete("/api/node-templates/dispatch-refrigeration", headers=designer)
    assert deleted.status_code == 204
    gone = await api.get("/api/node-templates/dispatch-refrigeration", headers=designer)
    assert gone.status_code == 404
