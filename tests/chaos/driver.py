"""Field apps and a customer system driving demo orders (ac-repair) over HTTP while faults
happen: every call is retried on a transport error, 5xx or 409-while-still-waiting, on any
API replica, with the same Idempotency-Key, as a well-behaved client does. The driver's
own view is only what it started; whether that all happened is the checker's to say."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx

API_KEY = "sfk_demo_api_client_0000000000000000"
PASSWORD = "demo1234"  # the published demo password
# Demo cities with refrigeration engineers, and the region each lies in.
CITIES = [
    ("北京", "华北", 39.9042, 116.4074),
    ("上海", "华东", 31.2304, 121.4737),
    ("广州", "华南", 23.1291, 113.2644),
    ("武汉", "华中", 30.5928, 114.3055),
    ("成都", "西南", 30.5728, 104.0668),
    ("西安", "西北", 34.3416, 108.9398),
    ("沈阳", "东北", 41.8057, 123.4315),
    ("杭州", "华东", 30.2741, 120.1551),
]
SERVICE = {"diagnosis": "冷媒泄漏，已补焊并加注", "parts_needed": False}
SIGNOFF = {"signature": "chaos-signature", "photos": ["chaos-photo-1"], "rating": "5"}
RETRYABLE = {502, 503, 504}


@dataclass(frozen=True)
class Planned:
    """One order the driver starts: its idempotency key, customer and region."""

    key: str
    phone: str
    region: str
    lat: float
    lng: float


def plan(run: str, count: int) -> list[Planned]:
    out = []
    for i in range(count):
        _city, region, lat, lng = CITIES[i % len(CITIES)]
        # A little spread, so distances (and money) differ per order.
        out.append(
            Planned(
                key=f"chaos-{run}-{i}",
                phone=f"17{abs(hash(run)) % 1000:03d}{i:06d}",
                region=region,
                lat=round(lat + (i % 7) * 0.011, 4),
                lng=round(lng - (i % 5) * 0.013, 4),
            )
        )
    return out


@dataclass
class DriverReport:
    started: dict[str, str] = field(default_factory=dict)
    """Idempotency key -> order id the API answered."""
    finished: set[str] = field(default_factory=set)
    """Order ids the driver saw closed as completed."""
    gave_up: dict[str, str] = field(default_factory=dict)
    """Key -> why the driver stopped driving it."""
    retries: Counter[str] = field(default_factory=Counter)
    """Retried answers by kind ("start 503", "step transport", ...)."""


class GiveUp(Exception):
    pass


class Driver:
    def __init__(self, urls: list[str], *, deadline_seconds: float = 300) -> None:
        self.urls = urls
        self._next = itertools.cycle(range(len(urls)))
        self.report = DriverReport()
        self.tokens: dict[str, str] = {}
        self.deadline_seconds = deadline_seconds
        self.clients = [httpx.AsyncClient(base_url=u, timeout=40) for u in urls]

    async def close(self) -> None:
        for client in self.clients:
            await client.aclose()

    async def _call(
        self, what: str, method: str, path: str, *, until: float, **kwargs: Any
    ) -> httpx.Response:
        """The first answer that is not a transport error or a 5xx, from any replica."""
        pause = 0.2
        while True:
            if time.monotonic() > until:
                raise GiveUp(f"{what}: no answer before the deadline")
            client = self.clients[next(self._next)]
            try:
                response = await client.request(method, path, **kwargs)
            except httpx.TransportError:
                self.report.retries[f"{what} transport"] += 1
            else:
                if response.status_code not in RETRYABLE and response.status_code < 500:
                    return response
                self.report.retries[f"{what} {response.status_code}"] += 1
                retry_after = response.headers.get("Retry-After")
                if retry_after and retry_after.isdigit():
                    pause = min(float(retry_after), 5.0)
            await asyncio.sleep(pause)
            pause = min(pause * 1.5, 3.0)

    async def _token(self, username: str, until: float) -> dict[str, str]:
        if username not in self.tokens:
            response = await self._call(
                "login",
                "POST",
                "/api/auth/login",
                until=until,
                json={"username": username, "password": PASSWORD},
            )
            if response.status_code != 200:
                raise GiveUp(f"login {username}: {response.status_code} {response.text[:200]}")
            self.tokens[username] = response.json()["access_token"]
        return {"Authorization": f"Bearer {self.tokens[username]}"}

    async def one(self, order: Planned) -> None:
        until = time.monotonic() + self.deadline_seconds
        try:
            await self._drive(order, until)
        except GiveUp as exc:
            self.report.gave_up[order.key] = str(exc)

    async def _drive(self, order: Planned, until: float) -> None:
        body = {
            "definition_key": "ac-repair",
            "variables": {"fault": "ac_leak"},
            "region": order.region,
            "customer": {
                "name": f"故障客户{order.key[-8:]}",
                "phone": order.phone,
                "address": f"{order.region}测试路{order.key[-4:]}号",
                "lat": order.lat,
                "lng": order.lng,
            },
        }
        headers = {"X-API-Key": API_KEY, "Idempotency-Key": order.key}
        response = await self._call(
            "start", "POST", "/api/orders", until=until, json=body, headers=headers
        )
        if response.status_code not in (200, 201):
            raise GiveUp(f"start: {response.status_code} {response.text[:200]}")
        order_id = response.json()["order_id"]
        self.report.started[order.key] = order_id
        admin = await self._token("hq_admin", until)
        engineer = ""
        for node_id, data in (("service", SERVICE), ("signoff", SIGNOFF)):
            step = await self._wait_for(order_id, node_id, admin, until)
            engineer = engineer or step["assignee"]
            await self._submit(order_id, node_id, data, engineer, until)
        while True:
            response = await self._call(
                "outcome",
                "GET",
                f"/api/orders/{order_id}/outcome",
                until=until,
                params={"wait": 20},
                headers=headers,
            )
            if response.status_code != 200:
                raise GiveUp(f"outcome: {response.status_code} {response.text[:200]}")
            if response.json()["closed"]:
                if response.json()["status"] == "completed":
                    self.report.finished.add(order_id)
                    return
                raise GiveUp(f"order closed {response.json()['status']}")

    async def _wait_for(
        self, order_id: str, node_id: str, admin: dict[str, str], until: float
    ) -> dict[str, Any]:
        while True:
            response = await self._call(
                "waiting",
                "GET",
                f"/api/orders/{order_id}/waiting",
                until=until,
                params={"node_id": node_id, "wait": 20},
                headers=admin,
            )
            if response.status_code != 200:
                raise GiveUp(f"waiting {node_id}: {response.status_code} {response.text[:200]}")
            seen = response.json()
            if seen["closed"]:
                raise GiveUp(f"closed {seen['status']} before {node_id}")
            for step in seen["steps"]:
                if step["node_id"] == node_id:
                    return dict(step)

    async def _submit(
        self, order_id: str, node_id: str, data: dict[str, Any], engineer: str, until: float
    ) -> None:
        key = f"{order_id}-{node_id}"
        while True:
            headers = {**await self._token(engineer, until), "Idempotency-Key": key}
            response = await self._call(
                "step",
                "POST",
                f"/api/orders/{order_id}/steps/{node_id}",
                until=until,
                json={"data": data},
                headers=headers,
            )
            if response.status_code == 200:
                return
            if response.status_code == 409:
                # With an Idempotency-Key a lost answer is replayed, never a 409: a 409 means
                # the step was not (yet) the order's. Still waiting? Then try again.
                self.report.retries["step 409"] += 1
                admin = await self._token("hq_admin", until)
                seen = await self._call(
                    "waiting",
                    "GET",
                    f"/api/orders/{order_id}/waiting",
                    until=until,
                    headers=admin,
                )
                if not any(s["node_id"] == node_id for s in seen.json().get("steps", [])):
                    self.report.retries["step 409 not waiting"] += 1
                    return
                await asyncio.sleep(0.5)
                continue
            raise GiveUp(f"step {node_id}: {response.status_code} {response.text[:200]}")


async def drive(
    urls: list[str],
    orders: list[Planned],
    *,
    concurrency: int,
    spread_seconds: float = 0,
    deadline_seconds: float = 300,
) -> DriverReport:
    """Drives `orders`, at most `concurrency` at a time, their starts spread evenly over
    `spread_seconds` (so that orders are in every stage while the faults play)."""
    driver = Driver(urls, deadline_seconds=deadline_seconds)
    gate = asyncio.Semaphore(concurrency)
    began = time.monotonic()

    async def limited(i: int, order: Planned) -> None:
        await asyncio.sleep(max(0.0, began + i * spread_seconds / len(orders) - time.monotonic()))
        async with gate:
            await driver.one(order)

    try:
        await asyncio.gather(*(limited(i, o) for i, o in enumerate(orders)))
    finally:
        await driver.close()
    return driver.report
