"""The designer in Chromium: build, validate, publish and test-run the air-conditioner
repair pipeline as a process designer would, and see it read-only as an engineer."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Page, expect

from tests.designer.conftest import publish_screenshot
from tests.designer.stack import LiveStack

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

PASSWORD = "demo1234"
KEY = "ac-repair-ui"


@asynccontextmanager
async def api_as(stack: LiveStack, username: str) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of the API, logged in as `username`."""
    async with httpx.AsyncClient(base_url=stack.url, timeout=30) as http:
        body = {"username": username, "password": PASSWORD}
        token = (await http.post("/api/auth/login", json=body)).json()["access_token"]
        http.headers["Authorization"] = f"Bearer {token}"
        yield http


async def login(page: Page, stack: LiveStack, username: str) -> None:
    await page.goto(f"{stack.url}/designer")
    await page.fill("input[name=username]", username)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("[data-action=login]")
    await expect(page.locator("table.sf-defs")).to_be_visible()


async def drop(page: Page, node_type: str, x: float, y: float) -> None:
    """Drag a node type from the palette to (x, y) of the canvas."""
    item = page.locator(f'.sf-palette-item[data-type="{node_type}"]:not([data-template])')
    box = await item.bounding_box()
    canvas = await page.locator(".sf-canvas").bounding_box()
    assert box and canvas
    await page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    await page.mouse.down()
    await page.mouse.move(canvas["x"] + x - 40, canvas["y"] + y, steps=6)
    await page.mouse.move(canvas["x"] + x, canvas["y"] + y, steps=4)
    await page.mouse.up()


async def connect(page: Page, source: str, target: str) -> None:
    """Hover the source node and drag from its anchor facing the target onto the target."""
    boxes = []
    for node_id in (source, target):
        node = page.locator(f'.sf-canvas [data-node-id="{node_id}"]')
        await expect(node).to_be_visible()
        boxes.append(await node.bounding_box())
    s, t = boxes
    assert s and t
    sx, sy = s["x"] + s["width"] / 2, s["y"] + s["height"] / 2
    tx, ty = t["x"] + t["width"] / 2, t["y"] + t["height"] / 2
    # Leave from the source's anchor facing the target, land just inside the target's side
    # facing the source, so the edge is drawn the way a person would draw it.
    if abs(tx - sx) >= abs(ty - sy):
        right = tx > sx
        ax, ay = (s["x"] + s["width"], sy) if right else (s["x"], sy)
        tx = t["x"] + 4 if right else t["x"] + t["width"] - 4
    else:
        down = ty > sy
        ax, ay = (sx, s["y"] + s["height"]) if down else (sx, s["y"])
        ty = t["y"] + 4 if down else t["y"] + t["height"] - 4
    await page.mouse.move(sx, sy)
    await page.mouse.move(ax, ay, steps=3)
    await page.mouse.down()
    await page.mouse.move((ax + tx) / 2, (ay + ty) / 2, steps=5)
    await page.mouse.move(tx, ty, steps=5)
    await page.mouse.up()


async def select(page: Page, node_id: str) -> None:
    await page.locator(f'.sf-canvas [data-node-id="{node_id}"]').click()
    await expect(page.locator(".sf-panel input[name=id]")).to_have_value(node_id)


async def set_field(page: Page, name: str, value: str) -> None:
    field = page.locator(f'.sf-panel [name="{name}"]')
    await field.fill(value)
    await field.blur()


async def add_form_field(
    page: Page, index: int, name: str, label: str, kind: str, *, multiple: bool = False
) -> None:
    await page.locator('.sf-panel [data-path="form"] > button').click()
    await set_field(page, f"form[{index}].name", name)
    await set_field(page, f"form[{index}].label", label)
    await page.locator(f'.sf-panel [name="form[{index}].type"]').select_option(kind)
    if multiple:
        await page.locator(f'.sf-panel [name="form[{index}].multiple"]').check()


async def problem_count(page: Page) -> int:
    return int(await page.locator(".sf-problems .sf-count").get_attribute("data-count") or -1)


async def test_designer_builds_publishes_and_test_runs_the_ac_repair_pipeline(
    page: Page, stack: LiveStack, artifacts: Path
) -> None:
    await login(page, stack, "designer")
    await page.click("[data-action=new-pipeline]")
    await page.fill("input[name=new-key]", KEY)
    await page.fill("input[name=new-name]", "空调维修（设计器）")
    await page.click("[data-action=create]")
    await expect(page.locator(".sf-palette-item").first).to_be_visible()
    await expect(page.locator(".sf-palette-item", has_text="智能派单")).to_be_visible()

    # Nine nodes from the palette: the main line snakes right, then back left.
    await drop(page, "report", 110, 80)
    await drop(page, "dispatch", 330, 80)
    await set_field(page, "params.skills", "refrigeration")
    await set_field(page, "params.radius_km", "200")
    await drop(page, "service", 550, 80)
    await set_field(page, "name", "上门维修")
    await add_form_field(page, 0, "diagnosis", "诊断结果", "text")
    await add_form_field(page, 1, "parts_needed", "需要配件", "boolean")
    await page.locator('.sf-panel [name="form[1].required"]').uncheck()
    await drop(page, "settlement", 770, 80)
    await set_field(page, "id", "commissioning")
    await set_field(page, "name", "调试完成结算 60%")
    await set_field(page, "params.milestone", "commissioning")
    await set_field(page, "params.share", "0.6")
    await drop(page, "decision", 770, 250)
    await set_field(page, "id", "parts")
    await set_field(page, "name", "需要配件？")
    await drop(page, "task", 770, 420)
    await set_field(page, "id", "parts_fitting")
    await set_field(page, "name", "更换配件")
    await add_form_field(page, 0, "fitted", "已更换", "boolean")
    await drop(page, "signoff", 550, 250)
    await add_form_field(page, 0, "signature", "客户签名", "signature")
    await add_form_field(page, 1, "photos", "完工照片", "photo", multiple=True)
    await drop(page, "settlement", 330, 250)
    await set_field(page, "id", "final_settlement")
    await set_field(page, "name", "签收后结算 40%")
    await set_field(page, "params.milestone", "signoff")
    await set_field(page, "params.share", "0.4")
    await drop(page, "end", 110, 250)
    await expect(page.locator(".sf-canvas .sf-node")).to_have_count(9)

    for source, target in [
        ("report", "dispatch"),
        ("dispatch", "service"),
        ("service", "commissioning"),
        ("commissioning", "parts"),
        ("parts", "parts_fitting"),
        ("parts", "signoff"),
        ("parts_fitting", "signoff"),
        ("final_settlement", "end"),
    ]:
        await connect(page, source, target)
    await expect(page.locator(".sf-canvas .lf-edge")).to_have_count(8)

    await select(page, "parts")
    await set_field(page, "when-0", "service.parts_needed")
    await set_field(page, "label-0", "需要")

    # A deliberate mistake: sign-off points at a node that does not exist.
    await select(page, "signoff")
    await set_field(page, "next", "final_settlment")
    dangling = page.locator('.sf-problem[data-code="dangling_next"]')
    await expect(dangling).to_be_visible()
    await expect(dangling).to_contain_text("final_settlment")
    await expect(page.locator('.sf-canvas .sf-error[data-node-id="signoff"]')).to_be_visible()
    await expect(page.locator('.sf-canvas [data-ghost="1"]')).to_be_visible()
    await expect(page.locator('.sf-panel [data-path="next"] .sf-error')).to_contain_text("signoff")

    # Publishing is refused while it is there, with the list shown.
    await page.click("[data-action=publish]")
    await expect(page.locator(".sf-publish-problems")).to_contain_text("final_settlment")
    await page.locator(".sf-modal-actions button").click()

    # Clicking the problem selects the node; redrawing the edge fixes it.
    await page.locator(".sf-panel [data-tab=props]").click()
    await select(page, "parts")
    await dangling.click()
    await expect(page.locator(".sf-panel input[name=id]")).to_have_value("signoff")
    await connect(page, "signoff", "final_settlement")
    await expect(page.locator('.sf-canvas [data-ghost="1"]')).to_have_count(0)
    await expect(page.locator(".sf-problems .sf-count")).to_have_attribute("data-count", "0")
    await expect(page.locator(".sf-problems .sf-ok")).to_be_visible()

    await page.click("[data-action=publish]")
    await expect(page.locator("#sf-toast")).to_contain_text("1")
    async with api_as(stack, "designer") as http:
        detail = (await http.get(f"/api/definitions/{KEY}")).json()
    assert [v["version"] for v in detail["versions"]] == [1]
    published = {n["id"]: n for n in detail["draft"]["nodes"]}
    branch = {"when": "service.parts_needed", "next": "parts_fitting", "label": "需要"}
    assert published["parts"]["branches"] == [branch]
    assert published["parts"]["default"] == "signoff"
    assert published["signoff"]["next"] == "final_settlement"
    assert published["dispatch"]["params"] == {"skills": ["refrigeration"], "radius_km": "200"}
    assert set(detail["layout"]) == set(published)

    await page.get_by_role("button", name="适应画布").click()
    await page.locator(".sf-canvas [data-node-id=dispatch]").click()
    shot = artifacts / "designer.png"
    await page.screenshot(path=str(shot))
    publish_screenshot(shot)

    # Test run on the draft, in a sandbox: watch it move, submitting each human step yourself.
    await page.locator(".sf-panel [data-tab=run]").click()
    await page.click("[data-action=start-run]")
    steps = {
        "service": {"f-diagnosis": "压缩机缺氟", "f-parts_needed": True},
        "parts_fitting": {"f-fitted": True},
        "signoff": {"f-signature": "sig-0001", "f-photos": "photo-1, photo-2"},
    }
    for node_id, values in steps.items():
        card = page.locator(f'.sf-active-card[data-node="{node_id}"]')
        await expect(card).to_be_visible(timeout=30_000)
        active = page.locator(f'.sf-canvas .sf-active[data-node-id="{node_id}"]')
        await expect(active).to_be_visible()
        await expect(card).to_contain_text("engineer_bj_01")  # the simulated assignee
        for name, value in values.items():
            if value is True:
                await card.locator(f'[name="{name}"]').check()
            else:
                await card.locator(f'[name="{name}"]').fill(str(value))
        if node_id == "signoff":
            await page.screenshot(path=str(artifacts / "test-run.png"))
        await card.locator("[data-action=submit-step]").click()
        await expect(card.locator(".sf-run-errors .sf-error")).to_have_count(0)
        await expect(card).to_have_count(0, timeout=15_000)
    completed = page.locator('.sf-run-view [data-status="completed"]')
    await expect(completed).to_be_visible(timeout=30_000)
    await expect(page.locator('.sf-canvas .sf-node.sf-done[data-node-id="end"]')).to_be_visible()
    await expect(page.locator(".sf-timeline-entry")).to_have_count(9)
    await expect(page.locator(".sf-sandbox-note")).to_contain_text("沙箱试运行")
    simulated = page.locator(".sf-simulated")
    await expect(simulated.and_(page.locator('[data-simulated="dispatch"]'))).to_contain_text(
        "模拟派单：张伟 (engineer_bj_01)，未指派"
    )
    await expect(simulated.and_(page.locator('[data-simulated="settlement"]'))).to_have_count(2)
    await expect(
        simulated.and_(page.locator('[data-simulated="settlement"]')).first
    ).to_contain_text("模拟结算：")
    await page.screenshot(path=str(artifacts / "test-run-done.png"))


async def test_an_engineer_sees_pipelines_read_only(page: Page, stack: LiveStack) -> None:
    example = json.loads(
        (Path(__file__).resolve().parents[2] / "examples/ac-repair.json").read_text()
    )
    async with api_as(stack, "designer") as http:
        created = await http.post(
            "/api/definitions", json={"definition": {**example, "key": "ac-repair-ro"}}
        )
        assert created.status_code == 201, created.text

    await login(page, stack, "engineer_bj_01")
    await expect(page.locator("[data-action=new-pipeline]")).to_have_count(0)
    await page.locator('tr[data-key="ac-repair-ro"] a').click()
    await expect(page.locator('.sf-canvas [data-node-id="dispatch"]')).to_be_visible()
    await expect(page.locator(".sf-readonly-banner")).to_be_visible()
    for action in ("save", "publish", "import"):
        await expect(page.locator(f"[data-action={action}]")).to_have_count(0)
    await expect(page.locator(".sf-panel [data-tab=run]")).to_have_count(0)
    await expect(page.locator(".sf-palette-item.sf-disabled").first).to_be_visible()

    await page.locator('.sf-canvas [data-node-id="dispatch"]').click()
    await expect(page.locator(".sf-panel input[name=id]")).to_be_disabled()
    await expect(page.locator('.sf-panel [name="params.radius_km"]')).to_be_disabled()

    # Dragging from the palette adds nothing.
    await drop(page, "notify", 400, 400)
    await expect(page.locator(".sf-canvas .sf-node")).to_have_count(9)


async def test_versions_compare_import_and_a_locked_node_template(
    page: Page, stack: LiveStack, artifacts: Path, tmp_path: Path
) -> None:
    example = json.loads(
        (Path(__file__).resolve().parents[2] / "examples/ac-repair.json").read_text()
    )
    v1 = {**example, "key": "ac-repair-v"}
    v2 = json.loads(json.dumps(v1))
    nodes = {n["id"]: n for n in v2["nodes"]}
    nodes["dispatch"]["params"]["radius_km"] = 50
    nodes["parts"]["branches"][0]["next"] = "signoff"
    v2["nodes"] = [n for n in v2["nodes"] if n["id"] != "parts_fitting"]
    async with api_as(stack, "designer") as http:
        assert (await http.post("/api/definitions", json={"definition": v1})).status_code == 201
        assert (await http.post("/api/definitions/ac-repair-v/publish")).status_code == 201
        saved = await http.put("/api/definitions/ac-repair-v/draft", json={"definition": v2})
        assert saved.json()["problems"] == []
        assert (await http.post("/api/definitions/ac-repair-v/publish")).status_code == 201

    await login(page, stack, "designer")
    await page.goto(f"{stack.url}/designer#/p/ac-repair-v")
    await page.click("[data-action=versions]")
    await expect(page.locator(".sf-modal tr[data-version]")).to_have_count(2)
    await page.locator(".sf-modal select[name=base]").select_option("1")
    await page.locator(".sf-modal select[name=target]").select_option("2")
    await page.click("[data-action=compare]")
    await expect(
        page.locator('.sf-diff[data-diff="changed"][data-node="dispatch"]')
    ).to_be_visible()
    await expect(
        page.locator('.sf-diff[data-diff="removed"][data-node="parts_fitting"]')
    ).to_be_visible()
    await expect(page.locator('.sf-canvas .sf-changed[data-node-id="dispatch"]')).to_be_visible()
    await expect(
        page.locator('.sf-canvas .sf-removed[data-node-id="parts_fitting"]')
    ).to_be_visible()
    await page.screenshot(path=str(artifacts / "compare.png"))

    # Version 1 read-only, then a new draft from it.
    await page.goto(f"{stack.url}/designer#/p/ac-repair-v/v/1")
    await expect(page.locator(".sf-banner")).to_contain_text("v1")
    await expect(page.locator('.sf-canvas [data-node-id="parts_fitting"]')).to_be_visible()
    await expect(page.locator("[data-action=publish]")).to_have_count(0)
    await page.click("[data-action=draft-from]")
    await expect(page.locator("[data-action=publish]")).to_be_visible()
    await expect(page.locator('.sf-canvas [data-node-id="parts_fitting"]')).to_be_visible()

    # Export the draft as JSON, edit it outside, import it back.
    async with page.expect_download() as downloading:
        await page.click("[data-action=export]")
    exported = json.loads(Path(await (await downloading.value).path()).read_text())
    assert exported["key"] == "ac-repair-v"
    assert set(exported["layout"]) == {n["id"] for n in exported["nodes"]}
    exported["nodes"][0]["name"] = "电话报修登记"
    edited = tmp_path / "edited.json"
    edited.write_text(json.dumps(exported, ensure_ascii=False))
    async with page.expect_file_chooser() as choosing:
        await page.click("[data-action=import]")
    await (await choosing.value).set_files(str(edited))
    await expect(page.locator('.sf-canvas [data-node-id="report"]')).to_contain_text("电话报修登记")

    # A node template with a locked skill, used from the palette.
    await page.goto(f"{stack.url}/designer#/templates")
    await page.click("[data-action=new-template]")
    await page.fill("input[name=tpl-key]", "dispatch-refrigeration")
    await page.fill("input[name=tpl-name]", "制冷证书派单")
    await page.locator("select[name=tpl-type]").select_option("dispatch")
    skills = page.locator('.sf-tpl-edit [name="params.skills"]')
    await skills.fill("refrigeration")
    await skills.blur()
    await page.locator('.sf-tpl-edit [data-path="params.skills"] .sf-lock input').check()
    await page.screenshot(path=str(artifacts / "templates.png"))
    await page.click("[data-action=save-template]")
    await expect(
        page.locator('.sf-tpl-list [data-template="dispatch-refrigeration"]')
    ).to_be_visible()
    async with api_as(stack, "designer") as http:
        template = (await http.get("/api/node-templates/dispatch-refrigeration")).json()
    assert template["locked"] == ["params.skills"]
    assert template["node"]["params"]["skills"] == ["refrigeration"]

    await page.goto(f"{stack.url}/designer#/p/ac-repair-v")
    item = page.locator('.sf-palette-item[data-template="dispatch-refrigeration"]')
    await expect(item).to_be_visible()
    box = await item.bounding_box()
    canvas = await page.locator(".sf-canvas").bounding_box()
    assert box and canvas
    await page.mouse.move(box["x"] + 20, box["y"] + 10)
    await page.mouse.down()
    await page.mouse.move(canvas["x"] + 300, canvas["y"] + 520, steps=8)
    await page.mouse.up()
    await expect(page.locator(".sf-panel input[name=id]")).to_have_value("dispatch_refrigeration")
    await expect(page.locator('.sf-panel [name="params.skills"]')).to_be_disabled()
    await expect(page.locator('.sf-panel [name="params.radius_km"]')).to_be_enabled()


ROUND_TRIP = {
    "key": "round-trip",
    "name": "往返",
    "variables": [{"name": "urgent", "type": "boolean", "default": False}],
    "start": "report",
    "nodes": [
        {"id": "report", "type": "report", "name": "报修", "next": "fork"},
        {"id": "fork", "type": "parallel", "branches": ["tell", "wait"], "join": "meet"},
        {
            "id": "tell",
            "type": "notify",
            "next": "meet",
            "params": {"channel": "sms", "to_roles": ["outlet_manager"], "message": "新工单"},
        },
        {"id": "wait", "type": "timer", "next": "meet", "params": {"duration": "PT1H"}},
        {"id": "meet", "type": "join", "next": "check"},
        {
            "id": "check",
            "type": "decision",
            "branches": [{"when": "urgent", "next": "finish", "label": "加急"}],
            "default": "approve",
        },
        {
            "id": "approve",
            "type": "task",
            "next": "finish",
            "assignee": {"kind": "role", "value": "outlet_manager"},
            "sla": {"within": "PT4H", "on_breach": "notify", "notify": ["region_manager"]},
            "form": [{"name": "ok", "label": "同意", "type": "boolean"}],
        },
        {"id": "finish", "type": "end"},
    ],
}


async def test_a_definition_survives_the_canvas_unchanged(
    page: Page, stack: LiveStack, tmp_path: Path
) -> None:
    async with api_as(stack, "designer") as http:
        created = await http.post("/api/definitions", json={"definition": ROUND_TRIP})
        assert created.status_code == 201, created.text
        assert created.json()["problems"] == []
    await login(page, stack, "designer")
    await page.goto(f"{stack.url}/designer#/p/round-trip")
    await expect(page.locator(".sf-problems .sf-count")).to_have_attribute("data-count", "0")
    await select(page, "fork")
    await expect(page.locator(".sf-panel select[name=join]")).to_have_value("meet")
    async with page.expect_download() as downloading:
        await page.click("[data-action=export]")
    exported = json.loads(Path(await (await downloading.value).path()).read_text())
    exported.pop("layout")
    assert exported == ROUND_TRIP

    # The English switch relabels the palette; Chinese stays the default elsewhere.
    await page.click("[data-action=lang]")
    await expect(
        page.locator('.sf-palette-item[data-type="dispatch"]:not([data-template])')
    ).to_have_text("Dispatch")
    await page.click("[data-action=lang]")
    await expect(
        page.locator('.sf-palette-item[data-type="dispatch"]:not([data-template])')
    ).to_have_text("智能派单")
