"""A dispatched engineer's accept/decline card: its click comes back through the callback
and is applied to the order once, however often WeCom delivers it."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import select

from servflow.integrations.models import WecomCard
from servflow.integrations.wecom.crypto import MsgCrypt, parse_xml, signature
from servflow.integrations.wecom.service import WecomConfig, WecomNotifier
from servflow.notify import service as notify
from servflow.platform.base import utcnow
from tests.api.conftest import wait_for, waiting_at
from tests.integrations.conftest import CALLBACK_AES_KEY, CALLBACK_TOKEN, wecom_settings
from tests.integrations.fake_wecom import CORP_ID
from tests.integrations.test_wecom_crypto import MESSAGE, MESSAGE_XML, VERIFY

# 北京海淀, by outlet bj-002 and its smart-lock installer bj_03.
CUSTOMER = {
    "name": "刘洋",
    "phone": "13700001111",
    "address": "北京市海淀区中关村大街1号",
    "city": "北京",
    "lat": 39.9593,
    "lng": 116.2981,
}


def click_xml(task_id: str, userid: str, key: str, *, response_code: str = "") -> str:
    return (
        f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName>"
        f"<FromUserName><![CDATA[{userid}]]></FromUserName>"
        f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
        "<Event><![CDATA[template_card_event]]></Event>"
        f"<EventKey><![CDATA[{key}]]></EventKey><TaskId><![CDATA[{task_id}]]></TaskId>"
        "<CardType><![CDATA[button_interaction]]></CardType>"
        f"<ResponseCode><![CDATA[{response_code}]]></ResponseCode>"
        "<AgentID>1000002</AgentID></xml>"
    )


async def post_callback(api, xml: str) -> Any:
    crypt = MsgCrypt(CALLBACK_TOKEN, CALLBACK_AES_KEY, CORP_ID)
    timestamp, nonce = str(int(time.time())), "182736"
    body = crypt.encrypt_xml(xml, timestamp=timestamp, nonce=nonce)
    sig = parse_xml(body)["MsgSignature"]
    return await api.post(
        "/api/wecom/callback",
        params={"msg_signature": sig, "timestamp": timestamp, "nonce": nonce},
        content=body.encode(),
    )


async def test_the_url_check_returns_the_echostr_raw(api, fake):
    # The official sample's URL check (its corp id is not ours: a receive-id refusal).
    response = await api.get("/api/wecom/callback", params=VERIFY)
    assert response.status_code == 401
    crypt = MsgCrypt(CALLBACK_TOKEN, CALLBACK_AES_KEY, CORP_ID)
    echostr = crypt.encrypt("8765432109")
    params = {
        "msg_signature": signature(CALLBACK_TOKEN, "1476416373", "47744683", echostr),
        "timestamp": "1476416373",
        "nonce": "47744683",
        "echostr": echostr,
    }
    response = await api.get("/api/wecom/callback", params=params)
    assert response.status_code == 200
    assert response.text == "8765432109"  # raw: no quotes, no JSON


async def test_a_callback_with_a_bad_signature_is_refused(api):
    response = await api.post(
        "/api/wecom/callback",
        params={**MESSAGE, "msg_signature": "0" * 40},
        content=MESSAGE_XML,
    )
    assert response.status_code == 401
    assert "msg_signature" in response.json()["detail"]


async def test_a_card_click_accepts_the_job_once_even_when_delivered_twice(
    api, worker, headers, demo, fake
):
    response = await api.post(
        "/api/orders",
        json={
            "definition_key": "installation",
            "variables": {"fault": "智能门锁安装"},
            "customer": CUSTOMER,
            "region": "huabei",
        },
        headers=headers("hq_admin"),
    )
    assert response.status_code == 201, response.text
    order_id = response.json()["order_id"]
    body = await wait_for(api, order_id, waiting_at("accept"), headers("hq_admin"), timeout=60)
    engineer = body["state"]["variables"]["dispatch"]["engineer_user_id"]

    # The engineer got a card with 接单/拒单 on WeCom (the fake).
    cards = [m for m in fake.state.delivered if m["msgtype"] == "template_card"]
    card = next(c for c in cards if c["touser"] == engineer)
    task_id = card["template_card"]["task_id"]
    keys = [b["key"] for b in card["template_card"]["button_list"]]
    assert keys == ["accept", "decline"]
    with demo() as session:
        row = session.scalar(select(WecomCard).where(WecomCard.task_id == task_id))
        assert row is not None and row.order_id == order_id and row.response_code

    # WeCom delivers the click twice (its answer was late), then the engineer taps decline.
    click = click_xml(task_id, engineer, "accept", response_code=row.response_code)
    first = await post_callback(api, click)
    second = await post_callback(api, click)
    late_decline = await post_callback(api, click_xml(task_id, engineer, "decline"))
    assert [r.status_code for r in (first, second, late_decline)] == [200, 200, 200]
    assert first.text == ""

    body = await wait_for(api, order_id, waiting_at("install"), headers("hq_admin"), timeout=60)
    accepts = [e for e in body["state"]["timeline"] if e["node_id"] == "accept"]
    assert len(accepts) == 1
    assert (accepts[0]["actor"], accepts[0]["outcome"]) == (engineer, "accepted")
    with demo() as session:
        row = session.scalar(select(WecomCard).where(WecomCard.task_id == task_id))
        assert (row.status, row.applied, row.apply_error) == ("accepted", "done", "")

    # The card's buttons become one label, once.
    notifier = WecomNotifier(WecomConfig.from_settings(wecom_settings(fake)), demo)
    notify.deliver_due(demo, notifier, clock=utcnow)
    updates = [u for u in fake.state.card_updates if u["response_code"] == row.response_code]
    assert updates == [
        {
            "userids": [engineer],
            "agentid": 1000002,
            "response_code": row.response_code,
            "button": {"replace_name": "已接单"},
        }
    ]
    cards_seen = await api.get(
        "/api/wecom/cards", params={"order_id": order_id}, headers=headers("hq_admin")
    )
    assert [c["status"] for c in cards_seen.json()] == ["accepted"]
