"""The seeds' spare-parts promises, over the API on the demo data."""

from __future__ import annotations

import asyncio
import uuid

from sqlalchemy import func, select

from servflow.inventory.models import Part, StockMovement, Warehouse


async def stock_of(api, headers, warehouse: str, sku: str) -> dict:
    response = await api.get(
        "/api/stock", params={"warehouse": warehouse, "sku": sku}, headers=headers("hq_admin")
    )
    assert response.status_code == 200, response.text
    (row,) = response.json()["data"]
    return row


def movements_of(factory, warehouse: str, sku: str) -> int:
    with factory() as session:
        return session.scalar(
            select(func.count())
            .select_from(StockMovement)
            .join(Warehouse, Warehouse.id == StockMovement.warehouse_id)
            .join(Part, Part.id == StockMovement.part_id)
            .where(Warehouse.code == warehouse, Part.sku == sku)
        )


async def test_zhengzhou_foot_pad_comes_from_wuhan_and_hangzhou_is_untouched(api, headers, demo):
    hangzhou_before = await stock_of(api, headers, "WH-HZ", "WM-FOOTPAD")
    hangzhou_moves = movements_of(demo, "WH-HZ", "WM-FOOTPAD")
    plan = await api.post(
        "/api/inventory/sourcing",
        json={"destination": "WH-ZZ", "lines": [{"sku": "WM-FOOTPAD", "qty": 2}]},
        headers=headers("dispatcher_huazhong"),
    )
    assert plan.status_code == 200, plan.text
    (line,) = plan.json()
    assert [p["warehouse"] for p in line["picks"]] == ["WH-WH"]
    assert 440 < line["picks"][0]["distance_km"] < 500
    hangzhou = next(s for s in line["considered"] if s["code"] == "WH-HZ")
    assert 750 < hangzhou["distance_km"] < 850
    assert line["reason"].startswith("WH-WH")

    started = await api.post(
        "/api/inventory/transfers",
        json={
            "order_id": f"WO-ZZ-{uuid.uuid4().hex[:10]}",
            "line": "1",
            "sku": "WM-FOOTPAD",
            "qty": 2,
            "destination": "WH-ZZ",
        },
        headers=headers("dispatcher_huazhong"),
    )
    assert started.status_code == 201, started.text
    assert started.json()["source"] == "WH-WH"
    wuhan = await stock_of(api, headers, "WH-WH", "WM-FOOTPAD")
    assert (wuhan["on_hand"], wuhan["reserved"]) == (20, 2)
    assert await stock_of(api, headers, "WH-HZ", "WM-FOOTPAD") == hangzhou_before
    assert movements_of(demo, "WH-HZ", "WM-FOOTPAD") == hangzhou_moves


async def test_the_suzhou_store_is_refilled_from_wuxi_not_hangzhou_within_scope(api, headers):
    alerts = await api.get(
        "/api/inventory/alerts", params={"status": "open"}, headers=headers("region_mgr_huadong")
    )
    assert alerts.status_code == 200, alerts.text
    (suzhou,) = [a for a in alerts.json()["data"] if a["warehouse"] == "WH-SUZ-001"]
    assert suzhou["sku"] == "WM-DRAIN-HOSE"
    assert suzhou["suggestion"]["action"] == "transfer"
    assert suzhou["suggestion"]["source"] == "WH-WX"
    assert suzhou["suggestion"]["distance_km"] < 60

    plan = await api.post(
        "/api/inventory/sourcing",
        json={"destination": "WH-SUZ-001", "lines": [{"sku": "WM-DRAIN-HOSE", "qty": 5}]},
        headers=headers("region_mgr_huadong"),
    )
    (line,) = plan.json()
    assert [p["warehouse"] for p in line["picks"]] == ["WH-WX"]

    # Every route checks the role and the scope.
    body = {"order_id": "X", "line": "1", "warehouse": "WH-SH", "sku": "INV-MOTOR", "qty": 1}
    outside = await api.post(
        "/api/inventory/reservations", json=body, headers=headers("dispatcher_huabei")
    )
    assert outside.status_code == 422
    assert "warehouse" in outside.json()["errors"]
    engineer = await api.post(
        "/api/inventory/reservations", json=body, headers=headers("engineer_bj_01")
    )
    assert engineer.status_code == 403
    anonymous = await api.get("/api/inventory/alerts")
    assert anonymous.status_code == 401
    check = await api.get("/api/inventory/journal/check", headers=headers("region_mgr_huabei"))
    assert check.status_code == 403


async def test_beijing_inverter_motors_51_to_49_raise_one_alert_with_a_suggestion(api, headers):
    async def reserve(line: str) -> None:
        response = await api.post(
            "/api/inventory/reservations",
            json={
                "order_id": "WO-BJ-1",
                "line": line,
                "warehouse": "WH-BJ",
                "sku": "INV-MOTOR",
                "qty": 1,
            },
            headers=headers("dispatcher_huabei"),
        )
        assert response.status_code == 201, response.text

    async def beijing_alerts() -> list[dict]:
        response = await api.get("/api/inventory/alerts", headers=headers("region_mgr_huabei"))
        return [a for a in response.json()["data"] if a["sku"] == "INV-MOTOR"]

    await reserve("1")  # 51 → 50: not below 50
    assert await beijing_alerts() == []
    await reserve("2")  # 50 → 49
    await reserve("3")  # 49 → 48: still the one alert
    (alert,) = await beijing_alerts()
    assert alert["warehouse"] == "WH-BJ" and alert["safety_level"] == 50
    assert alert["suggestion"]["action"] == "purchase"
    assert alert["suggestion"]["qty"] == 11  # back to the reorder point 60 from 49

    seen = await api.post(
        f"/api/inventory/alerts/{alert['id']}/acknowledge", headers=headers("region_mgr_huabei")
    )
    assert seen.json()["status"] == "acknowledged"
    other = await api.post(
        f"/api/inventory/alerts/{alert['id']}/acknowledge", headers=headers("region_mgr_huanan")
    )
    assert other.status_code == 404  # outside the caller's region: as if missing


async def test_200_concurrent_reservations_for_10_units_never_oversell(
    api, headers, demo, db_backend
):
    """On PostgreSQL exactly 10 succeed and 190 are refused with the shortfall. SQLite has
    one writer: past its queue's wait some requests get 503 (retry) instead, never more
    than 10 successes."""
    stored = await api.post(
        "/api/inventory/movements",
        json={"warehouse": "WH-SH", "sku": "WM-FOOTPAD", "kind": "receipt", "qty": 10},
        headers=headers("hq_admin"),
    )
    assert stored.status_code == 201, stored.text
    auth = headers("hq_admin")

    async def one(i: int):
        return await api.post(
            "/api/inventory/reservations",
            json={
                "order_id": f"RACE-{i}",
                "line": "1",
                "warehouse": "WH-SH",
                "sku": "WM-FOOTPAD",
                "qty": 1,
            },
            headers=auth,
        )

    answers = await asyncio.gather(*(one(i) for i in range(200)))
    codes = sorted(r.status_code for r in answers)
    assert codes.count(201) == 10, codes
    if db_backend == "postgresql":
        assert codes.count(409) == 190, codes
    else:
        assert set(codes) <= {201, 409, 503}, codes
    refused = [r.json() for r in answers if r.status_code == 409]
    assert refused
    assert {(r["shortfall"], r["available"]) for r in refused} == {(1, 0)}
    row = await stock_of(api, headers, "WH-SH", "WM-FOOTPAD")
    assert (row["on_hand"], row["reserved"], row["available"]) == (10, 10, 0)
    check = await api.get("/api/inventory/journal/check", headers=auth)
    assert check.json() == {"consistent": True, "mismatches": []}
