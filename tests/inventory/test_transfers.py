"""The transfer saga in Temporal: reserve → ship → receive holds the part at the
destination for the order line; a cancel at any step puts stock back where it was."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from tests.inventory.test_api_seeds import stock_of


async def start(api, headers, order: str, line: str) -> dict[str, Any]:
    response = await api.post(
        "/api/inventory/transfers",
        json={
            "order_id": order,
            "line": line,
            "sku": "WM-FOOTPAD",
            "qty": 3,
            "destination": "WH-ZZ",
        },
        headers=headers("hq_admin"),
    )
    assert response.status_code == 201, response.text
    return response.json()


async def live_status(api, headers, code: str, want: str) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + 20
    body: dict[str, Any] = {}
    while asyncio.get_running_loop().time() < deadline:
        body = (
            await api.get(f"/api/inventory/transfers/{code}", headers=headers("hq_admin"))
        ).json()
        if body.get("status") == want and (body.get("live") or {}).get("status") == want:
            return body
        await asyncio.sleep(0.1)
    raise AssertionError(f"transfer {code} never {want}: {body}")


async def balances(api, headers) -> tuple[tuple[int, int], tuple[int, int]]:
    wuhan = await stock_of(api, headers, "WH-WH", "WM-FOOTPAD")
    zhengzhou = await stock_of(api, headers, "WH-ZZ", "WM-FOOTPAD")
    return (wuhan["on_hand"], wuhan["reserved"]), (zhengzhou["on_hand"], zhengzhou["reserved"])


async def test_a_transfer_ships_and_is_received_for_the_order_line(api, headers, worker):
    order = f"WO-{uuid.uuid4().hex[:10]}"  # transfer codes (workflow ids) follow the line
    transfer = await start(api, headers, order, "1")
    code = transfer["code"]
    await live_status(api, headers, code, "reserved")
    wrong_side = await api.post(
        f"/api/inventory/transfers/{code}/ship",
        json={"carrier": "SF", "tracking_no": "SF1234567890"},
        headers=headers("region_mgr_huabei"),
    )
    assert wrong_side.status_code == 404  # neither warehouse is in 华北
    early = await api.post(f"/api/inventory/transfers/{code}/receive", headers=headers("hq_admin"))
    assert early.status_code == 409  # nothing shipped yet

    shipped = await api.post(
        f"/api/inventory/transfers/{code}/ship",
        json={"carrier": "SF", "tracking_no": "SF1234567890"},
        headers=headers("region_mgr_huazhong"),
    )
    assert shipped.status_code == 200, shipped.text
    assert shipped.json()["status"] == "shipped"
    assert await balances(api, headers) == ((17, 0), (0, 0))

    received = await api.post(
        f"/api/inventory/transfers/{code}/receive", headers=headers("region_mgr_huazhong")
    )
    assert received.json()["status"] == "received"
    assert await balances(api, headers) == ((17, 0), (3, 3))  # held for the order's line 1
    on_order = await api.get(
        "/api/inventory/movements", params={"ref": order}, headers=headers("hq_admin")
    )
    kinds = sorted(m["kind"] for m in on_order.json()["data"])
    assert kinds == ["reservation", "reservation", "transfer_in", "transfer_out"]
    check = await api.get("/api/inventory/journal/check", headers=headers("hq_admin"))
    assert check.json()["consistent"] is True


async def test_a_cancel_before_or_after_shipping_puts_stock_back_where_it_was(api, headers, worker):
    order = f"WO-{uuid.uuid4().hex[:10]}"
    before = await balances(api, headers)
    unshipped = (await start(api, headers, order, "2"))["code"]
    shipped = (await start(api, headers, order, "3"))["code"]
    await live_status(api, headers, unshipped, "reserved")
    await live_status(api, headers, shipped, "reserved")
    assert await balances(api, headers) == ((20, 6), (0, 0))
    await api.post(
        f"/api/inventory/transfers/{shipped}/ship",
        json={"carrier": "SF", "tracking_no": "SF1"},
        headers=headers("hq_admin"),
    )
    assert await balances(api, headers) == ((17, 3), (0, 0))
    for code, reason in ((unshipped, "found locally"), (shipped, "customer cancelled")):
        cancelled = await api.post(
            f"/api/inventory/transfers/{code}/cancel",
            json={"reason": reason},
            headers=headers("hq_admin"),
        )
        assert cancelled.status_code == 202
        await live_status(api, headers, code, "cancelled")
    assert await balances(api, headers) == before == ((20, 0), (0, 0))
    returned = await api.get(
        "/api/inventory/movements",
        params={"ref": order, "warehouse": "WH-WH"},
        headers=headers("hq_admin"),
    )
    kinds = sorted(m["kind"] for m in returned.json()["data"])
    assert kinds == ["release", "reservation", "reservation", "transfer_in", "transfer_out"]
    check = await api.get("/api/inventory/journal/check", headers=headers("hq_admin"))
    assert check.json()["consistent"] is True
