"""On a phone's viewport in Chromium: an engineer accepts a job, uploads two photos, picks
a part, signs and submits; the customer signs off and rates 9 — in Chinese (the default)
and in English (`?lang=en`, remembered by the sign-off page, switched back by the header's
button)."""

from __future__ import annotations

import asyncio
import io
import os
import re
import shutil
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image
from playwright.async_api import Page, expect
from sqlalchemy import select

from api.security import create_access_token
from servflow.customers.models import Survey
from servflow.inventory.models import Part, StockLevel, Warehouse
from servflow.notify.models import Notification
from servflow.org.models import AppUser, OrgUnit
from tests.phone.conftest import ARTIFACTS, ROOT, PhoneStack

pytestmark = pytest.mark.browser

# A step submission waits for the order (a worker on a busy machine): more than 5 s.
expect.set_options(timeout=30_000)

# 北京海淀, by outlet bj-002 and its smart-lock installer.
CUSTOMER = {
    "name": "周婷",
    "phone": "13700002222",
    "address": "北京市海淀区中关村大街27号",
    "city": "北京",
    "lat": 39.9593,
    "lng": 116.2981,
}


# What the pages say, per language.
WORDS = {
    "zh": {
        "accept": "接单",
        "submitted": "已提交",
        "refresh": "刷新",
        "thanks": "感谢您的评价 (9/10)",
        "signoff": "服务签收",
        "switch": "English",
    },
    "en": {
        "accept": "Accept",
        "submitted": "Submitted",
        "refresh": "Refresh",
        "thanks": "Thank you for your rating (9/10)",
        "signoff": "Service sign-off",
        "switch": "中文",
    },
}
CJK = re.compile(r"[\u4e00-\u9fff]")


async def chrome_text(page: Page) -> list[str]:
    """The page's own words: title, buttons, labels, placeholders, notices (not the data:
    customers, addresses, parts, step names typed into a definition)."""
    texts: list[str] = await page.evaluate(
        """() => [
          ...[...document.querySelectorAll(
            "header h1, button, .field > span, .notice, main > .card > p, main > .muted")]
            .map((e) => e.textContent),
          ...[...document.querySelectorAll("[placeholder]")].map((e) => e.placeholder),
        ]"""
    )
    return [t for t in texts if t and t.strip()]


async def speaks(page: Page, lang: str) -> None:
    """In English, none of the page's own words is Chinese (but the switch back)."""
    if lang != "en":
        return
    chinese = [t for t in await chrome_text(page) if CJK.search(t) and t != "中文"]
    assert not chinese, chinese


def token(stack: PhoneStack, username: str) -> dict[str, str]:
    with stack.session_factory() as session:
        user = session.scalar(select(AppUser).where(AppUser.username == username))
        assert user is not None
        value = create_access_token(
            user_id=user.id,
            username=username,
            secret=stack.settings.jwt_secret,
            ttl=timedelta(hours=1),
        )
    return {"Authorization": f"Bearer {value}"}


async def state_at(
    http: httpx.AsyncClient, order_id: str, node: str, headers: dict
) -> dict[str, Any]:
    for _ in range(300):
        response = await http.get(f"/api/orders/{order_id}", headers=headers)
        body = response.json() if response.status_code == 200 else {}
        active = [a["node_id"] for a in (body.get("state") or {}).get("active", [])]
        if node in active:
            return body
        await asyncio.sleep(0.1)
    raise AssertionError(f"order {order_id} never waited at {node}")


def stocked_part(stack: PhoneStack) -> tuple[str, str]:
    """A part on hand in a warehouse of 华北 (the order's region checks its stock)."""
    with stack.session_factory() as session:
        row = session.execute(
            select(Part.sku, Part.name)
            .join(StockLevel, StockLevel.part_id == Part.id)
            .join(Warehouse, Warehouse.id == StockLevel.warehouse_id)
            .join(OrgUnit, OrgUnit.id == Warehouse.region_id)
            .where(OrgUnit.path.startswith("/hq/huabei"), StockLevel.on_hand > 0)
            .order_by(Part.sku)
            .limit(1)
        ).one()
    return row.sku, row.name


def photo(path: Path, color: tuple[int, int, int]) -> Path:
    image = Image.new("RGB", (640, 480), color)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG")
    path.write_bytes(buffer.getvalue())
    return path


async def sign(page: Page, canvas: str) -> None:
    """Draws a stroke with a finger (touch events, as on the phone)."""
    await page.locator(canvas).scroll_into_view_if_needed()
    box = await page.locator(canvas).bounding_box()
    assert box is not None
    x, y = box["x"] + 20, box["y"] + box["height"] / 2
    cdp = await page.context.new_cdp_session(page)
    await cdp.send(
        "Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": x, "y": y}]}
    )
    for step in range(1, 12):
        point = {"x": x + step * 22, "y": y + (18 if step % 2 else -18)}
        await cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [point]})
    await cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    await cdp.detach()


async def shoot(page: Page, name: str, lang: str) -> None:
    """A screenshot under test-artifacts/; copied to docs/ when SERVFLOW_UPDATE_SCREENSHOT=1
    (the English ones as phone-…-en.png)."""
    if lang != "zh":
        name = name.replace(".png", f"-{lang}.png")
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    await page.screenshot(path=str(path), full_page=True)
    if os.environ.get("SERVFLOW_UPDATE_SCREENSHOT") == "1":
        shutil.copyfile(path, ROOT / "docs" / name)


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_engineer_accepts_uploads_photos_picks_a_part_signs_and_the_customer_rates_9(
    phone_stack: PhoneStack, phone: Page, tmp_path: Path, lang: str
) -> None:
    stack = phone_stack
    words = WORDS[lang]
    # Another customer per language: the same one twice is a duplicate of the open order.
    customer = {**CUSTOMER, "phone": {"zh": "13700002222", "en": "13700003333"}[lang]}
    admin = token(stack, "hq_admin")
    async with httpx.AsyncClient(base_url=stack.url, timeout=30) as http:
        started = await http.post(
            "/api/orders",
            json={
                "definition_key": "installation",
                "variables": {"fault": "智能门锁安装"},
                "customer": customer,
                "region": "huabei",
            },
            headers=admin,
        )
        assert started.status_code == 201, started.text
        order_id = started.json()["order_id"]
        body = await state_at(http, order_id, "accept", admin)
        engineer = body["state"]["variables"]["dispatch"]["engineer_user_id"]
        sku, part_name = stocked_part(stack)

        # The engineer signs in on the phone and accepts the job.
        await phone.goto(f"{stack.url}/phone" + ("?lang=en" if lang == "en" else ""))
        await speaks(phone, lang)
        await phone.fill("input[name=username]", engineer)
        await phone.fill("input[name=password]", "demo1234")
        await phone.click("button[type=submit]")
        await phone.click(f"li.task[data-order='{order_id}'][data-node='accept']")
        await expect(phone.locator(".address")).to_have_text(CUSTOMER["address"])
        assert "uri.amap.com/marker?position=116.2981,39.9593" in (
            await phone.locator("a.button").get_attribute("href") or ""
        )
        await speaks(phone, lang)
        await phone.get_by_role("button", name=words["accept"], exact=True).click()
        await expect(phone.locator(".notice.ok")).to_have_text(words["submitted"])
        install = phone.locator(f"li.task[data-order='{order_id}'][data-node='install']")
        for _ in range(100):
            if await install.count():
                break
            await phone.get_by_role("button", name=words["refresh"]).click()
            await asyncio.sleep(0.2)
        await speaks(phone, lang)
        await shoot(phone, "phone-tasks.png", lang)

        # The installation step: two photos, a part from the catalogue, a signature.
        await install.click()
        await phone.set_input_files(
            "input[data-field=photos]",
            [
                photo(tmp_path / "door.jpg", (180, 40, 40)),
                photo(tmp_path / "lock.jpg", (40, 90, 180)),
            ],
        )
        await expect(phone.locator(".thumbs img")).to_have_count(2)
        await phone.fill("input[data-parts=parts_used]", sku)
        await phone.locator(".result").first.click()
        await expect(phone.locator(".line")).to_have_count(1)
        await sign(phone, "canvas.signature")
        await speaks(phone, lang)
        await shoot(phone, "phone-form.png", lang)
        await phone.click("#submit")
        await expect(phone.locator(".notice.ok")).to_have_text(words["submitted"])

        body = await state_at(http, order_id, "signoff", admin)
        done = next(e for e in body["state"]["timeline"] if e["node_id"] == "install")
        assert done["actor"] == engineer
        installed = body["state"]["variables"]["install"]
        assert len(installed["photos"]) == 2 and len(set(installed["photos"])) == 2
        assert installed["parts_used"] == [{"sku": sku, "qty": 1}]
        assert installed["signature"].endswith(".png")
        assert part_name
        # The photos were attached to the order: its managers see them, another region's
        # do not (a 404, as for no file at all).
        for file_id in [*installed["photos"], installed["signature"]]:
            seen = await http.get(f"/api/uploads/{file_id}?thumb=true", headers=admin)
            assert seen.status_code == 200, file_id
            hidden = await http.get(
                f"/api/uploads/{file_id}", headers=token(stack, "region_mgr_huadong")
            )
            assert hidden.status_code == 404, file_id

        # The customer signs off on their own phone and rates the service 9 (the link has
        # no ?lang: the language chosen before is remembered).
        link = await http.post(
            f"/api/orders/{order_id}/signoff-link", headers=token(stack, engineer)
        )
        assert link.status_code == 201, link.text
        # Texted to the customer through the outbox: the link is the SMS template's ${link}.
        with stack.session_factory() as session:
            text = session.scalars(
                select(Notification).where(
                    Notification.order_id == order_id, Notification.channel == "sms"
                )
            ).one()
            assert text.recipients == [customer["phone"]]
            assert text.payload["sms_params"]["link"].endswith(link.json()["url"])
        await phone.goto(f"{stack.url}{link.json()['url']}")
        await phone.click(".score[data-score='9']")
        await phone.fill("textarea[name=comment]", "师傅很专业")
        await sign(phone, "canvas.signature")
        await speaks(phone, lang)
        await shoot(phone, "phone-signoff.png", lang)
        await phone.click("#sign")
        await expect(phone.locator(".notice.ok")).to_have_text(words["thanks"])
        # The receipt shows the signature as stored, read with the link itself.
        receipt = phone.locator("img.receipt-signature")
        await expect(receipt).to_have_count(1)
        loaded = await receipt.evaluate("img => img.complete && img.naturalWidth > 0")
        for _ in range(50):
            if loaded:
                break
            await asyncio.sleep(0.1)
            loaded = await receipt.evaluate("img => img.complete && img.naturalWidth > 0")
        assert loaded, "the signature's thumbnail did not load"
        await expect(phone.locator("header h1")).to_have_text(words["signoff"])
        # The header's button switches the language (and the page says so in it).
        await phone.get_by_role("button", name=words["switch"], exact=True).click()
        other = WORDS["en" if lang == "zh" else "zh"]
        await expect(phone.locator("header h1")).to_have_text(other["signoff"])
        await expect(phone.locator(".notice.ok")).to_have_text(other["thanks"])

        with stack.session_factory() as session:
            survey = session.scalars(select(Survey).where(Survey.order_id == order_id)).one()
            assert (survey.rating, survey.comment, survey.follow_up) == (9, "师傅很专业", False)
            assert survey.signature_file.endswith(".png")
        nps = await http.get("/api/nps", params={"group_by": "engineer"}, headers=admin)
        # Every sign-off of this engineer (one per language run) was a 9.
        mine = next(row for row in nps.json() if row["key"] == engineer)
        assert mine["responses"] >= 1 and mine["promoters"] == mine["responses"]
        assert (mine["passives"], mine["detractors"], mine["nps"]) == (0, 0, 100.0)
        # The link was for one sign-off.
        again = await http.get(f"/api/signoff/{link.json()['url'].rsplit('/', 1)[1]}")
        assert again.status_code == 404
