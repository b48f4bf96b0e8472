"""Channels: marketplace intake and outbox delivery, each beside its baseline in one run.

- intake_per_s: signed Douyin pushes (tag 101) verified, stored sealed and turned into
  installation orders (workflow started, message done) per second, through the API;
  beside it direct_start_per_s, the same orders started by POST /api/orders.
- outbox_delivery_p99_ms: from a message written to the outbox to WeCom (the fake server)
  having it, with the relay polling every 20 ms; beside it direct_send_p99_ms, the same
  messages sent straight to the fake.

Sizes: BENCH_CHANNELS_ORDERS (default 100), BENCH_CHANNELS_MESSAGES (default 200).
Ports from 18600-18699 (the fake WeCom server, the Temporal dev server).
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

import httpx
from sqlalchemy import func, select
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from api.main import create_app
from api.security import create_access_token
from servflow.cli.devserver import DevServer
from servflow.demo.loader import load_demo
from servflow.integrations.marketplaces.rules import douyin_sign
from servflow.integrations.models import InboundMessage
from servflow.integrations.wecom.client import WecomClient
from servflow.integrations.wecom.service import WecomConfig, WecomNotifier
from servflow.notify import service as notify
from servflow.notify.models import Notification
from servflow.org.service import get_user_by_username
from servflow.platform.base import utcnow
from servflow.platform.db import make_engine, make_session_factory
from servflow.platform.settings import Settings
from servflow.tables import metadata
from tests.integrations.conftest import publish_installation
from tests.integrations.fake_wecom import AGENT_ID, CORP_ID, SECRET, FakeWecom, port_in_range

ORDERS = int(os.environ.get("BENCH_CHANNELS_ORDERS", "100"))
MESSAGES = int(os.environ.get("BENCH_CHANNELS_MESSAGES", "200"))
CONCURRENCY = 8
APP_KEY, APP_SECRET = "7000000000000000001", "bench-douyin-secret-0123456789abcdef"


def push(i: int, run: str) -> tuple[bytes, dict[str, str]]:
    data = {
        "p_id": f"{run}{i:06d}",
        "open_id": f"bench-buyer-{run}-{i}",
        "post_receiver": f"客户{i}",
        "post_tel": f"137{i:08d}",
        "post_addr": {
            "city": {"name": "北京市"},
            "detail": f"朝阳路{i}号",
            "lat": 39.92,
            "lng": 116.44,
        },
        "sku_order_list": [{"product_name": "智能门锁安装"}],
    }
    body = json.dumps([{"tag": "101", "msg_id": f"{run}-{i}", "data": json.dumps(data)}]).encode()
    return body, {
        "app-id": APP_KEY,
        "event-sign": douyin_sign(APP_KEY, body, APP_SECRET),
        "content-type": "application/json",
    }


async def gather_limited(count: int, one) -> float:
    gate = asyncio.Semaphore(CONCURRENCY)

    async def limited(i: int) -> None:
        async with gate:
            await one(i)

    started = time.perf_counter()
    await asyncio.gather(*(limited(i) for i in range(count)))
    return time.perf_counter() - started


async def intake(home: Path) -> None:
    url = f"sqlite:///{home / 'bench.db'}"
    engine = make_engine(url)
    metadata.create_all(engine)
    factory = make_session_factory(engine)
    with factory() as session:
        load_demo(session)
        session.commit()
    publish_installation(factory)
    server = DevServer(db_file=home / "temporal.db", port=port_in_range(18660), ui_port=None)
    with server:
        client = await Client.connect(server.address, data_converter=pydantic_data_converter)
        settings = Settings(
            jwt_secret="bench-" + uuid.uuid4().hex,
            demo=True,
            payload_key=base64.b64encode(os.urandom(32)).decode(),
            douyin_app_key=APP_KEY,
            douyin_app_secret=APP_SECRET,
            uploads_dir=str(home / "uploads"),
        )
        app = create_app(
            settings, session_factory=factory, temporal_client=client, task_queue="bench-channels"
        )
        with factory() as session:
            admin = get_user_by_username(session, username="hq_admin")
            assert admin is not None
            token = create_access_token(
                user_id=admin.id,
                username="hq_admin",
                secret=settings.jwt_secret,
                ttl=timedelta(hours=1),
            )
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://bench"
        ) as http:
            run = uuid.uuid4().hex[:6]

            async def one_push(i: int) -> None:
                body, headers = push(i, run)
                response = await http.post("/api/intake/douyin", content=body, headers=headers)
                assert response.status_code == 200, response.text

            async def one_start(i: int) -> None:
                response = await http.post(
                    "/api/orders",
                    json={
                        "definition_key": "installation",
                        "variables": {"fault": "智能门锁安装"},
                        "customer": {
                            "name": f"客户{i}",
                            "phone": f"136{i:08d}",
                            "lat": 39.92,
                            "lng": 116.44,
                        },
                        "region": "huabei",
                    },
                    headers={"Authorization": f"Bearer {token}"},
                )
                assert response.status_code == 201, response.text

            await one_push(-1)  # warm-up (first sealer, first start)
            pushed = await gather_limited(ORDERS, one_push)
            direct = await gather_limited(ORDERS, one_start)
        with factory() as session:
            done = session.scalar(
                select(func.count())
                .select_from(InboundMessage)
                .where(InboundMessage.status == "done", InboundMessage.order_id != "")
            )
        assert done == ORDERS + 1, f"{done} of {ORDERS + 1} pushes became orders"
    engine.dispose()
    print(f"intake_orders={ORDERS}")
    print(f"intake_per_s={ORDERS / pushed:.1f}")
    print(f"direct_start_per_s={ORDERS / direct:.1f}")
    print(f"intake_vs_direct_ratio={direct / pushed:.2f}")


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[98] if len(values) >= 2 else values[0]


async def outbox(home: Path) -> None:
    url = f"sqlite:///{home / 'outbox.db'}"
    engine = make_engine(url)
    metadata.create_all(engine)
    factory = make_session_factory(engine)
    with FakeWecom(port_in_range(18670)) as fake:
        config = WecomConfig(corp_id=CORP_ID, agent_id=AGENT_ID, secret=SECRET, api_base=fake.url)
        notifier = WecomNotifier(config, factory)
        relay = asyncio.create_task(
            notify.relay_forever(factory, notifier, every=0.02, clock=utcnow)
        )
        for i in range(MESSAGES):
            with factory() as session:
                notify.enqueue(
                    session,
                    key=f"bench-{i}",
                    channel="wecom",
                    recipients=[f"user{i % 20}"],
                    message=f"工单 BENCH-{i} 已派单",
                    now=utcnow(),
                )
                session.commit()
            await asyncio.sleep(0.01)
        while True:
            with factory() as session:
                waiting = session.scalar(
                    select(func.count())
                    .select_from(Notification)
                    .where(Notification.status != "sent")
                )
            if not waiting:
                break
            await asyncio.sleep(0.05)
        relay.cancel()
        with factory() as session:
            rows = session.execute(select(Notification.created_at, Notification.sent_at)).all()
        latencies = [(sent - created).total_seconds() * 1000 for created, sent in rows]
        client = WecomClient(api_base=fake.url, corp_id=CORP_ID, agent_id=AGENT_ID, secret=SECRET)
        direct = []
        for i in range(MESSAGES):
            started = time.perf_counter()
            await asyncio.to_thread(client.send_text, [f"user{i % 20}"], f"直接 BENCH-{i}")
            direct.append((time.perf_counter() - started) * 1000)
        assert len(fake.state.delivered) == 2 * MESSAGES
    engine.dispose()
    print(f"outbox_messages={MESSAGES}")
    print(f"outbox_delivery_p99_ms={p99(latencies):.1f}")
    print(f"outbox_delivery_p50_ms={statistics.median(latencies):.1f}")
    print(f"direct_send_p99_ms={p99(direct):.1f}")


async def main() -> None:
    with tempfile.TemporaryDirectory(prefix="servflow-bench-channels-") as tmp:
        await intake(Path(tmp))
        await outbox(Path(tmp))


if __name__ == "__main__":
    asyncio.run(main())
    sys.stdout.flush()
