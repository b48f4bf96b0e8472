"""A real Douyin push carries only the order id: the order's detail is fetched
(order.orderDetail), its buyer decrypted (order.batchDecrypt) and its address geocoded
(AMap, else the city's or province's centre), all kept sealed at rest, and the order is
placed at the outlet nearest to the buyer."""

from __future__ import annotations

import json
import os
import uuid

import httpx
import pytest
from sqlalchemy import select

from api.main import create_app
from servflow.customers.models import Customer
from servflow.integrations.marketplaces import service
from servflow.integrations.marketplaces.clients import DouyinApi, PlatformError
from servflow.integrations.marketplaces.geocode import (
    CITY_CENTROIDS,
    AmapGeocoder,
    CentroidGeocoder,
    FallbackGeocoder,
)
from servflow.integrations.marketplaces.rules import Incoming
from servflow.integrations.models import InboundMessage
from servflow.integrations.sealing import Sealer
from servflow.orders.models import WorkOrder
from servflow.platform.errors import AppError
from tests.api.conftest import wait_for, waiting_at
from tests.integrations.conftest import DOUYIN_APP_KEY, DOUYIN_APP_SECRET, wecom_settings
from tests.integrations.fake_marketplaces import (
    AMAP_KEY,
    DOUYIN_SHOP_ID,
    FakeAmap,
    FakeDouyin,
    Served,
    mock_client,
)
from tests.integrations.test_douyin import BUYER_LAT, BUYER_LNG, nearest_outlet, signed
from tests.world import NOW

SEALER = Sealer([os.urandom(32)])
ADDRESS = "天津市天津市和平区南市街道南京路189号"


@pytest.fixture
def douyin() -> FakeDouyin:
    fake = FakeDouyin(app_key=DOUYIN_APP_KEY, app_secret=DOUYIN_APP_SECRET)
    return fake


@pytest.fixture
def amap() -> FakeAmap:
    return FakeAmap(places={ADDRESS: f"{BUYER_LNG},{BUYER_LAT}"})


def enricher(douyin: FakeDouyin | None, amap: FakeAmap) -> service.Enricher:
    geocoder = FallbackGeocoder(
        AmapGeocoder(url="https://restapi.amap.fake", key=AMAP_KEY, http=mock_client(amap)),
        CentroidGeocoder(),
    )
    client = None
    if douyin is not None:
        client = DouyinApi(
            url="https://openapi-fxg.fake",
            app_key=DOUYIN_APP_KEY,
            app_secret=DOUYIN_APP_SECRET,
            shop_id=DOUYIN_SHOP_ID,
            http=mock_client(douyin),
        )
    return service.Enricher(sealer=SEALER, geocoder=geocoder, douyin=client)


def only_the_id(p_id: str) -> Incoming:
    data = {"p_id": p_id, "shop_id": int(DOUYIN_SHOP_ID), "order_status": 2}
    return Incoming(
        platform="douyin",
        msg_id=uuid.uuid4().hex,
        tag="101",
        external_order_id=p_id,
        raw={"tag": "101", "msg_id": "m", "data": data},
    )


def stored(session_factory, message: Incoming) -> int:
    with session_factory() as session:
        [message_id] = service.receive(session, [message], sealer=SEALER, now=NOW)
        session.commit()
    return message_id


def opened(session_factory, message_id: int) -> tuple[dict, str]:
    with session_factory() as session:
        row = session.get(InboundMessage, message_id)
        return json.loads(SEALER.open(row.sealed_body))["data"], row.sealed_body


def test_the_buyer_is_fetched_decrypted_geocoded_and_kept_sealed(session_factory, douyin, amap):
    douyin.add_order(
        "4987101", receiver="钱芳", tel="13655550101", detail="南京路189号", city="天津市"
    )
    message_id = stored(session_factory, only_the_id("4987101"))

    assert service.enrich(session_factory, message_id, enricher(douyin, amap)) is True

    data, sealed = opened(session_factory, message_id)
    assert (data["post_receiver"], data["post_tel"]) == ("钱芳", "13655550101")
    assert data["post_addr"]["detail"] == "南京路189号"
    assert (data["post_addr"]["lat"], data["post_addr"]["lng"]) == (BUYER_LAT, BUYER_LNG)
    assert data["geo_source"] == "amap" and amap.asked == [ADDRESS]
    assert data["open_id"] == "1@#dy-4987101"
    assert douyin.calls == ["token.create", "order.orderDetail", "order.batchDecrypt"]
    assert len(douyin.decrypted) == 3
    assert "13655550101" not in sealed and "钱芳" not in sealed
    # Done once: a second pass finds the buyer there and asks nothing.
    assert service.enrich(session_factory, message_id, enricher(douyin, amap)) is False
    assert douyin.calls.count("order.orderDetail") == 1


def test_an_address_amap_cannot_place_falls_back_to_the_city_centre(session_factory, douyin, amap):
    amap.down = True  # e.g. over its daily quota
    douyin.add_order("4987102", receiver="孙强", tel="13655550102", detail="x", city="天津市")
    message_id = stored(session_factory, only_the_id("4987102"))
    service.enrich(session_factory, message_id, enricher(douyin, amap))
    data, _ = opened(session_factory, message_id)
    assert (data["post_addr"]["lat"], data["post_addr"]["lng"]) == CITY_CENTROIDS["天津"]
    assert data["geo_source"] == "city"


def test_an_unknown_city_falls_back_to_its_provinces_capital():
    found = CentroidGeocoder().locate(
        address="河北省保定市莲池区", city="保定市", province="河北省"
    )
    assert found is not None
    assert ((found.lat, found.lng), found.source) == (CITY_CENTROIDS["石家庄"], "province")
    assert CentroidGeocoder().locate(address="某地", city="某市", province="") is None


def test_without_douyins_api_a_bare_push_waits_with_the_reason(session_factory, amap):
    message_id = stored(session_factory, only_the_id("4987103"))
    with pytest.raises(AppError, match="Douyin's open API is not configured"):
        service.enrich(session_factory, message_id, enricher(None, amap))


def test_a_cipher_douyin_cannot_decrypt_is_a_refusal(session_factory, douyin, amap):
    douyin.add_order("4987104", receiver="周杰", tel="13655550104", detail="y", city="天津市")
    douyin.orders["4987104"]["encrypt_post_tel"] = "#9999#not-ours#"
    message_id = stored(session_factory, only_the_id("4987104"))
    with pytest.raises(PlatformError, match="300008") as refused:
        service.enrich(session_factory, message_id, enricher(douyin, amap))
    assert refused.value.transient is False
    data, _ = opened(session_factory, message_id)
    assert "post_tel" not in data  # nothing half-done is stored


@pytest.fixture
def served_douyin(douyin):
    with Served(douyin) as server:
        yield server


@pytest.fixture
def served_amap(amap):
    with Served(amap) as server:
        yield server


@pytest.fixture
async def douyin_api(demo, client, task_queue, fake, served_douyin, served_amap):
    settings = wecom_settings(
        fake,
        douyin_api_url=served_douyin.url,
        douyin_shop_id=DOUYIN_SHOP_ID,
        amap_key=AMAP_KEY,
        amap_api_url=served_amap.url,
    )
    app = create_app(settings, session_factory=demo, temporal_client=client, task_queue=task_queue)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


async def test_a_push_with_only_the_order_id_makes_the_order_at_the_nearest_outlet(
    douyin_api, worker, headers, demo, douyin
):
    p_id = str(uuid.uuid4().int)[:18]
    douyin.add_order(p_id, receiver="钱芳", tel="13655550105", detail="南京路189号", city="天津市")
    push = {
        "tag": "101",
        "msg_id": uuid.uuid4().hex,
        "data": json.dumps({"p_id": p_id, "shop_id": int(DOUYIN_SHOP_ID), "order_status": 2}),
    }
    body, sign = signed([push])
    answer = await douyin_api.post("/api/intake/douyin", content=body, headers=sign)
    assert answer.json() == {"code": 0, "msg": "success"}

    order = await wait_for(
        douyin_api, f"douyin-{p_id}", waiting_at("accept"), headers("hq_admin"), timeout=60
    )
    with demo() as session:
        outlet = nearest_outlet(session)
        assert order["state"]["context"]["outlet"] == outlet.code
        row = session.scalars(select(WorkOrder)).one()
        customer = session.get(Customer, row.customer_id)
        assert (customer.name, customer.phone) == ("钱芳", "13655550105")
        assert [(a.lat, a.lng) for a in customer.addresses] == [(BUYER_LAT, BUYER_LNG)]
        message = session.scalars(select(InboundMessage)).one()
        assert message.status == "done"
        assert "13655550105" not in message.sealed_body
    assert douyin.calls.count("order.batchDecrypt") == 1


def test_a_tmall_workcard_without_coordinates_is_geocoded_too(session_factory, amap):
    card = {
        "workcard_id": "WC41",
        "buyer_name": "孙丽",
        "buyer_phone": "13600000041",
        "address": "上海市浦东新区世纪大道100号",
        "city": "上海",
    }
    message = Incoming(
        platform="tmall",
        msg_id="tmc-41",
        tag="tmall_fuwu_WorkcardInfo",
        external_order_id="WC41",
        raw={"tag": "tmall_fuwu_WorkcardInfo", "msg_id": "tmc-41", "data": card},
    )
    message_id = stored(session_factory, message)
    assert service.enrich(session_factory, message_id, enricher(None, amap)) is True
    data, _ = opened(session_factory, message_id)
    assert ((data["lat"], data["lng"]), data["geo_source"]) == (CITY_CENTROIDS["上海"], "city")
