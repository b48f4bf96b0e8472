"""The money API on the demo data (price rules, agreements) with a known ledger key, and
activities run on a weekday noon (China time), so no night or weekend surcharge applies."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker

from activities.support import ActivityDeps
from api.main import create_app
from tests.api.conftest import api_settings, make_headers, seed
from tests.world import Runner

# Tuesday 24 November 2026, 12:00 in China.
WEEKDAY_NOON = datetime(2026, 11, 24, 4, 0, tzinfo=UTC)
LEDGER_KEY = base64.b64encode(bytes((7 * i + 3) % 251 for i in range(32))).decode()


@pytest.fixture
def money_demo(session_factory: sessionmaker[Session]) -> sessionmaker[Session]:
    seed(session_factory)
    return session_factory


@pytest.fixture
def money_headers(money_demo: sessionmaker[Session]) -> Callable[[str], dict[str, str]]:
    return make_headers(money_demo)


@pytest.fixture
async def money_api(money_demo: sessionmaker[Session]) -> AsyncIterator[httpx.AsyncClient]:
    # No Temporal: these routes never reach it (the lifespan does not run on ASGITransport).
    app = create_app(api_settings(ledger_key=LEDGER_KEY), session_factory=money_demo)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


@pytest.fixture
def weekday_run(money_demo: sessionmaker[Session]) -> Runner:
    """Runs the real activities on the demo database at WEEKDAY_NOON."""
    return Runner(ActivityDeps(session_factory=money_demo, clock=lambda: WEEKDAY_NOON))
