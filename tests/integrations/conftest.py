"""The API with WeCom configured against the fake server, a worker whose notifier is the
WeCom one, and the installation pipeline published."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client
from temporalio.worker import Worker

from activities.registry import ActivityDeps, build_activities
from api.main import create_app
from servflow.definitions import service as definitions
from servflow.integrations.wecom.service import WecomConfig, WecomNotifier
from servflow.platform.settings import Settings
from tests.api.conftest import api_settings, make_headers, quiesce, seed
from tests.integrations.fake_wecom import AGENT_ID, CORP_ID, SECRET, FakeWecom
from worker import build_worker

INSTALLATION = json.loads(
    (
        Path(__file__).resolve().parents[2] / "servflow/integrations/data/installation.json"
    ).read_text()
)
# The official sample's callback settings (tests/integrations/test_wecom_crypto.py), with
# the fake's corp id as the receive id.
CALLBACK_TOKEN = "hJqcu3uJ9Tn2gXPmxx2w9kkCkCE2EPYo"
CALLBACK_AES_KEY = "6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt"
DOUYIN_APP_KEY = "7012345678901234567"
DOUYIN_APP_SECRET = "douyin-test-app-secret-0123456789abcdef"
PAYLOAD_KEY = base64.b64encode(os.urandom(32)).decode()


@pytest.fixture(scope="session")
def fake() -> Iterator[FakeWecom]:
    with FakeWecom() as server:
        yield server


def wecom_settings(fake: FakeWecom, **overrides: object) -> Settings:
    return api_settings(
        wecom_api_base=fake.url,
        wecom_corp_id=CORP_ID,
        wecom_agent_id=AGENT_ID,
        wecom_secret=SECRET,
        wecom_token=CALLBACK_TOKEN,
        wecom_encoding_aes_key=CALLBACK_AES_KEY,
        wecom_region_webhooks=f"huabei={fake.robot_url('huabei')}",
        douyin_app_key=DOUYIN_APP_KEY,
        douyin_app_secret=DOUYIN_APP_SECRET,
        payload_key=PAYLOAD_KEY,
        **overrides,
    )


def publish_installation(factory: sessionmaker[Session]) -> None:
    """The installation pipeline (the demo publishes it too: then nothing changes)."""
    with factory() as session:
        definitions.publish(
            session, key="installation", raw=INSTALLATION, user="designer", unless_unchanged=True
        )
        session.commit()


@pytest.fixture
def demo(session_factory: sessionmaker[Session]) -> sessionmaker[Session]:
    seed(session_factory)
    publish_installation(session_factory)
    return session_factory


@pytest.fixture
def headers(demo: sessionmaker[Session]) -> Callable[[str], dict[str, str]]:
    return make_headers(demo)


@pytest.fixture
def task_queue() -> str:
    import uuid

    return f"channels-{uuid.uuid4()}"


@pytest.fixture
def notifier(fake: FakeWecom, demo: sessionmaker[Session]) -> WecomNotifier:
    return WecomNotifier(WecomConfig.from_settings(wecom_settings(fake)), demo)


@pytest.fixture
async def api(
    demo: sessionmaker[Session], client: Client, task_queue: str, fake: FakeWecom
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(
        wecom_settings(fake), session_factory=demo, temporal_client=client, task_queue=task_queue
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


@pytest.fixture
async def worker(
    demo: sessionmaker[Session], client: Client, task_queue: str, notifier: WecomNotifier
) -> AsyncIterator[Worker]:
    deps = ActivityDeps(session_factory=demo, notifier=notifier)
    async with build_worker(
        client, task_queue=task_queue, activities=build_activities(deps)
    ) as running:
        yield running
        await quiesce(client, task_queue)


@pytest.fixture
async def bare_api(
    session_factory: sessionmaker[Session], fake: FakeWecom
) -> AsyncIterator[httpx.AsyncClient]:
    """The API on empty tables and no Temporal: for what is refused before any of it."""
    app = create_app(wecom_settings(fake), session_factory=session_factory, temporal_client=None)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http
