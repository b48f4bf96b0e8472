"""The API on the small world (tests/world.py), without Temporal: for the customer,
upload, sign-off and outbox routes that need no order to run."""

from __future__ import annotations

import base64
import contextlib
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client

from api.main import create_app
from servflow.customers import service as customers
from servflow.platform.base import utcnow
from tests.api.conftest import api_settings, make_headers
from tests.world import World


@pytest.fixture
def uploads(tmp_path: Path) -> Path:
    return tmp_path / "uploads"


@contextlib.asynccontextmanager
async def sealing_api(
    factory: sessionmaker[Session],
    uploads: Path,
    client: Client | None = None,
    task_queue: str | None = None,
) -> AsyncIterator[httpx.AsyncClient]:
    """The app with a payload key (buyers' and customers' data sealed) and an uploads dir."""
    settings = api_settings(
        payload_key=base64.b64encode(os.urandom(32)).decode(), uploads_dir=str(uploads)
    )
    extra = {"task_queue": task_queue} if task_queue else {}
    app = create_app(settings, session_factory=factory, temporal_client=client, **extra)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


@pytest.fixture
async def api(
    session_factory: sessionmaker[Session], world: World, uploads: Path
) -> AsyncIterator[httpx.AsyncClient]:
    async with sealing_api(session_factory, uploads) as http:
        yield http


@pytest.fixture
def headers(
    session_factory: sessionmaker[Session], world: World
) -> Callable[[str], dict[str, str]]:
    return make_headers(session_factory)


def signoff_link(session: Session, world: World, order_id: str = "order-1") -> str:
    """A sign-off link (committed) for an order of outlet bj-001 served by engineer_bj_near."""
    token, _ = customers.create_signoff_link(
        session,
        order_id=order_id,
        customer_id=None,
        org_path=world.units["bj-001"].path,
        region="huabei",
        outlet="bj-001",
        engineer="engineer_bj_near",
        now=utcnow(),
    )
    session.commit()
    return token
