"""The customer's sign-off page when the link goes bad while it is open: it expired (410)
or someone signed with another answer meanwhile (409 "used"). The page says so in the
customer's language and takes the button away (signing again cannot help)."""

from __future__ import annotations

import base64
import io
from datetime import timedelta

import httpx
import pytest
from PIL import Image
from playwright.async_api import Page, expect
from sqlalchemy import update

from servflow.customers import service as customers
from servflow.customers.models import SignoffLink
from servflow.platform.base import utcnow
from tests.phone.conftest import PhoneStack
from tests.phone.test_phone_browser import sign

pytestmark = pytest.mark.browser

SAID = {
    "zh": {
        410: "该签收链接已过期, 请联系服务工程师重新发送",
        409: "该链接已用另一份评价签收过, 每个链接只能签收一次",
    },
    "en": {
        410: "This sign-off link has expired: ask the engineer for a new one",
        409: "This link was already used to sign off with another answer: a link signs once",
    },
}


def signature() -> str:
    """The other answer's signature (a PNG, as the page sends)."""
    buffer = io.BytesIO()
    Image.new("RGB", (300, 120), (255, 255, 255)).save(buffer, "PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def new_link(stack: PhoneStack, order_id: str) -> tuple[str, int]:
    """A survey-only link of 华北's bj-001 (no step waits for it)."""
    with stack.session_factory() as session:
        token, link = customers.create_signoff_link(
            session,
            order_id=order_id,
            customer_id=None,
            org_path="/hq/huabei/bj-branch/bj-001",
            region="huabei",
            outlet="bj-001",
            engineer="engineer_bj_01",
            now=utcnow(),
        )
        session.commit()
        return token, link.id


async def open_and_fill(phone: Page, stack: PhoneStack, token: str, lang: str) -> None:
    await phone.goto(f"{stack.url}/phone/signoff/{token}?lang={lang}")
    await phone.click("button.score[data-score='8']")
    await sign(phone, "canvas")


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_a_link_that_expired_while_open_says_so(
    phone_stack: PhoneStack, phone: Page, lang: str
) -> None:
    token, link_id = new_link(phone_stack, f"expired-while-open-{lang}")
    await open_and_fill(phone, phone_stack, token, lang)
    with phone_stack.session_factory() as session:
        session.execute(
            update(SignoffLink)
            .where(SignoffLink.id == link_id)
            .values(expires_at=utcnow() - timedelta(minutes=1))
        )
        session.commit()
    async with httpx.AsyncClient(base_url=phone_stack.url) as http:
        probe = await http.post(
            f"/api/signoff/{token}", json={"rating": 8, "signature": signature()}
        )
    assert probe.status_code == 410, probe.text  # what the page is about to get
    await phone.click("#sign")
    await expect(phone.locator(".notice.error")).to_have_text(SAID[lang][410])
    await expect(phone.locator("#sign")).to_have_count(0)


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_a_link_signed_meanwhile_with_another_answer_says_so(
    phone_stack: PhoneStack, phone: Page, lang: str
) -> None:
    token, _ = new_link(phone_stack, f"signed-meanwhile-{lang}")
    await open_and_fill(phone, phone_stack, token, lang)
    async with httpx.AsyncClient(base_url=phone_stack.url) as http:
        first = await http.post(
            f"/api/signoff/{token}", json={"rating": 10, "signature": signature()}
        )
    assert first.status_code == 200, first.text
    await phone.click("#sign")
    await expect(phone.locator(".notice.error")).to_have_text(SAID[lang][409])
    await expect(phone.locator("#sign")).to_have_count(0)
