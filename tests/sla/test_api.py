"""The SLA API: the breach list is scoped (a region manager sees only their region, an
engineer only their own steps), and calendars and policies are edited within one's scope."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, delete
from sqlalchemy.orm import Session, sessionmaker

from api.main import create_app
from servflow.orders import steps
from servflow.platform.base import utcnow
from servflow.platform.db import make_session_factory
from servflow.sla import service as sla
from servflow.sla.models import SlaCalendar
from tests.api.conftest import api_settings, make_headers, seed, truncate
from tests.world import make_step
from workflows.constants import ACTIVITY_SLA_CLOCK
from workflows.contracts import SlaClockParams

Headers = Callable[[str], dict[str, str]]


@pytest.fixture(scope="module")
def demo(db_engine: Engine) -> Iterator[sessionmaker[Session]]:
    """The demo data, seeded once for this module's tests (each adds its own rows)."""
    factory = make_session_factory(db_engine)
    seed(factory)
    try:
        yield factory
    finally:
        truncate(db_engine)


@pytest.fixture
async def http(demo: sessionmaker[Session]) -> AsyncIterator[httpx.AsyncClient]:
    # No Temporal: these routes read and write the store only.
    app = create_app(api_settings(), session_factory=demo, temporal_client=None, task_queue="x")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as client:
        yield client


def start_clock(
    factory: sessionmaker[Session], order_id: str, region: str, *, hours_ago: float, assignee: str
) -> None:
    """A 2-hour clock (round the clock, no calendar matters: 24×7 policy-free node SLA)
    started `hours_ago`, written as the `sla_clock` activity writes it."""
    params = SlaClockParams(
        event="start",
        at=utcnow() - timedelta(hours=hours_ago),
        within="PT2H",
        node_name="上门维修",
        assignee=assignee,
    )
    step = make_step("service:sla-start-1", order_id=order_id, node_id="service", region=region)
    step = step.model_copy(
        update={
            "params": params.model_dump(mode="json"),
            "idempotency_key": f"{order_id}/service/1/sla-start-1",
        }
    )
    steps.run_step(factory, step, activity=ACTIVITY_SLA_CLOCK, effect=sla.clock_event, clock=utcnow)


async def breaches(http: httpx.AsyncClient, headers: dict[str, str], state: str = "breached"):
    response = await http.get("/api/sla/breaches", params={"state": state}, headers=headers)
    assert response.status_code == 200, response.text
    return sorted(row["order_id"] for row in response.json()["data"])


async def test_the_breach_list_is_scoped_to_the_callers_region_and_own_steps(
    http: httpx.AsyncClient, demo: sessionmaker[Session]
) -> None:
    with demo() as session:  # the demo's calendars would count working hours only
        session.execute(delete(SlaCalendar))
        session.commit()
    start_clock(demo, "o-bj", "huabei", hours_ago=3, assignee="engineer_bj_01")
    start_clock(demo, "o-gz", "huanan", hours_ago=3, assignee="engineer_gz_01")
    start_clock(demo, "o-risk", "huabei", hours_ago=1.7, assignee="engineer_bj_01")
    headers = make_headers(demo)

    assert await breaches(http, headers("hq_admin")) == ["o-bj", "o-gz"]
    assert await breaches(http, headers("region_mgr_huabei")) == ["o-bj"]
    assert await breaches(http, headers("region_mgr_huanan")) == ["o-gz"]
    assert await breaches(http, headers("region_mgr_huabei"), "at_risk") == ["o-risk"]
    assert await breaches(http, headers("engineer_bj_01")) == ["o-bj"]
    assert await breaches(http, headers("engineer_gz_01")) == ["o-gz"]
    refused = await http.get("/api/sla/breaches", headers=headers("finance"))
    assert refused.status_code == 403
    bad = await http.get("/api/sla/breaches", params={"state": "late"}, headers=headers("hq_admin"))
    assert bad.status_code == 422 and "state" in bad.text


SEVEN_BY_TWELVE = {
    "timezone": "Asia/Shanghai",
    "hours": [{"days": [1, 2, 3, 4, 5, 6, 7], "start": "08:00", "end": "20:00"}],
}


async def test_region_admins_edit_calendars_and_policies_in_their_own_scope_only(
    http: httpx.AsyncClient, demo: sessionmaker[Session]
) -> None:
    headers = make_headers(demo)
    mine = {"name": "华北 7×12", "scope_path": "/hq/huabei", "calendar": SEVEN_BY_TWELVE}
    saved = await http.put(
        "/api/sla/calendars/huabei-7x12",
        json={**mine, "mainland_years": [2026]},
        headers=headers("region_mgr_huabei"),
    )
    assert saved.status_code == 200, saved.text
    assert "2026-10-01" in saved.json()["body"]["holidays"]
    assert "2026-09-20" in saved.json()["body"]["workdays"]  # a Sunday worked
    above = await http.put(
        "/api/sla/calendars/national",
        json={**mine, "scope_path": "/hq"},
        headers=headers("region_mgr_huabei"),
    )
    assert above.status_code == 403
    theirs = await http.put(
        "/api/sla/calendars/huabei-7x12",
        json={**mine, "scope_path": "/hq/huanan"},
        headers=headers("region_mgr_huanan"),
    )
    assert theirs.status_code == 404  # out of scope reads as unknown
    bad_zone = await http.put(
        "/api/sla/calendars/mars",
        json={**mine, "calendar": {**SEVEN_BY_TWELVE, "timezone": "Mars/Base"}},
        headers=headers("region_mgr_huabei"),
    )
    assert bad_zone.status_code == 422 and "timezone" in bad_zone.text

    rule = {"within": "PT2H", "ladder": [{"at": 100, "action": "notify", "to_roles": ["x"]}]}
    policy: dict[str, Any] = {
        "name": "华北上门",
        "calendar": "huabei-7x12",
        "rules": [rule],
    }
    first = await http.put(
        "/api/sla/policies/huabei-onsite",
        json={"scope_path": "/hq/huabei", "policy": policy},
        headers=headers("region_mgr_huabei"),
    )
    second = await http.put(
        "/api/sla/policies/huabei-onsite",
        json={"policy": {**policy, "rules": [{**rule, "within": "PT3H"}]}},
        headers=headers("region_mgr_huabei"),
    )
    assert (first.json()["version"], second.json()["version"]) == (1, 2)
    other = await http.put(
        "/api/sla/policies/huabei-onsite",
        json={"scope_path": "/hq/huanan", "policy": policy},
        headers=headers("region_mgr_huanan"),
    )
    assert other.status_code == 404
    listed = await http.get("/api/sla/policies", headers=headers("region_mgr_huanan"))
    assert [p["key"] for p in listed.json()["data"]] == ["onsite"]  # HQ's demo policy only
    listed = await http.get("/api/sla/policies", headers=headers("region_mgr_huabei"))
    assert {p["key"]: p["version"] for p in listed.json()["data"]} == {
        "huabei-onsite": 2,
        "onsite": 1,
    }
    wrong = await http.put(
        "/api/sla/policies/x",
        json={"policy": {**policy, "calendar": "nope"}},
        headers=headers("region_mgr_huabei"),
    )
    assert wrong.status_code == 422
