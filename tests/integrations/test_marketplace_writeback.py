"""The writeback relay against the fake marketplaces: each milestone told once, in each
platform's signed format; retried with backoff on a rate limit or a platform failure, the
token fetched again when it expired early; parked with its error on a business error or
a revoked authorization; kept pending, saying why, when a platform is not configured."""

from __future__ import annotations

import contextlib
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from servflow.integrations.marketplaces import clients as market_clients
from servflow.integrations.marketplaces import service, writeback
from servflow.integrations.marketplaces.clients import DouyinApi, JdApi, TmallApi
from servflow.integrations.models import OutboundUpdate
from tests.api.conftest import api_settings
from tests.integrations.conftest import DOUYIN_APP_KEY, DOUYIN_APP_SECRET
from tests.integrations.fake_marketplaces import (
    APP_KEY,
    BUSINESS_ERROR,
    DOUYIN_SHOP_ID,
    JD_TOKEN,
    RATE_LIMITED,
    SECRET,
    SESSION,
    FakeDouyin,
    FakeJd,
    FakeTmallWriteback,
    mock_client,
)
from tests.world import NOW


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self):
        return self.now


def queue(session_factory, *, platform="douyin", external="4987001", status="accepted"):
    with session_factory() as session:
        service.enqueue_status(
            session,
            platform=platform,
            external_order_id=external,
            order_id=f"{platform}-{external}",
            status=status,
            now=NOW,
            payload={"outcome": "completed"} if status == "completed" else {},
        )
        session.commit()


def rows(session_factory):
    with session_factory() as session:
        return [
            (u.status, u.state, u.attempts, u.last_error)
            for u in session.scalars(select(OutboundUpdate).order_by(OutboundUpdate.id))
        ]


def douyin(fake: FakeDouyin, clock, sign_method="hmac-sha256") -> DouyinApi:
    return DouyinApi(
        url="https://openapi-fxg.fake",
        app_key=DOUYIN_APP_KEY,
        app_secret=DOUYIN_APP_SECRET,
        shop_id=DOUYIN_SHOP_ID,
        sign_method=sign_method,
        http=mock_client(fake),
        clock=clock,
    )


def deliver(session_factory, clients, clock):
    return service.deliver_outbound(session_factory, clients, clock=clock, max_attempts=8)


@pytest.fixture
def fake_douyin() -> FakeDouyin:
    return FakeDouyin(app_key=DOUYIN_APP_KEY, app_secret=DOUYIN_APP_SECRET)


@pytest.mark.parametrize("sign_method", ["hmac-sha256", "md5"])
def test_a_milestone_is_told_to_douyin_once_signed_over_param_json(
    session_factory, fake_douyin, sign_method
):
    clock = Clock()
    queue(session_factory, status="accepted")
    queue(session_factory, status="completed")
    client = douyin(fake_douyin, clock, sign_method)

    assert deliver(session_factory, {"douyin": client}, clock) == 2
    assert deliver(session_factory, {"douyin": client}, clock) == 0

    assert [r["remark"] for r in fake_douyin.remarks] == [
        "[servflow douyin-4987001] 已接单",
        "[servflow douyin-4987001] 已完成 (completed)",
    ]
    assert {r["order_id"] for r in fake_douyin.remarks} == {"4987001"}
    assert fake_douyin.tokens_issued == 1  # one token for both calls
    assert rows(session_factory) == [("accepted", "sent", 1, ""), ("completed", "sent", 1, "")]


def test_a_rate_limited_writeback_is_retried_after_its_backoff(session_factory, fake_douyin):
    clock = Clock()
    queue(session_factory)
    fake_douyin.fail = [RATE_LIMITED]
    client = douyin(fake_douyin, clock)

    assert deliver(session_factory, {"douyin": client}, clock) == 0
    [(_, state, attempts, error)] = rows(session_factory)
    assert (state, attempts) == ("retry", 1) and "60000" in error
    assert deliver(session_factory, {"douyin": client}, clock) == 0  # not due yet
    assert fake_douyin.remarks == []

    clock.now += timedelta(seconds=3)
    assert deliver(session_factory, {"douyin": client}, clock) == 1
    assert len(fake_douyin.remarks) == 1
    assert rows(session_factory) == [("accepted", "sent", 2, "")]


def test_an_expired_douyin_token_is_fetched_again_within_the_attempt(session_factory, fake_douyin):
    clock = Clock()
    queue(session_factory, status="accepted")
    client = douyin(fake_douyin, clock)
    assert deliver(session_factory, {"douyin": client}, clock) == 1
    fake_douyin.expire()  # Douyin revoked it before its expires_in
    queue(session_factory, status="dispatched")

    assert deliver(session_factory, {"douyin": client}, clock) == 1
    assert fake_douyin.tokens_issued == 2
    assert rows(session_factory)[1] == ("dispatched", "sent", 1, "")


def test_a_business_error_parks_the_writeback_with_its_error_until_retried(
    session_factory, fake_douyin
):
    clock = Clock()
    queue(session_factory)
    fake_douyin.fail = [BUSINESS_ERROR]
    client = douyin(fake_douyin, clock)

    assert deliver(session_factory, {"douyin": client}, clock) == 0
    [(_, state, attempts, error)] = rows(session_factory)
    assert (state, attempts) == ("dead", 1)
    assert "50002" in error and "订单已关闭" in error
    clock.now += timedelta(hours=1)
    assert deliver(session_factory, {"douyin": client}, clock) == 0
    assert fake_douyin.calls.count("order.addOrderRemark") == 1  # parked: not tried again


def test_tmall_is_told_through_top_signed_with_hmac(session_factory):
    clock = Clock()
    fake = FakeTmallWriteback(fail=[{"code": 7, "msg": "App Call Limited"}])
    client = TmallApi(
        url="https://eco.taobao.fake/router/rest",
        app_key=APP_KEY,
        secret=SECRET,
        session=SESSION,
        sign_method="hmac",
        http=mock_client(fake),
        clock=clock,
    )
    queue(session_factory, platform="tmall", external="WC7", status="serviced")

    assert deliver(session_factory, {"tmall": client}, clock) == 0
    assert rows(session_factory)[0][1] == "retry"
    clock.now += timedelta(seconds=3)
    assert deliver(session_factory, {"tmall": client}, clock) == 1

    [told] = fake.told
    assert (told["workcard_id"], told["status"], told["sign_method"]) == (
        "WC7",
        "SERVICED",
        "hmac",
    )
    assert told["timestamp"] == "2026-11-22 16:00:03"  # GMT+8


def test_a_revoked_tmall_session_parks_the_writeback_asking_for_authorization(
    session_factory,
):
    clock = Clock()
    fake = FakeTmallWriteback()
    client = TmallApi(
        url="https://eco.taobao.fake/router/rest",
        app_key=APP_KEY,
        secret=SECRET,
        session="expired-session",
        http=mock_client(fake),
        clock=clock,
    )
    queue(session_factory, platform="tmall", external="WC8")
    assert deliver(session_factory, {"tmall": client}, clock) == 0
    [(_, state, _, error)] = rows(session_factory)
    assert state == "dead"
    assert "27" in error and "authorize the seller again" in error


def test_jd_is_told_through_jos_and_retries_its_busy_answers(session_factory):
    clock = Clock()
    fake = FakeJd(fail=[{"code": "66", "zh_desc": "调用频率超限"}])
    client = JdApi(
        url="https://api.jd.fake/routerjson",
        app_key=APP_KEY,
        secret=SECRET,
        access_token=JD_TOKEN,
        http=mock_client(fake),
        clock=clock,
    )
    queue(session_factory, platform="jd", external="T5", status="dispatched")
    assert deliver(session_factory, {"jd": client}, clock) == 0
    clock.now += timedelta(seconds=3)
    assert deliver(session_factory, {"jd": client}, clock) == 1
    assert [(t["task_id"], t["status"]) for t in fake.told] == [("T5", "DISPATCHED")]
    assert rows(session_factory) == [("dispatched", "sent", 2, "")]


def test_a_writeback_failing_every_time_is_parked_after_the_last_attempt(
    session_factory, fake_douyin
):
    clock = Clock()
    queue(session_factory)
    fake_douyin.fail = [RATE_LIMITED] * 3
    client = douyin(fake_douyin, clock)
    for _ in range(3):
        service.deliver_outbound(session_factory, {"douyin": client}, clock=clock, max_attempts=3)
        clock.now += timedelta(minutes=10)
    [(_, state, attempts, error)] = rows(session_factory)
    assert (state, attempts) == ("dead", 3) and "60000" in error


def test_unconfigured_platforms_keep_their_rows_pending_and_say_why(session_factory):
    clock = Clock()
    queue(session_factory, platform="douyin", external="1")
    queue(session_factory, platform="jd", external="T1")
    clients = market_clients.clients_from_settings(api_settings())
    assert clients == {}

    assert deliver(session_factory, clients, clock) == 0
    [douyin_row, jd_row] = rows(session_factory)
    assert douyin_row[:3] == ("accepted", "pending", 0)
    assert "douyin writeback is not configured" in douyin_row[3]
    assert "SERVFLOW_DOUYIN_API_URL" in douyin_row[3]
    assert "SERVFLOW_JD_ACCESS_TOKEN" in jd_row[3] or "_ACCESS_TOKEN" in jd_row[3]


def test_clients_take_their_credentials_from_settings(session_factory, fake_douyin):
    clock = Clock()
    settings = api_settings(
        douyin_api_url="https://openapi-fxg.fake",
        douyin_app_key=DOUYIN_APP_KEY,
        douyin_app_secret=DOUYIN_APP_SECRET,
        douyin_shop_id=DOUYIN_SHOP_ID,
        tmall_tmc_url="https://eco.taobao.fake/router/rest",
        tmall_app_key=APP_KEY,
        tmall_app_secret=SECRET,
        tmall_session=SESSION,
        jd_api_url="https://api.jd.fake/routerjson",
        jd_app_key=APP_KEY,
        jd_app_secret=SECRET,
    )
    clients = market_clients.clients_from_settings(
        settings, http=mock_client(fake_douyin), clock=clock
    )
    assert sorted(clients) == ["douyin", "tmall"]  # JD has no access token
    queue(session_factory)
    assert deliver(session_factory, clients, clock) == 1
    assert len(fake_douyin.remarks) == 1


def test_the_status_words_follow_each_platforms_call():
    call = writeback.request_for(
        "jd",
        status="completed",
        external_order_id="T9",
        order_id="jd-T9",
        payload={},
        now=NOW,
    )
    assert call.method == "jingdong.homefw.task.updateStatus"
    assert call.params["status"] == "COMPLETED"
    with pytest.raises(ValueError):
        writeback.request_for(
            "meituan", status="accepted", external_order_id="1", order_id="x", payload={}, now=NOW
        )


@pytest.fixture
async def ops_api(demo, fake):
    import httpx

    from api.main import create_app
    from tests.integrations.conftest import wecom_settings

    app = create_app(wecom_settings(fake), session_factory=demo, temporal_client=None)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


def order_at(session, outlet_code: str, order_id: str) -> None:
    from servflow.orders.models import WorkOrder
    from servflow.org.models import OrgUnit

    outlet = session.scalars(select(OrgUnit).where(OrgUnit.code == outlet_code)).one()
    session.add(
        WorkOrder(
            order_id=order_id,
            status="running",
            definition_key="installation",
            org_path=outlet.path,
            region=outlet.path.split("/")[2],
        )
    )


async def test_writebacks_are_listed_and_retried_within_scope(ops_api, demo, headers):
    with demo() as session:
        order_at(session, "bj-001", "douyin-11")
        order_at(session, "gz-001", "douyin-12")
        session.commit()
    for external in ("11", "12"):
        queue(demo, external=external)
    with demo() as session:
        for update in session.scalars(select(OutboundUpdate)):
            update.state, update.last_error = "dead", "douyin 50002 订单已关闭"
        session.commit()

    north = await ops_api.get(
        "/api/marketplaces/writebacks?state=dead", headers=headers("region_mgr_huabei")
    )
    assert north.status_code == 200
    assert north.json()["count"] == 1
    [row] = north.json()["data"]
    assert (row["order_id"], row["state"], row["last_error"]) == (
        "douyin-11",
        "dead",
        "douyin 50002 订单已关闭",
    )
    everything = await ops_api.get("/api/marketplaces/writebacks", headers=headers("hq_admin"))
    assert everything.json()["count"] == 2

    south_id = next(r["id"] for r in everything.json()["data"] if r["order_id"] == "douyin-12")
    refused = await ops_api.post(
        f"/api/marketplaces/writebacks/{south_id}/retry", headers=headers("region_mgr_huabei")
    )
    assert refused.status_code == 404
    retried = await ops_api.post(
        f"/api/marketplaces/writebacks/{row['id']}/retry", headers=headers("region_mgr_huabei")
    )
    assert retried.status_code == 200
    assert (retried.json()["state"], retried.json()["attempts"]) == ("pending", 0)

    engineer = await ops_api.get("/api/marketplaces/writebacks", headers=headers("engineer_bj_01"))
    assert engineer.status_code == 403
    bad = await ops_api.get("/api/marketplaces/writebacks?state=lost", headers=headers("hq_admin"))
    assert bad.status_code == 422 and "state" in bad.text


async def test_the_workers_intake_loop_delivers_writebacks_with_settings_credentials(
    session_factory, client, fake_douyin
):
    import asyncio

    from servflow.platform.base import utcnow
    from tests.integrations.fake_marketplaces import Served

    with Served(fake_douyin) as served:
        settings = api_settings(
            douyin_api_url=served.url,
            douyin_app_key=DOUYIN_APP_KEY,
            douyin_app_secret=DOUYIN_APP_SECRET,
            douyin_shop_id=DOUYIN_SHOP_ID,
            task_queue=f"intake-{uuid.uuid4()}",
        )
        queue(session_factory, external="4987301", status="accepted")
        queue(session_factory, platform="jd", external="T31", status="accepted")
        loop = asyncio.create_task(
            service.intake_forever(session_factory, client, settings, every=0.05, clock=utcnow)
        )
        try:
            for _ in range(200):
                if fake_douyin.remarks:
                    break
                await asyncio.sleep(0.05)
        finally:
            loop.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await loop
    assert [r["order_id"] for r in fake_douyin.remarks] == ["4987301"]
    douyin_row, jd_row = rows(session_factory)
    assert douyin_row[:3] == ("accepted", "sent", 1)
    assert jd_row[1] == "pending" and "jd writeback is not configured" in jd_row[3]
