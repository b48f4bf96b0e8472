"""On a phone's viewport in Chromium: the engineer of a step with a business-time SLA sees
its deadline and time left, pauses the clock waiting for parts (等配件), sees it paused
(also after opening the task again), the order's clock is paused per the API and the store,
and resumes it — in Chinese and in English; a pause a manager made through the API shows
its reason on the engineer's phone (the reason is stored with the clock)."""

from __future__ import annotations

import asyncio
import copy
from typing import Any

import httpx
import pytest
from playwright.async_api import Page, expect
from sqlalchemy import select

from servflow.definitions import service as definitions
from servflow.sla.models import SlaClock
from tests.integrations.conftest import INSTALLATION
from tests.phone.conftest import PhoneStack
from tests.phone.test_phone_browser import CUSTOMER, shoot, speaks, state_at, token

pytestmark = pytest.mark.browser

expect.set_options(timeout=30_000)

WORDS = {
    "zh": {
        "due": "截止",
        "left": "剩余",
        "pause": "暂停计时",
        "parts": "等配件",
        "confirm": "确认暂停",
        "pick": "请选择暂停原因",
        "paused": "计时已暂停 · 原因: 等配件",
        "by_manager": "计时已暂停 · 原因: 等客户",
        "resume": "恢复计时",
    },
    "en": {
        "due": "Due",
        "left": "left",
        "pause": "Pause clock",
        "parts": "Waiting for parts",
        "confirm": "Pause now",
        "pick": "Please choose why",
        "paused": "Clock paused · reason: Waiting for parts",
        "by_manager": "Clock paused · reason: Waiting for customer",
        "resume": "Resume",
    },
}


def publish_with_sla(stack: PhoneStack) -> None:
    """The installation pipeline whose acceptance runs on the demo's 7×12 `onsite` policy."""
    raw = copy.deepcopy(INSTALLATION)
    raw["key"] = "installation_sla"
    raw["name"] = "安装 (含时限)"
    accept = next(n for n in raw["nodes"] if n["id"] == "accept")
    accept["sla"] = {"within": "PT8H", "policy": "onsite", "notify": ["dispatcher"]}
    with stack.session_factory() as session:
        definitions.publish(
            session, key="installation_sla", raw=raw, user="designer", unless_unchanged=True
        )
        session.commit()


async def deadline_of(
    http: httpx.AsyncClient, order_id: str, headers: dict[str, str], *, paused: bool
) -> Any:
    """The accept step's `sla_deadline` in the order's live state, once it is (not) null."""
    for _ in range(300):
        body = (await http.get(f"/api/orders/{order_id}", headers=headers)).json()
        active = next(a for a in body["state"]["active"] if a["node_id"] == "accept")
        if (active["sla_deadline"] is None) == paused:
            return active["sla_deadline"]
        await asyncio.sleep(0.1)
    raise AssertionError(f"the clock of {order_id} never became {'paused' if paused else 'due'}")


async def accepting_engineer(
    http: httpx.AsyncClient, stack: PhoneStack, key: str, phone_number: str
) -> tuple[str, str]:
    """Starts an order on pipeline `key` for a 华北 customer and waits until its accept step
    has an engineer and a running deadline: (order id, engineer's username)."""
    admin = token(stack, "hq_admin")
    started = await http.post(
        "/api/orders",
        json={
            "definition_key": key,
            "variables": {"fault": "智能门锁安装"},
            "customer": {**CUSTOMER, "phone": phone_number},
            "region": "huabei",
        },
        headers=admin,
    )
    assert started.status_code == 201, started.text
    order_id = started.json()["order_id"]
    body = await state_at(http, order_id, "accept", admin)
    engineer = body["state"]["variables"]["dispatch"]["engineer_user_id"]
    await deadline_of(http, order_id, token(stack, engineer), paused=False)
    return order_id, engineer


def stored_clock(stack: PhoneStack, order_id: str) -> SlaClock:
    with stack.session_factory() as session:
        return session.scalars(
            select(SlaClock).where(SlaClock.order_id == order_id, SlaClock.node_id == "accept")
        ).one()


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_engineer_pauses_the_clock_waiting_for_parts_on_the_phone_and_resumes_it(
    phone_stack: PhoneStack, phone: Page, lang: str
) -> None:
    stack = phone_stack
    words = WORDS[lang]
    publish_with_sla(stack)
    admin = token(stack, "hq_admin")
    phone_number = {"zh": "13700004444", "en": "13700005555"}[lang]
    async with httpx.AsyncClient(base_url=stack.url, timeout=30) as http:
        order_id, engineer = await accepting_engineer(http, stack, "installation_sla", phone_number)
        mine = token(stack, engineer)

        await phone.clock.install()  # the page's clock, moved on below
        await phone.goto(f"{stack.url}/phone" + ("?lang=en" if lang == "en" else ""))
        await phone.fill("input[name=username]", engineer)
        await phone.fill("input[name=password]", "demo1234")
        await phone.click("button[type=submit]")
        task = phone.locator(f"li.task[data-order='{order_id}'][data-node='accept']")
        await task.click()
        card = phone.locator("section.sla")
        await expect(card).to_have_attribute("data-state", "running")
        await expect(card.locator(".sla-due")).to_contain_text(words["due"])
        await expect(card.locator(".sla-left")).to_contain_text(words["left"])
        # The time left runs on while the task is open (an hour later on the page's clock).
        before = await card.locator(".sla-left").text_content()
        await phone.clock.fast_forward("01:00:00")
        await expect(card.locator(".sla-left")).not_to_have_text(before or "")
        await expect(card.locator(".sla-left")).to_contain_text(words["left"])

        # Pausing asks why: nothing picked is refused in the page's language.
        await phone.get_by_role("button", name=words["pause"], exact=True).click()
        await phone.click("#sla-confirm")
        await expect(card.locator(".notice.error")).to_have_text(words["pick"])
        await phone.get_by_role("radio", name=words["parts"], exact=True).click()
        await expect(card.locator(".notice.error")).to_have_count(0)
        await speaks(phone, lang)
        await shoot(phone, "phone-sla-pause.png", lang)
        await phone.click("#sla-confirm")
        await expect(card).to_have_attribute("data-state", "paused")
        await expect(card.locator(".notice.warn")).to_have_text(words["paused"])

        # The order's clock is paused: no deadline in its state, paused in the store, and
        # the step is in no breach list.
        assert await deadline_of(http, order_id, mine, paused=True) is None
        clock = stored_clock(stack, order_id)
        assert clock.paused_at is not None and clock.deadline is None
        assert clock.pause_reason == "等配件"
        for state in ("breached", "at_risk"):
            listed = await http.get("/api/sla/breaches", params={"state": state}, headers=admin)
            assert listed.status_code == 200
            assert order_id not in [b["order_id"] for b in listed.json()["data"]]

        # Opened again, the task reads the paused clock back from the order.
        await phone.goto(f"{stack.url}/phone")
        await task.click()
        await expect(card).to_have_attribute("data-state", "paused")
        await expect(card.locator(".notice.warn")).to_have_text(words["paused"])
        await speaks(phone, lang)
        await shoot(phone, "phone-sla-paused.png", lang)

        await phone.get_by_role("button", name=words["resume"], exact=True).click()
        await expect(card).to_have_attribute("data-state", "running")
        await expect(card.locator(".sla-left")).to_contain_text(words["left"])
        assert await deadline_of(http, order_id, mine, paused=False) is not None
        clock = stored_clock(stack, order_id)
        assert clock.paused_at is None and clock.deadline is not None
        assert clock.pause_reason is None
        await expect(phone.get_by_role("button", name=words["pause"], exact=True)).to_be_visible()

        # A pause made by a manager through the API: the reason is stored with the clock,
        # so the engineer's phone shows it (nothing of it in the page's storage), in the
        # page's language; the manager's resume clears it.
        step = f"/api/orders/{order_id}/steps/accept/sla"
        paused = await http.post(f"{step}/pause", json={"reason": "等客户"}, headers=admin)
        assert paused.status_code == 202, paused.text
        assert (await stored_pause(stack, order_id, paused=True)).pause_reason == "等客户"
        read = await http.get(f"/api/phone/tasks/{order_id}/accept", headers=mine)
        assert read.status_code == 200, read.text
        assert read.json()["sla"] == {
            "deadline": None,
            "paused": True,
            "pause_reason": "等客户",
            "can_pause": True,
        }
        await phone.goto(f"{stack.url}/phone")
        await task.click()
        await expect(card).to_have_attribute("data-state", "paused")
        await expect(card.locator(".notice.warn")).to_have_text(words["by_manager"])
        await speaks(phone, lang)
        stored = await phone.evaluate("() => JSON.stringify(Object.entries(localStorage))")
        assert "等客户" not in stored and "等配件" not in stored

        resumed = await http.post(f"{step}/resume", headers=admin)
        assert resumed.status_code == 202, resumed.text
        assert (await stored_pause(stack, order_id, paused=False)).pause_reason is None
        read = await http.get(f"/api/phone/tasks/{order_id}/accept", headers=mine)
        sla = read.json()["sla"]
        assert sla["paused"] is False and sla["pause_reason"] is None
        assert sla["deadline"] is not None
        await phone.goto(f"{stack.url}/phone")
        await task.click()
        await expect(card).to_have_attribute("data-state", "running")
        await expect(card.locator(".sla-left")).to_contain_text(words["left"])
        await expect(card.locator(".notice.warn")).to_have_count(0)


async def stored_pause(stack: PhoneStack, order_id: str, *, paused: bool) -> SlaClock:
    """The accept step's stored clock once the workflow has (un)paused it."""
    for _ in range(300):
        clock = stored_clock(stack, order_id)
        if (clock.paused_at is not None) == paused:
            return clock
        await asyncio.sleep(0.1)
    raise AssertionError(f"the clock of {order_id} never became {'paused' if paused else 'due'}")


ERRORS = {
    "zh": {
        "other": "其他",
        "write": "请写明原因",
        "gone": "该步骤已不在等待中, 无法暂停或恢复计时",
    },
    "en": {
        "other": "Other",
        "write": "Please write the reason",
        "gone": "This step is no longer waiting: its clock cannot be paused or resumed",
    },
}


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_pausing_a_step_no_longer_waiting_says_so_in_the_page_language(
    phone_stack: PhoneStack, phone: Page, lang: str
) -> None:
    stack = phone_stack
    words, errors = WORDS[lang], ERRORS[lang]
    publish_with_sla(stack)
    admin = token(stack, "hq_admin")
    phone_number = {"zh": "13700006666", "en": "13700007777"}[lang]
    async with httpx.AsyncClient(base_url=stack.url, timeout=30) as http:
        order_id, engineer = await accepting_engineer(http, stack, "installation_sla", phone_number)
        mine = token(stack, engineer)

        await phone.goto(f"{stack.url}/phone" + ("?lang=en" if lang == "en" else ""))
        await phone.fill("input[name=username]", engineer)
        await phone.fill("input[name=password]", "demo1234")
        await phone.click("button[type=submit]")
        await phone.click(f"li.task[data-order='{order_id}'][data-node='accept']")
        card = phone.locator("section.sla")
        await expect(card).to_have_attribute("data-state", "running")
        await phone.get_by_role("button", name=words["pause"], exact=True).click()
        # "Other" needs its text.
        await phone.get_by_role("radio", name=errors["other"], exact=True).click()
        await phone.click("#sla-confirm")
        await expect(card.locator(".notice.error")).to_have_text(errors["write"])
        await phone.fill("input[name=sla-other]", "客户改约到周五")
        # Meanwhile the step is done (on another phone): the pause is refused (409).
        done = await http.post(
            f"/api/orders/{order_id}/steps/accept",
            json={"outcome": "accepted", "data": {}},
            headers=mine,
        )
        assert done.status_code in (200, 202), done.text
        await state_at(http, order_id, "install", admin)
        await phone.click("#sla-confirm")
        await expect(card.locator(".notice.error")).to_have_text(errors["gone"])
        await speaks(phone, lang)
        with stack.session_factory() as session:
            clock = session.scalars(
                select(SlaClock).where(SlaClock.order_id == order_id, SlaClock.node_id == "accept")
            ).one()
            assert clock.paused_at is None


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_a_plain_timer_shows_its_deadline_without_a_pause(
    phone_stack: PhoneStack, phone: Page, lang: str
) -> None:
    """A wall-clock `sla` (no business clock, no policy) cannot pause: the order ignores
    `sla_pause` for it, so the phone offers no button."""
    stack = phone_stack
    raw = copy.deepcopy(INSTALLATION)
    raw["key"] = "installation_timer"
    raw["name"] = "安装 (限时)"
    accept = next(n for n in raw["nodes"] if n["id"] == "accept")
    accept["sla"] = {"within": "PT8H", "notify": ["dispatcher"]}
    with stack.session_factory() as session:
        definitions.publish(
            session, key="installation_timer", raw=raw, user="designer", unless_unchanged=True
        )
        session.commit()
    phone_number = {"zh": "13700008888", "en": "13700009999"}[lang]
    async with httpx.AsyncClient(base_url=stack.url, timeout=30) as http:
        order_id, engineer = await accepting_engineer(
            http, stack, "installation_timer", phone_number
        )

        await phone.goto(f"{stack.url}/phone" + ("?lang=en" if lang == "en" else ""))
        await phone.fill("input[name=username]", engineer)
        await phone.fill("input[name=password]", "demo1234")
        await phone.click("button[type=submit]")
        await phone.click(f"li.task[data-order='{order_id}'][data-node='accept']")
        card = phone.locator("section.sla")
        await expect(card).to_have_attribute("data-state", "running")
        await expect(card.locator(".sla-left")).to_contain_text(WORDS[lang]["left"])
        fixed = {"zh": "此时限不可暂停", "en": "This deadline cannot be paused"}[lang]
        await expect(card).to_contain_text(fixed)
        await expect(card.locator("#sla-pause")).to_have_count(0)
        await speaks(phone, lang)
