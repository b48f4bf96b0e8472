"""Douyin Shop push: signed on the raw bytes, stored sealed once per msg_id, a paid order
(tag 101) becomes one installation order at the outlet nearest to the buyer."""

from __future__ import annotations

import json
import uuid

from sqlalchemy import func, select

from servflow.customers.models import Customer, CustomerIdentity
from servflow.integrations.marketplaces.rules import douyin_sign
from servflow.integrations.models import InboundMessage, OutboundUpdate
from servflow.orders.models import WorkOrder
from servflow.org.models import OrgUnit
from servflow.platform.geo import haversine_km
from tests.api.conftest import wait_for, waiting_at
from tests.integrations.conftest import DOUYIN_APP_KEY, DOUYIN_APP_SECRET

# 天津和平区, a few km from the 天津 outlets.
BUYER_LAT, BUYER_LNG = 39.1170, 117.2035


def paid(p_id: str, *, msg_id: str | None = None, tag: int = 101) -> dict:
    data = {
        "p_id": p_id,
        "shop_id": 77001,
        "order_status": 2,
        "pay_time": 1764748800,
        "open_id": f"dy-buyer-{p_id}",
        "post_receiver": "赵敏",
        "post_tel": "13655550001",
        "post_addr": {
            "province": {"name": "天津市"},
            "city": {"name": "天津市"},
            "town": {"name": "和平区"},
            "detail": "南京路189号",
            "lat": BUYER_LAT,
            "lng": BUYER_LNG,
        },
        "sku_order_list": [{"product_name": "智能门锁 X3 安装"}],
    }
    return {"tag": str(tag), "msg_id": msg_id or uuid.uuid4().hex, "data": json.dumps(data)}


def signed(items: list[dict], *, secret: str = DOUYIN_APP_SECRET) -> tuple[bytes, dict]:
    body = json.dumps(items, ensure_ascii=False).encode()
    headers = {
        "app-id": DOUYIN_APP_KEY,
        "event-sign": douyin_sign(DOUYIN_APP_KEY, body, secret),
        "content-type": "application/json",
    }
    return body, headers


def nearest_outlet(session) -> OrgUnit:
    outlets = session.scalars(select(OrgUnit).where(OrgUnit.kind == "outlet")).all()
    return min(
        (o for o in outlets if o.lat is not None),
        key=lambda o: haversine_km(BUYER_LAT, BUYER_LNG, o.lat, o.lng),
    )


def count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


async def test_a_paid_push_replayed_twice_makes_one_order_at_the_nearest_outlet(
    api, worker, headers, demo
):
    # A p_id of its own: the Temporal server outlives the test (and its other backend run).
    p_id = str(uuid.uuid4().int)[:18]
    message = paid(p_id)
    body, sign = signed([message])
    answers = [await api.post("/api/intake/douyin", content=body, headers=sign) for _ in range(3)]
    assert [a.json() for a in answers] == [{"code": 0, "msg": "success"}] * 3
    # The same order paid-notified again under a new msg_id still makes no second order.
    again, sign_again = signed([paid(p_id)])
    assert (
        await api.post("/api/intake/douyin", content=again, headers=sign_again)
    ).status_code == 200

    order = await wait_for(
        api, f"douyin-{p_id}", waiting_at("accept"), headers("hq_admin"), timeout=60
    )
    with demo() as session:
        assert count(session, InboundMessage) == 2
        assert count(session, WorkOrder) == 1
        row = session.scalars(select(WorkOrder)).one()
        outlet = nearest_outlet(session)
        assert row.order_id == f"douyin-{p_id}"
        # Placed (and reported) at the outlet nearest to the buyer; dispatch may then send
        # an installer from another outlet of the region.
        assert order["state"]["context"]["outlet"] == outlet.code
        assert order["state"]["variables"]["report"]["outlet"] == outlet.code
        assert row.region == outlet.path.split("/")[2]
        customer = session.get(Customer, row.customer_id)
        assert customer.name == "赵敏" and customer.org_path == outlet.path
        located = [(a.lat, a.lng) for a in customer.addresses]
        assert located == [(BUYER_LAT, BUYER_LNG)]
        identities = session.scalars(
            select(CustomerIdentity.kind, CustomerIdentity.value).where(
                CustomerIdentity.customer_id == customer.id
            )
        ).all()
        assert "douyin" in identities
        stored = session.scalars(select(InboundMessage)).all()
        assert {m.status for m in stored} == {"done"}
        # The buyer's phone and name are not readable at rest.
        assert all(
            "13655550001" not in m.sealed_body and "赵敏" not in m.sealed_body for m in stored
        )
        # "Accepted" goes back to Douyin through the outbound queue, once.
        updates = session.scalars(select(OutboundUpdate)).all()
        assert [(u.platform, u.external_order_id, u.status) for u in updates] == [
            ("douyin", p_id, "accepted")
        ]


async def test_a_bad_signature_is_refused_and_nothing_is_stored(bare_api, session_factory):
    api = bare_api
    body, sign = signed([paid("4987002")], secret="not-the-secret")
    response = await api.post("/api/intake/douyin", content=body, headers=sign)
    assert response.status_code == 401
    assert "event-sign" in response.json()["detail"]
    # A body altered after signing is refused alike.
    body, sign = signed([paid("4987002")])
    response = await api.post("/api/intake/douyin", content=body + b" ", headers=sign)
    assert response.status_code == 401
    with session_factory() as session:
        assert count(session, InboundMessage) == 0
        assert count(session, WorkOrder) == 0
        assert count(session, Customer) == 0


async def test_a_created_but_unpaid_order_is_stored_and_makes_no_order(api, demo):
    body, sign = signed([paid("4987003", tag=100)])
    assert (await api.post("/api/intake/douyin", content=body, headers=sign)).status_code == 200
    with demo() as session:
        message = session.scalars(select(InboundMessage)).one()
        assert (message.tag, message.status, message.order_id) == ("100", "done", "")
        assert count(session, WorkOrder) == 0


async def test_a_malformed_push_is_a_422_naming_the_field(bare_api):
    body, sign = signed([{"tag": "101"}])
    response = await bare_api.post("/api/intake/douyin", content=body, headers=sign)
    assert response.status_code == 422
    assert response.json()["errors"] == {"body[0]": "tag and msg_id are required"}
