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
from servflow.billing.demo import load_money_demo
from servflow.org import service as org
from tests.api.conftest import api_settings, make_headers
from tests.world import Runner

# Tuesday 24 November 2026, 12:00 in China.
WEEKDAY_NOON = datetime(2026, 11, 24, 4, 0, tzinfo=UTC)
LEDGER_KEY = base64.b64encode(bytes((7 * i + 3) % 251 for i in range(32))).decode()


# A small org for the money tests (the full demo takes seconds to load per test): HQ and
# three regions with a branch and an outlet each, the users the tests act as, and the
# demo's price rules and agreements (servflow/demo/data/money.json).
REGIONS = {
    "huabei": ("华北", "bj", "北京", 39.92, 116.44),
    "huanan": ("华南", "gz", "广州", 23.13, 113.36),
    "huadong": ("华东", "sh", "上海", 31.22, 121.54),
}
USERS = [
    ("finance", ["finance"], "hq"),
    ("hq_admin", ["hq_admin"], "hq"),
    ("region_mgr_huanan", ["region_manager"], "huanan"),
    ("region_mgr_huabei", ["region_manager"], "huabei"),
    ("outlet_mgr_gz_001", ["outlet_manager"], "gz-001"),
]


def load_money_world(session: Session) -> None:
    hq = org.create_unit(session, kind="hq", code="hq", name="总部")
    units = {"hq": hq}
    for code, (name, city, city_name, lat, lng) in REGIONS.items():
        region = org.create_unit(session, kind="region", code=code, name=name, parent=hq)
        branch = org.create_unit(
            session,
            kind="branch",
            code=f"{city}-branch",
            name=f"{city_name}分公司",
            parent=region,
            city=city_name,
            lat=lat,
            lng=lng,
        )
        outlet = org.create_unit(
            session,
            kind="outlet",
            code=f"{city}-001",
            name=f"{city_name}一店",
            parent=branch,
            city=city_name,
            lat=lat,
            lng=lng,
        )
        units |= {code: region, outlet.code: outlet}
    for username, roles, unit in USERS:
        org.create_user(
            session, username=username, password_hash="-", roles=roles, org_unit=units[unit]
        )
    load_money_demo(session)
    session.commit()


@pytest.fixture
def money_demo(session_factory: sessionmaker[Session]) -> sessionmaker[Session]:
    with session_factory() as session:
        load_money_world(session)
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
