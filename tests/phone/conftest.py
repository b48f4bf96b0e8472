"""Browser tests of the engineer's phone and the customer's sign-off page: the whole stack
(store with the demo data and the installation pipeline, a worker, the API under uvicorn
on a port of this work's range) and Chromium with a phone's viewport."""

from __future__ import annotations

import asyncio
import base64
import os
import socket
import threading
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from playwright.async_api import Browser, Page, async_playwright
from sqlalchemy.orm import Session, sessionmaker
from temporalio.testing import WorkflowEnvironment

from activities.registry import build_activities
from activities.support import ActivityDeps
from api.main import create_app
from servflow.demo.loader import load_demo
from servflow.platform.db import make_engine, make_session_factory
from servflow.platform.settings import Settings
from servflow.platform.temporal import connect
from servflow.tables import metadata
from tests.designer.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.integrations.conftest import publish_installation
from worker import build_worker

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
BUNDLE = ROOT / "designer" / "static" / "build" / "phone.js"
# A phone in WeCom's browser: an iPhone-sized viewport, touch, WeCom's user agent mark.
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
    "locale": "zh-CN",
    "user_agent": (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Mobile/15E148 wxwork/4.1.20 MicroMessenger/7.0.1 Language/zh"
    ),
}


def free_port() -> int:
    """A free port of this work's range (18300-18349 for the phone's API, or the range
    SERVFLOW_TEST_PORTS names, e.g. "18800-18899")."""
    first, _, last = os.environ.get("SERVFLOW_TEST_PORTS", "18300-18349").partition("-")
    start, stop = int(first), int(last) + 1
    for port in range(start, stop):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {start}-{stop - 1}")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    reason = None
    if not Path(CHROMIUM).exists():
        reason = f"{CHROMIUM} is missing (scripts/ensure-system-deps.sh installs it)"
    elif not BUNDLE.exists():
        reason = "the phone bundle is not built (bash scripts/build-designer.sh)"
    if reason:
        here = Path(__file__).resolve().parent
        for item in items:
            if item.path.is_relative_to(here):
                item.add_marker(pytest.mark.skip(reason=reason))


@dataclass
class PhoneStack:
    url: str
    session_factory: sessionmaker[Session]
    settings: Settings


# One stack per test module: orders a module leaves waiting keep their engineers' slots, and
# the next module's orders would find the nearby smart-lock engineers full.
@pytest.fixture(scope="module")
async def phone_stack(
    temporal_env: WorkflowEnvironment, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[PhoneStack]:
    home = tmp_path_factory.mktemp("phone")
    url = f"sqlite:///{home / 'db.sqlite'}"
    engine = make_engine(url)
    metadata.create_all(engine)
    factory = make_session_factory(engine)
    with factory() as session:
        load_demo(session)
        session.commit()
    publish_installation(factory)
    client = temporal_env.client
    settings = Settings(
        temporal_address=client.service_client.config.target_host,
        temporal_namespace=client.namespace,
        task_queue=f"phone-{uuid.uuid4()}",
        database_url=url,
        jwt_secret="phone-tests-" + uuid.uuid4().hex,
        demo=True,  # the engineer signs in with the demo password
        payload_key=base64.b64encode(os.urandom(32)).decode(),
        uploads_dir=str(home / "uploads"),
    )
    app = create_app(settings, session_factory=factory, task_queue=settings.task_queue)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, name="phone-api", daemon=True)
    worker = build_worker(
        await connect(settings),
        task_queue=settings.task_queue,
        activities=build_activities(ActivityDeps(session_factory=factory)),
    )
    async with worker:
        thread.start()
        for _ in range(400):
            if server.started:
                break
            await asyncio.sleep(0.05)
        else:
            raise RuntimeError("the API did not start")
        try:
            yield PhoneStack(f"http://127.0.0.1:{port}", factory, settings)
        finally:
            server.should_exit = True
            await asyncio.to_thread(thread.join, 15)
    engine.dispose()


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as p:
        chromium = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        await chromium.close()


@pytest.fixture
async def phone(browser: Browser, request: pytest.FixtureRequest) -> AsyncIterator[Page]:
    context = await browser.new_context(**PHONE)
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"last-{request.node.name}.png"))
    await context.close()
    assert not errors, f"errors in the page: {errors}"
