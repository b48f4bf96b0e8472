"""The API on the test database and the session's Temporal server, with a real worker.

`api` is an httpx client on the ASGI app; `worker` runs the interpreter and the REAL
activities on the same uuid task queue, so orders started over HTTP run end to end.
Tokens are minted directly (bcrypt on every login would slow the suite); the login route
itself is tested in test_auth.py.
"""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from unittest.mock import patch

import httpx
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client, WorkflowQueryFailedError
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.registry import ActivityDeps, build_activities
from api.main import create_app
from api.security import create_access_token
from servflow.definitions import repo as definitions
from servflow.demo.loader import DEMO_API_KEY, load_demo
from servflow.org.service import get_user_by_username
from servflow.platform.db import make_session_factory
from servflow.platform.security import hash_password
from servflow.platform.settings import Settings
from servflow.tables import metadata
from tests.support.snapshot import seeded
from worker import build_worker
from workflows.contracts import OrderState
from workflows.validate import validate_definition

ROOT = Path(__file__).resolve().parents[2]
JWT_SECRET = "test-secret-for-servflow-api-tests-0123456789"
AC_REPAIR = json.loads((ROOT / "examples" / "ac-repair.json").read_text(encoding="utf-8"))
# 北京朝阳, a few hundred metres from outlet bj-001: within every table's free km.
CUSTOMER_BJ = {
    "name": "王芳",
    "phone": "13911112222",
    "address": "北京市朝阳区工体北路8号",
    "city": "北京",
    "lat": 39.9229,
    "lng": 116.4446,
}
# 广州天河, near the 华南 outlets.
CUSTOMER_GZ = {
    "name": "陈静",
    "phone": "13922223333",
    "address": "广州市天河区体育西路",
    "city": "广州",
    "lat": 23.1291,
    "lng": 113.3245,
}
SERVICE_OK = {"diagnosis": "冷媒泄漏，已补焊", "parts_needed": False}
SIGNOFF_OK = {"signature": "file-sig-1", "photos": ["file-p1"], "rating": "5"}


def _quick_hash(password: str) -> str:
    return hash_password(password, rounds=4)


def seed(factory: sessionmaker[Session]) -> None:
    """Demo data plus ac-repair published as version 1: loaded for real by the first test
    on a database, restored from its rows for the others (tests/support/snapshot.py)."""
    seeded(factory, _load_demo_and_ac_repair)


def _load_demo_and_ac_repair(factory: sessionmaker[Session]) -> None:
    """The demo password is hashed with 4 bcrypt rounds instead of 12: logins verify the
    same way, and every test saves most of a second."""
    with factory() as session, patch("servflow.demo.loader.hash_password", _quick_hash):
        load_demo(session)
        report = validate_definition(AC_REPAIR)
        assert report.definition is not None, report.problems
        definitions.save_draft(session, key="ac-repair", draft=AC_REPAIR, user="designer")
        definitions.publish_version(
            session,
            key="ac-repair",
            body=report.definition.model_dump(mode="json"),
            user="designer",
            layout={"report": {"x": 0, "y": 0}},
        )
        session.commit()


def make_headers(factory: sessionmaker[Session]) -> Callable[[str], dict[str, str]]:
    cache: dict[str, dict[str, str]] = {}

    def headers(username: str) -> dict[str, str]:
        if username not in cache:
            if username == "api_key":
                cache[username] = {"X-API-Key": DEMO_API_KEY}
            else:
                with factory() as session:
                    user = get_user_by_username(session, username=username)
                    assert user is not None, username
                    token = create_access_token(
                        user_id=user.id,
                        username=username,
                        secret=JWT_SECRET,
                        ttl=timedelta(hours=1),
                    )
                cache[username] = {"Authorization": f"Bearer {token}"}
        return cache[username]

    return headers


def api_settings(**overrides: object) -> Settings:
    """The tests' app settings: a strong secret, and the demo (the tests sign in with the
    demo's published password and API key, which only the demo accepts)."""
    return Settings(**{"jwt_secret": JWT_SECRET, "demo": True, **overrides})


@pytest.fixture
def task_queue() -> str:
    return f"api-{uuid.uuid4()}"


@pytest.fixture
def demo(session_factory: sessionmaker[Session]) -> sessionmaker[Session]:
    seed(session_factory)
    return session_factory


@pytest.fixture
def headers(demo: sessionmaker[Session]) -> Callable[[str], dict[str, str]]:
    return make_headers(demo)


@pytest.fixture
async def api(
    demo: sessionmaker[Session], client: Client, task_queue: str
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(
        api_settings(), session_factory=demo, temporal_client=client, task_queue=task_queue
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


def truncate(engine: Engine) -> None:
    """Empties every table (what the function-scoped session_factory does after a test)."""
    tables = list(reversed(metadata.sorted_tables))
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            names = ", ".join(f'"{t.name}"' for t in tables)
            connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                connection.execute(table.delete())


@pytest.fixture(scope="module")
def module_demo(db_engine: Engine) -> Iterator[sessionmaker[Session]]:
    """Demo data shared by the tests of one module that only read it."""
    factory = make_session_factory(db_engine)
    seed(factory)
    try:
        yield factory
    finally:
        truncate(db_engine)


@pytest.fixture(scope="module")
async def module_api(
    module_demo: sessionmaker[Session], temporal_env: WorkflowEnvironment
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(
        api_settings(),
        session_factory=module_demo,
        temporal_client=temporal_env.client,
        task_queue=f"api-{uuid.uuid4()}",
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


def real_worker(client: Client, factory: sessionmaker[Session], task_queue: str) -> Worker:
    return build_worker(
        client,
        task_queue=task_queue,
        activities=build_activities(ActivityDeps(session_factory=factory)),
    )


async def quiesce(client: Client, task_queue: str, timeout: float = 20) -> None:
    """Waits until no order on `task_queue` has an activity in flight.

    An order is quiet once it is closed or waits only for people. Called before a worker
    stops, so no activity is still writing while the test's tables are emptied.
    """
    deadline = asyncio.get_running_loop().time() + timeout
    async for execution in client.list_workflows(f"TaskQueue = '{task_queue}'"):
        handle = client.get_workflow_handle(execution.id)
        while asyncio.get_running_loop().time() < deadline:
            try:
                state = await handle.query("state", result_type=OrderState)
            except (RPCError, WorkflowQueryFailedError):
                break
            closed = state.status in ("completed", "cancelled", "failed")
            if closed or (state.active and all(a.human for a in state.active)):
                break
            await asyncio.sleep(0.05)


@pytest.fixture
async def worker(
    demo: sessionmaker[Session], client: Client, task_queue: str
) -> AsyncIterator[Worker]:
    async with real_worker(client, demo, task_queue) as running:
        yield running
        await quiesce(client, task_queue)


async def wait_for(
    api: httpx.AsyncClient,
    order_id: str,
    check: Callable[[dict[str, Any]], bool],
    headers: dict[str, str],
    timeout: float = 20,
) -> dict[str, Any]:
    """Polls GET /api/orders/{id} until `check(body)` holds."""
    deadline = asyncio.get_running_loop().time() + timeout
    body: dict[str, Any] = {}
    while asyncio.get_running_loop().time() < deadline:
        response = await api.get(f"/api/orders/{order_id}", headers=headers)
        if response.status_code == 200:
            body = response.json()
            if check(body):
                return body
        await asyncio.sleep(0.1)
    state = body.get("state") or {}
    raise AssertionError(
        f"order {order_id} never matched: status={state.get('status')} "
        f"active={[a['node_id'] for a in state.get('active', [])]}"
    )


def waiting_at(node_id: str) -> Callable[[dict[str, Any]], bool]:
    def check(body: dict[str, Any]) -> bool:
        state = body.get("state") or {}
        return any(a["node_id"] == node_id for a in state.get("active", []))

    return check


def finished(body: dict[str, Any]) -> bool:
    order = body.get("order") or {}
    state = body.get("state") or {}
    return order.get("status") in ("completed", "cancelled", "failed") and state.get("status") in (
        "completed",
        "cancelled",
        "failed",
        "settled",
    )


def order_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "definition_key": "ac-repair",
        "variables": {"fault": "ac_leak"},
        "customer": CUSTOMER_BJ,
        "region": "huabei",
    }
    body.update(overrides)
    return body


def engineer_of(body: dict[str, Any]) -> str:
    return str(body["state"]["variables"]["dispatch"]["engineer_user_id"])


# `make test` fuzzes every role once, on PostgreSQL when it is configured (the stricter
# store), plus the HQ admin on SQLite too; `make fuzz` (SERVFLOW_FUZZ_EXAMPLES set) runs every
# role on both stores with more examples. Each run costs ~30 s, and the routes grow.
FUZZ_TEST = "test_no_generated_request_gives_a_server_error"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("SERVFLOW_FUZZ_EXAMPLES") or not os.environ.get("SERVFLOW_TEST_DATABASE_URL"):
        return
    kept: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    for item in items:
        spec = getattr(item, "callspec", None)
        twice = (
            item.originalname == FUZZ_TEST  # type: ignore[attr-defined]
            if isinstance(item, pytest.Function)
            else False
        )
        params = spec.params if spec is not None else {}
        if twice and params.get("db_backend") == "sqlite" and params.get("role") != "hq_admin":
            dropped.append(item)
            continue
        kept.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
