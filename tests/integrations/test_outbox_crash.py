"""An outbox message survives a worker killed (SIGKILL) while it was sending it, and is
delivered once: the restarted worker's relay sends it again after the dead one's claim
lapsed, and WeCom's duplicate check (in the fake as in WeCom) shows it once."""

from __future__ import annotations

import asyncio
import base64
import os
import signal
import subprocess
import sys
import threading
import uuid
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client

from servflow.notify import service as notify
from servflow.notify.models import Notification
from servflow.platform.base import utcnow
from tests.integrations.fake_wecom import AGENT_ID, CORP_ID, SECRET, FakeWecom

ROOT = Path(__file__).resolve().parents[2]


def spawn_worker(client: Client, engine: Engine, fake: FakeWecom) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "SERVFLOW_TEMPORAL_ADDRESS": client.service_client.config.target_host,
        "SERVFLOW_TASK_QUEUE": f"relay-{uuid.uuid4()}",
        "SERVFLOW_DATABASE_URL": engine.url.render_as_string(hide_password=False),
        "SERVFLOW_PAYLOAD_KEY": base64.b64encode(os.urandom(32)).decode(),
        "SERVFLOW_RECONCILE_EVERY_SECONDS": "0",
        "SERVFLOW_NOTIFY_RELAY_EVERY_SECONDS": "0.2",
        "SERVFLOW_NOTIFY_CLAIM_SECONDS": "2",
        "SERVFLOW_WECOM_API_BASE": fake.url,
        "SERVFLOW_WECOM_CORP_ID": CORP_ID,
        "SERVFLOW_WECOM_AGENT_ID": str(AGENT_ID),
        "SERVFLOW_WECOM_SECRET": SECRET,
    }
    return subprocess.Popen([sys.executable, "worker.py"], cwd=ROOT, env=env)


def row_of(factory: sessionmaker[Session], notification_id: int) -> Notification:
    with factory() as session:
        row = session.get(Notification, notification_id)
        assert row is not None
        session.expunge(row)
        return row


async def test_a_message_survives_a_worker_sigkill_and_is_delivered_once(
    client: Client, db_engine: Engine, session_factory: sessionmaker[Session], fake: FakeWecom
) -> None:
    text = f"工单 SF-{uuid.uuid4().hex[:6]} 已派单"
    with session_factory() as session:
        row = notify.enqueue(
            session,
            key=f"crash-{uuid.uuid4()}",
            channel="wecom",
            recipients=["engineer_bj_01"],
            message=text,
            now=utcnow(),
        )
        session.commit()
        notification_id = row.id
    fake.state.hold, fake.state.held = threading.Event(), threading.Event()
    first = spawn_worker(client, db_engine, fake)
    try:
        # WeCom has the message, but the worker dies before hearing so.
        assert await asyncio.to_thread(fake.state.held.wait, 60)
        first.send_signal(signal.SIGKILL)
        assert await asyncio.to_thread(first.wait, 30) == -signal.SIGKILL
    finally:
        if first.poll() is None:
            first.kill()
        fake.state.hold.set()
        fake.state.hold = None
    killed = row_of(session_factory, notification_id)
    assert (killed.status, killed.attempts, killed.sent_at) == ("pending", 1, None)

    second = spawn_worker(client, db_engine, fake)
    try:
        for _ in range(600):
            if row_of(session_factory, notification_id).status == "sent":
                break
            await asyncio.sleep(0.1)
    finally:
        second.terminate()
        await asyncio.to_thread(second.wait, 30)
    done = row_of(session_factory, notification_id)
    assert (done.status, done.attempts, done.last_error) == ("sent", 2, "")
    sent = [m for m in fake.state.requests if m.get("text", {}).get("content") == text]
    shown = [m for m in fake.state.delivered if m.get("text", {}).get("content") == text]
    assert (len(sent), len(shown)) == (2, 1)
