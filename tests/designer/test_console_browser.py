"""The operations console in Chromium, one role at a time: the same dashboard scoped to HQ,
a region and an outlet (figures checked against the API), a dispatcher dragging an order
onto an engineer, finance exporting settlements and a statement, an admin creating an
engineer login that then signs in, a region manager creating a customer care (客服) login,
customer care working the order desk and a low score's call back, and the API docs working
with every outside request blocked. The stack holds a short demo history
(servflow.demo.history) besides the test's own orders, so the dashboards and screenshots
show what `make run` shows."""

from __future__ import annotations

import asyncio
import base64
import csv
import io
import json
import os
import re
import shutil
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from PIL import Image
from playwright.async_api import Page, Response, expect
from temporalio.testing import WorkflowEnvironment

from servflow.cli.definitions import read_definition
from servflow.customers import service as customers
from servflow.definitions import service as definitions
from servflow.demo import history
from servflow.integrations import followups
from servflow.platform.base import utcnow
from tests.designer.conftest import ROOT
from tests.designer.stack import LiveStack
from tests.designer.test_designer_browser import PASSWORD, api_as

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

KEY = "ac-console"
ORDERS: tuple[tuple[str, str, float, float], ...] = (
    ("bj-001", "13900001501", 39.92, 116.44),
    ("bj-002", "13900001502", 39.96, 116.30),
)
ORDERS += (("sh-001", "13900001503", 31.22, 121.54),)


def shot(name: str) -> Path:
    """Where a page's screenshot goes: test-artifacts/, and docs/console/ when asked for
    (SERVFLOW_UPDATE_SCREENSHOT=1), so a test run leaves the work tree clean."""
    path = ROOT / "test-artifacts" / f"console-{name}.png"
    path.parent.mkdir(exist_ok=True)
    return path


def publish(path: Path) -> None:
    if os.environ.get("SERVFLOW_UPDATE_SCREENSHOT") == "1":
        docs = ROOT / "docs" / "console"
        docs.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, docs / path.name.removeprefix("console-"))


async def snap(page: Page, name: str) -> None:
    """A full-page screenshot: the console's pages scroll as a document (not inside <main>,
    which the full page would cut at the window's height)."""
    # From the top: the sticky header would otherwise be drawn where the window had scrolled.
    await page.evaluate("window.scrollTo(0, 0)")
    await page.wait_for_timeout(400)  # ECharts' entry animation
    main = page.locator("main.sf-console")
    inner, shown = await main.evaluate("m => [m.scrollHeight, m.clientHeight]")
    assert inner <= shown, f"{name}: the page scrolls inside <main> ({inner} > {shown} px)"
    path = shot(name)
    await page.screenshot(path=str(path), full_page=True)
    with Image.open(path) as image:
        assert image.height >= shown, (name, image.height, shown)
    publish(path)


HISTORY_ORDERS = 240


def _write_history(stack: LiveStack) -> history.HistorySummary:
    with stack.session_factory() as session:
        for path in sorted((ROOT / "examples").glob("*.json")):
            raw = read_definition(path)
            definitions.publish(
                session, key=raw["key"], raw=raw, user="demo", unless_unchanged=True
            )
            session.commit()
    return history.generate_history(stack.session_factory, orders_count=HISTORY_ORDERS, days=60)


def last_month() -> str:
    """The month before this one (China time), which the history has settled orders in."""
    today = datetime.now(UTC) + timedelta(hours=8)
    return (today.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")


@pytest.fixture(scope="module")
async def demo_history(stack: LiveStack) -> history.HistorySummary:
    """A short demo history (orders of the last 60 days, through the order writer), and
    last month settled by finance's settlement run: the statements finance exports."""
    written = await asyncio.to_thread(_write_history, stack)
    async with api_as(stack, "finance") as http:
        ran = await http.post("/api/settlement-runs", json={"period": last_month()})
        assert ran.status_code == 200, ran.text
        assert ran.json()["statements"] > 0, ran.text
    return written


@pytest.fixture(scope="module")
async def orders(stack: LiveStack, demo_history: history.HistorySummary) -> list[str]:
    """Three orders waiting at their service step: two in 华北 (bj-001, bj-002), one in 华东."""
    definition = json.loads((ROOT / "examples" / "ac-repair.json").read_text())
    definition["key"] = KEY
    ids = []
    async with api_as(stack, "hq_admin") as http:
        created = await http.post("/api/definitions", json={"definition": definition})
        assert created.status_code == 201, created.text
        assert (await http.post(f"/api/definitions/{KEY}/publish")).status_code == 201
        for outlet, phone, lat, lng in ORDERS:
            body = {
                "definition_key": KEY,
                "outlet": outlet,
                "variables": {"fault": "空调不制冷"},
                "customer": {"name": "测试客户", "phone": phone, "lat": lat, "lng": lng},
            }
            started = await http.post("/api/orders", json=body)
            assert started.status_code == 201, started.text
            ids.append(started.json()["order_id"])
        for order_id in ids:
            waiting = await http.get(
                f"/api/orders/{order_id}/waiting", params={"node_id": "service", "wait": 30}
            )
            assert waiting.json()["steps"], waiting.text
    return ids


async def sign_in(page: Page, stack: LiveStack, username: str, password: str = PASSWORD) -> None:
    await page.goto(f"{stack.url}/console#/login")
    await page.fill("input[name=username]", username)
    await page.fill("input[name=password]", password)
    await page.click("[data-action=login]")
    await expect(page.locator(".sf-user-name")).to_be_visible()


async def dashboard_total(stack: LiveStack, username: str) -> dict:
    async with api_as(stack, username) as http:
        answer = await http.get("/api/reporting/dashboard", params={"days": 30})
        assert answer.status_code == 200, answer.text
        return answer.json()


async def test_hq_region_and_outlet_see_their_own_scope_on_the_same_dashboard(
    stack: LiveStack, page: Page, orders: list[str]
):
    figures = {}
    for username in ("hq_admin", "region_mgr_huabei", "outlet_mgr_bj_001"):
        api = await dashboard_total(stack, username)
        figures[username] = api
        await sign_in(page, stack, username)
        await page.goto(f"{stack.url}/console#/dashboard")
        total = page.locator("[data-kpi=orders-total] .sf-kpi-value")
        await expect(total).to_have_text(str(api["orders"]["total"]))
        await expect(page.locator("h2[data-scope]")).to_have_attribute(
            "data-scope", api["scope"]["code"]
        )
        revenue = page.locator("[data-kpi=revenue] .sf-kpi-value")
        if api["money_visible"]:
            await expect(revenue).not_to_have_text("无权查看")
        else:
            await expect(revenue).to_have_text("无权查看")
        # The bottleneck heat map's rows: every region by name (the history ran in all).
        if username == "hq_admin":
            heat = page.locator("[data-regions]")
            await expect(heat).to_have_attribute("data-regions", re.compile("华北.*华东"))
            assert "huabei" not in (await heat.get_attribute("data-regions") or "")
        # Signed in on the same page after HQ, the outlet manager is not shown the names HQ
        # read (its dashboard and board name its outlet, not its region).
        if username == "outlet_mgr_bj_001":
            heat = page.locator("[data-regions]")
            await expect(heat).to_have_attribute("data-regions", "全部,huabei")
            await expect(page.locator(".sf-crumbs")).to_contain_text("北京朝阳服务网点")
            # No units below an outlet: said so, not an empty chart.
            await expect(page.locator("[data-empty=units]")).to_be_visible()
            await expect(page.locator("[data-chart=units]")).to_be_hidden()
        await snap(page, f"dashboard-{username}")
    hq, north, outlet = (figures[u]["orders"]["total"] for u in figures)
    # Our three orders: each level sees fewer, and exactly what the orders list says.
    assert hq >= 3 and north >= 2 and outlet >= 1
    assert hq > north > outlet
    # The dashboard's period (30 days) of the orders list says the same.
    start = f"{figures['region_mgr_huabei']['period']['start']}T00:00:00+08:00"
    async with api_as(stack, "region_mgr_huabei") as http:
        listed = (await http.get("/api/orders", params={"limit": 1, "from": start})).json()
    assert north == listed["count"]
    regions = {u["code"] for u in figures["hq_admin"]["by_unit"]}
    assert {"huabei", "huadong"} <= regions
    north_units = figures["region_mgr_huabei"]["by_unit"]
    assert north_units and all(u["path"].startswith("/hq/huabei/") for u in north_units)


async def test_a_dispatcher_drags_an_order_onto_an_engineer(
    stack: LiveStack, page: Page, orders: list[str]
):
    order_id = orders[0]
    async with api_as(stack, "dispatcher_huabei") as http:
        detail = (await http.get(f"/api/orders/{order_id}", params={"live": "false"})).json()
        board = (await http.get("/api/reporting/board")).json()
    before = next(s for s in detail["steps"] if s["completed_at"] is None)["assignee"]
    target = next(
        e
        for e in board["engineers"]
        if e["username"]
        and e["username"] != before
        and e["outlet"].startswith("bj-")
        and "refrigeration" in e["skills"]
    )
    await sign_in(page, stack, "dispatcher_huabei")
    await page.goto(f"{stack.url}/console#/dispatch")
    ticket = page.locator(f'.sf-ticket[data-order="{order_id}"]')
    engineer = page.locator(f'.sf-engineer[data-engineer="{target["username"]}"]')
    await expect(ticket).to_be_visible()
    await snap(page, "dispatch")
    await ticket.drag_to(engineer)
    await expect(page.locator("#sf-toast")).to_contain_text(target["name"])
    async with api_as(stack, "dispatcher_huabei") as http:
        for _ in range(50):
            detail = (await http.get(f"/api/orders/{order_id}", params={"live": "false"})).json()
            waiting = [s for s in detail["steps"] if s["completed_at"] is None]
            if waiting and waiting[0]["assignee"] == target["username"]:
                break
            await asyncio.sleep(0.2)
    assert waiting[0]["assignee"] == target["username"]


async def test_finance_exports_settlements_and_the_order_desk_searches(
    stack: LiveStack, page: Page, orders: list[str]
):
    await sign_in(page, stack, "finance")
    await page.goto(f"{stack.url}/console#/finance")
    await expect(page.locator("table[data-list=settlements]")).to_be_visible()
    async with page.expect_download() as download_info:
        await page.click("[data-action=export-settlements]")
    download = await download_info.value
    text = Path(await download.path()).read_text(encoding="utf-8-sig")
    async with api_as(stack, "finance") as http:
        count = (await http.get("/api/settlements", params={"limit": 500})).json()["count"]
    lines = text.strip().splitlines()
    assert lines[0].startswith("id,order_id,milestone")
    assert len(lines) - 1 == count
    await snap(page, "finance")

    await page.goto(f"{stack.url}/console#/orders")
    await page.fill("input[name=q]", "13900001503")  # the 华东 customer's phone
    await page.click("[data-action=search]")
    await expect(page.locator("table.sf-orders")).to_have_attribute("data-count", "1")
    await expect(page.locator(f'tr[data-order="{orders[2]}"]')).to_be_visible()
    await snap(page, "orders")
    await page.click(f'tr[data-order="{orders[2]}"] a')
    await expect(page.locator(f'h2[data-order="{orders[2]}"]')).to_be_visible()
    await expect(page.locator(".sf-timeline li").first).to_be_visible()
    await expect(page.locator(".sf-page")).not_to_contain_text("null")  # no empty section
    await snap(page, "order")


async def test_the_order_desk_names_regions_and_outlets_in_both_languages(
    stack: LiveStack, page: Page, orders: list[str], low_scores: list[str]
):
    """The API lists codes (region "huabei", outlet "bj-001"); the console shows the units'
    names, read from routes the role already may read (the dashboard, the dispatch board).
    The demo org has one name per unit (org.json has no English names): the same in both."""
    await sign_in(page, stack, "region_mgr_huabei")
    desk = page.locator("table.sf-orders")
    row = page.locator(f'tr[data-order="{orders[0]}"]')  # bj-001, 华北
    for heading in ("区域", "Region"):
        await page.goto(f"{stack.url}/console#/orders")
        await page.fill("input[name=q]", ORDERS[0][1])
        await page.click("[data-action=search]")
        await expect(row).to_be_visible()  # (with its call-back order, same customer)
        await expect(desk.locator("thead th").nth(3)).to_have_text(heading)
        await expect(row.locator("td[data-col=region]")).to_have_text("华北")
        await expect(row.locator("td[data-col=region] span")).to_have_attribute("title", "huabei")
        await expect(row.locator("td[data-col=outlet]")).to_have_text("北京朝阳服务网点")
        await page.click(f'tr[data-order="{orders[0]}"] a')
        detail = page.locator(f'h2[data-order="{orders[0]}"]')
        await expect(detail).to_be_visible()
        await expect(page.locator("span[data-col=region]")).to_have_text("华北")
        await expect(page.locator("span[data-col=outlet]")).to_have_text("北京朝阳服务网点")
        await expect(page.locator(".sf-page")).not_to_contain_text("null")
        # NPS by region and the low scores: by name too (a 3 and a 9 in 华北).
        await page.goto(f"{stack.url}/console#/nps")
        north = page.locator("table[data-list=nps] tr[data-key=huabei] td")
        await expect(north.first).to_have_text("华北")
        low = page.locator(f'table[data-list=follow-ups] tr[data-rated="{orders[0]}"] td')
        await expect(low.nth(1)).to_have_text("华北")
        await expect(low.nth(2)).to_have_text("北京朝阳服务网点")
        assert "huabei" not in await page.locator("[data-section=nps]").inner_text()
        if heading == "区域":
            await page.click("[data-action=lang]")


async def test_finance_exports_a_statement_with_its_lines_and_total(
    stack: LiveStack, page: Page, demo_history: history.HistorySummary
):
    async with api_as(stack, "finance") as http:
        listed = (
            await http.get("/api/statements", params={"period": last_month(), "limit": 200})
        ).json()
    # An outlet's statement of last month: one line per payout of its settlements.
    statement = max(
        (s for s in listed["data"] if s["party_kind"] == "outlet"), key=lambda s: s["lines"]
    )
    await sign_in(page, stack, "finance")
    await page.goto(f"{stack.url}/console#/finance")
    # Last month is shown first; finance narrows it to outlets.
    await expect(page.locator("input[name=statement-period]")).to_have_value(last_month())
    await page.select_option("select[name=statement-party-kind]", "outlet")
    await page.click("[data-action=search-statements]")
    outlets = sum(1 for s in listed["data"] if s["party_kind"] == "outlet")
    await expect(page.locator("table[data-list=statements]")).to_have_attribute(
        "data-count", str(outlets)
    )
    row = page.locator(f'tr[data-statement="{statement["id"]}"]')
    await expect(row).to_be_visible()
    async with page.expect_download() as download_info:
        await row.locator("[data-export=csv]").click()
    download = await download_info.value
    assert download.suggested_filename.endswith(".csv")
    rows = list(csv.reader(io.StringIO(Path(await download.path()).read_text("utf-8-sig"))))
    header, lines, total = rows[0], rows[1:-1], rows[-1]
    assert header[:2] == ["工单号", "里程碑"]
    assert len(lines) == statement["lines"] > 0
    assert all(line[0].startswith(history.PREFIX) for line in lines)
    assert all(line[4] == statement["party_id"] for line in lines)
    assert sum(Decimal(line[5]) for line in lines) == Decimal(statement["total"])
    assert total[0] == "合计" and Decimal(total[5]) == Decimal(statement["total"])
    await snap(page, "finance-statements")


async def test_an_admin_creates_an_engineer_login_that_can_sign_in(stack: LiveStack, page: Page):
    await sign_in(page, stack, "hq_admin")
    await page.goto(f"{stack.url}/console#/admin/users")
    await page.fill("input[name=new-username]", "engineer_console_01")
    await page.fill("input[name=new-display-name]", "控制台工程师")
    await page.select_option("select[name=new-role]", "engineer")
    await page.fill("input[name=new-org-unit]", "bj-001")
    await page.fill("input[name=new-password]", "Console-Pass-2026")
    await page.click("[data-action=create-user]")
    await expect(page.locator('tr[data-user="engineer_console_01"]')).to_be_visible()
    await snap(page, "admin")
    async with httpx.AsyncClient(base_url=stack.url) as http:
        body = {"username": "engineer_console_01", "password": "Console-Pass-2026"}
        login = await http.post("/api/auth/login", json=body)
    assert login.status_code == 200, login.text
    assert login.json()["user"]["roles"] == ["engineer"]
    await page.goto(f"{stack.url}/console#/admin/engineers")
    await expect(page.locator("table[data-list=engineers] tbody tr").first).to_be_visible()


async def test_a_region_manager_creates_a_customer_care_login(stack: LiveStack, page: Page):
    await sign_in(page, stack, "region_mgr_huabei")
    await page.goto(f"{stack.url}/console#/admin/users")
    role = page.locator("select[name=new-role]")
    # Named in the page's language; only what a region manager may grant is offered.
    await expect(role.locator("option[value=customer_care]")).to_have_text("客服")
    await expect(role.locator("option[value=hq_admin]")).to_have_count(0)
    await page.fill("input[name=new-username]", "care_console_01")
    await page.fill("input[name=new-display-name]", "控制台客服")
    await page.select_option("select[name=new-role]", label="客服")
    await page.fill("input[name=new-org-unit]", "huabei")
    await page.fill("input[name=new-password]", "Console-Care-2026")
    await page.click("[data-action=create-user]")
    row = page.locator('tr[data-user="care_console_01"]')
    await expect(row).to_contain_text("客服")
    async with httpx.AsyncClient(base_url=stack.url) as http:
        body = {"username": "care_console_01", "password": "Console-Care-2026"}
        login = await http.post("/api/auth/login", json=body)
    assert login.status_code == 200, login.text
    assert login.json()["user"]["roles"] == ["customer_care"]
    await page.click("[data-action=lang]")
    await expect(role.locator("option[value=customer_care]")).to_have_text("Customer care")


def signature() -> str:
    """A customer's signature as the sign-off page sends it (a PNG data URL)."""
    buffer = io.BytesIO()
    Image.new("RGB", (300, 120), (255, 255, 255)).save(buffer, "PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def _link(stack: LiveStack, order: dict, phone: str) -> str:
    """A survey-only sign-off link for the customer of `order`."""
    with stack.session_factory() as session:
        customer = customers.find_by_phone(session, phone=phone)
        token, _ = customers.create_signoff_link(
            session,
            order_id=order["order_id"],
            customer_id=customer.id if customer is not None else None,
            org_path=order["org_path"],
            region=order["region"],
            outlet=order["org_path"].rsplit("/", 1)[-1],
            engineer="engineer_bj_01",
            now=utcnow(),
        )
        session.commit()
    return token


@pytest.fixture(scope="module")
async def low_scores(
    stack: LiveStack, orders: list[str], temporal_env: WorkflowEnvironment
) -> list[str]:
    """Two low scores (bj-001 in 华北, sh-001 in 华东) and a 9 (bj-002), each low score's
    call-back order opened by the worker's follow-up loop; the call-back order ids."""
    ratings = {orders[0]: (3, "迟到两小时"), orders[1]: (9, ""), orders[2]: (2, "师傅态度不好")}
    async with api_as(stack, "hq_admin") as http:
        for (_outlet, phone, _lat, _lng), order_id in zip(ORDERS, orders, strict=True):
            order = (await http.get(f"/api/orders/{order_id}", params={"live": "false"})).json()
            rating, comment = ratings[order_id]
            token = await asyncio.to_thread(_link, stack, order["order"], phone)
            body = {"rating": rating, "comment": comment, "signature": signature()}
            signed = await http.post(f"/api/signoff/{token}", json=body)
            assert signed.status_code == 200, signed.text
    opened = await followups.open_follow_ups(
        stack.session_factory, temporal_env.client, task_queue=stack.task_queue, clock=utcnow
    )
    assert opened == 2
    return [f"nps-{orders[0]}", f"nps-{orders[2]}"]


async def test_customer_care_works_the_order_desk_and_a_low_scores_call_back(
    stack: LiveStack, page: Page, orders: list[str], low_scores: list[str]
):
    refused: list[str] = []  # any call the pages make that the API refuses for the role

    def watch(response: Response) -> None:
        if "/api/" in response.url and response.status in (401, 403):
            refused.append(f"{response.status} {response.url}")

    page.on("response", watch)
    async with api_as(stack, "care_huabei") as http:
        mine = (await http.get("/api/orders", params={"limit": 20})).json()
        for _ in range(150):  # the call-back order reaches its task (worker, busy machine)
            tasks = (await http.get("/api/my/tasks")).json()["data"]
            if any(t["order_id"] == low_scores[0] for t in tasks):
                break
            await asyncio.sleep(0.2)
    async with api_as(stack, "hq_admin") as http:
        north = (await http.get("/api/orders", params={"limit": 1, "region": "huabei"})).json()
    assert [t["order_id"] for t in tasks] == [low_scores[0]]  # not 华东's call back
    # Customer care reads every order of 华北 and none elsewhere.
    assert mine["count"] == north["count"] > 0
    assert {o["region"] for o in mine["data"]} == {"huabei"}

    await sign_in(page, stack, "care_huabei")
    # The pages its API permissions allow, and the order desk first.
    nav = page.locator(".sf-nav a[data-page]")
    await expect(nav).to_have_count(2)
    assert [await a.get_attribute("data-page") for a in await nav.all()] == ["orders", "nps"]
    await expect(page.locator(".sf-nav a[href='/designer']")).to_have_count(0)
    desk = page.locator("table.sf-orders")
    await expect(desk).to_have_attribute("data-count", str(mine["count"]))
    shown = [await r.get_attribute("data-order") for r in await desk.locator("tbody tr").all()]
    assert shown == [o["order_id"] for o in mine["data"]]
    await expect(page.locator(f'tr[data-order="{orders[2]}"]')).to_have_count(0)
    await snap(page, "orders-customer_care")
    # 华东's customer is not found by phone.
    await page.fill("input[name=q]", "13900001503")
    await page.click("[data-action=search]")
    await expect(desk).to_have_attribute("data-count", "0")
    await page.goto(f"{stack.url}/console#/orders/{orders[0]}")
    await expect(page.locator(f'h2[data-order="{orders[0]}"]')).to_be_visible()
    await expect(page.locator("[data-section=money]")).to_have_count(0)

    # NPS and call-backs: 华北's low score with its call-back order, its task, NPS by region.
    await page.click(".sf-nav a[data-page=nps]")
    follow_ups = page.locator("table[data-list=follow-ups]")
    await expect(follow_ups).to_have_attribute("data-count", "1")
    await expect(follow_ups.locator(f'tr[data-rated="{orders[0]}"]')).to_contain_text(low_scores[0])
    # 华北: a 3 and a 9 (responses, promoters, passives, detractors, NPS).
    north_nps = page.locator("table[data-list=nps] tr[data-key=huabei] td")
    await expect(north_nps).to_have_text(["huabei", "2", "1", "0", "1", "0"])
    await expect(page.locator("table[data-list=nps] tr[data-key=huadong]")).to_have_count(0)
    task = page.locator(f'table[data-list=my-call-backs] tr[data-order="{low_scores[0]}"]')
    await task.locator("[data-action=call-back]").click()
    form = page.locator("form[data-form=call-back]")
    await expect(form.locator("[data-phone]")).to_have_text(ORDERS[0][1])
    await expect(form).to_contain_text("3/10")
    await form.locator("input[name=f-reached]").check()
    await form.locator("select[name=f-cause]").select_option("上门时间")
    await form.locator("textarea[name=f-resolution]").fill("已致歉, 赠送一次免费清洗")
    await snap(page, "nps")
    await form.locator("[data-action=submit-call-back]").click()
    await expect(page.locator("#sf-toast")).to_contain_text("已完成回访")
    await expect(page.locator("[data-list=my-call-backs]")).to_have_attribute("data-count", "0")
    await page.click("[data-action=lang]")
    await expect(page.locator(".sf-page-head h2")).to_have_text("NPS & call-backs")
    await expect(page.locator("[data-list=my-call-backs]")).to_have_text(
        "No call-backs waiting for you"
    )
    async with api_as(stack, "care_huabei") as http:
        for _ in range(150):
            rows = (await http.get("/api/nps/follow-ups")).json()
            if rows[0]["follow_up_status"] == "completed":
                break
            await asyncio.sleep(0.2)
        done = (await http.get(f"/api/orders/{low_scores[0]}")).json()
    assert rows[0]["follow_up_status"] == "completed"
    worked = next(e for e in done["state"]["timeline"] if e["node_id"] == "call_back")
    assert worked["actor"] == "care_huabei", worked
    assert done["state"]["variables"]["call_back"] == {
        "reached": True,
        "cause": "上门时间",
        "resolution": "已致歉, 赠送一次免费清洗",
    }
    assert not refused, refused


async def test_the_api_docs_work_with_every_outside_request_blocked(stack: LiveStack, page: Page):
    outside: list[str] = []  # resource types asked of other hosts

    async def only_local(route):
        if route.request.url.startswith(stack.url):
            await route.continue_()
        else:
            outside.append(route.request.resource_type)
            await route.abort()

    await page.route("**/*", only_local)
    await page.goto(f"{stack.url}/docs")
    # Large bundles and the whole schema, parsed on a busy machine: generous waits.
    await expect(page.locator(".swagger-ui .opblock").first).to_be_visible(timeout=60_000)
    await page.goto(f"{stack.url}/redoc")
    await expect(page.locator("h1", has_text="servflow API")).to_be_visible(timeout=60_000)
    # Nothing the pages need comes from outside (ReDoc's own logo image may be asked for).
    assert not {"script", "stylesheet", "fetch", "xhr", "font"} & set(outside)


async def test_console_designer_and_phone_pages_come_from_one_base_template(stack: LiveStack):
    pages = {
        "/console": ("servflow 运营控制台", "console"),
        "/designer": ("servflow 流程设计器", "designer"),
        "/phone": ("servflow 工程师", "phone"),
    }
    async with httpx.AsyncClient(base_url=stack.url) as http:
        for path, (title, bundle) in pages.items():
            page = await http.get(path)
            assert page.status_code == 200, path
            assert f"<title>{title}</title>" in page.text
            assert f"/designer/static/build/{bundle}.js?v=" in page.text
            assert f"/designer/static/build/{bundle}.css?v=" in page.text
    # Only the phone page keeps pinch-zoom off and phone numbers unlinked.
    async with httpx.AsyncClient(base_url=stack.url) as http:
        phone, console = (await http.get("/phone")).text, (await http.get("/console")).text
    assert "maximum-scale=1" in phone and "telephone=no" in phone
    assert "maximum-scale=1" not in console and "telephone=no" not in console
