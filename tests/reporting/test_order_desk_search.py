"""The order desk's search (GET /api/orders): by number, customer name or phone, outlet and
creation time, within the caller's scope; a parameter it does not know is refused."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from api.main import create_app
from servflow.customers.models import Customer
from servflow.orders.models import WorkOrder
from servflow.org import service as org
from tests.api.conftest import api_settings, demo, headers

__all__ = ["demo", "headers"]  # the API tests' fixtures: demo data and callers' headers

T0 = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)


@pytest.fixture
async def desk(demo) -> AsyncIterator[httpx.AsyncClient]:
    with demo() as session:
        # Customers belong where they were first served (the customers' own scope rule).
        north = org.find_region(session, code_or_name="huabei")
        assert north is not None
        people = [
            Customer(name="欧阳娜娜", phone="13912345601", org_path=north.path),
            Customer(name="王强", phone="13912345602", org_path=north.path),
        ]
        session.add_all(people)
        session.flush()
        rows = [
            ("SF20261122-000001", "bj-001", people[0].id, T0),
            ("SF20261122-000002", "bj-002", people[1].id, T0 - timedelta(days=2)),
            ("SF20261122-000003", "sh-001", people[1].id, T0),
        ]
        for number, outlet, customer_id, created in rows:
            unit = org.get_unit_by_code(session, code=outlet)
            assert unit is not None
            session.add(
                WorkOrder(
                    order_id=f"wo-{number}",
                    order_no=number,
                    definition_key="ac-repair",
                    definition_version=1,
                    region=unit.path.split("/")[2],
                    org_path=unit.path,
                    customer_id=customer_id,
                    status="dispatched",
                    created_at=created,
                    updated_at=created,
                )
            )
        session.commit()
    # The search never asks Temporal: no client is needed.
    app = create_app(api_settings(), session_factory=demo, temporal_client=object())  # type: ignore[arg-type]
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as http:
        yield http


async def numbers(http, headers, user: str, **params) -> list[str]:
    answer = await http.get("/api/orders", params=params, headers=headers(user))
    assert answer.status_code == 200, answer.text
    assert answer.json()["count"] == len(answer.json()["data"])
    return sorted(o["order_no"] for o in answer.json()["data"])


async def test_orders_are_found_by_number_customer_outlet_and_date(desk, headers):
    assert await numbers(desk, headers, "hq_admin", q="000001") == ["SF20261122-000001"]
    assert await numbers(desk, headers, "hq_admin", q="欧阳") == ["SF20261122-000001"]
    assert await numbers(desk, headers, "hq_admin", q="1391234560") == [
        "SF20261122-000001",
        "SF20261122-000002",
        "SF20261122-000003",
    ]
    assert await numbers(desk, headers, "hq_admin", q="王强", outlet="bj-002") == [
        "SF20261122-000002"
    ]
    since = (T0 - timedelta(days=1)).isoformat()
    assert await numbers(desk, headers, "hq_admin", q="王强", **{"from": since}) == [
        "SF20261122-000003"
    ]
    # A wildcard in the text is a character, not a pattern.
    assert await numbers(desk, headers, "hq_admin", q="%") == []


async def test_the_search_stays_within_the_callers_scope(desk, headers):
    assert await numbers(desk, headers, "region_mgr_huabei", q="王强") == ["SF20261122-000002"]
    assert await numbers(desk, headers, "region_mgr_huabei", outlet="sh-001") == []


async def test_an_unknown_search_parameter_is_refused_by_name(desk, headers):
    answer = await desk.get("/api/orders?q=1&phone=139", headers=headers("hq_admin"))
    assert answer.status_code == 422
    assert answer.json()["errors"] == {"phone": "is not a search parameter"}
