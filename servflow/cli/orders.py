"""Orders from the command line, through the HTTP API like any other client."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from typing import Any

import httpx

from servflow.cli.common import say
from servflow.platform.settings import Settings

DEMO_API_KEY = "sfk_demo_api_client_0000000000000000"
DEMO_CUSTOMER = {
    "name": "李娜",
    "phone": "13800010001",
    "address": "北京市朝阳区建国路88号",
    "lat": 39.9087,
    "lng": 116.4605,
}


def _api_key() -> str:
    return os.environ.get("SERVFLOW_API_KEY", DEMO_API_KEY)


async def start_order(http: httpx.AsyncClient, body: dict[str, Any], key: str) -> dict[str, Any]:
    response = await http.post(
        "/api/orders", json=body, headers={"X-API-Key": _api_key(), "Idempotency-Key": key}
    )
    if response.status_code >= 400:
        raise RuntimeError(f"start refused ({response.status_code}): {response.text}")
    return dict(response.json())


async def _login(http: httpx.AsyncClient, username: str) -> dict[str, str]:
    response = await http.post(
        "/api/auth/login", json={"username": username, "password": "demo1234"}
    )
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def _wait_for_step(
    http: httpx.AsyncClient, headers: dict[str, str], order_id: str, node_id: str
) -> dict[str, Any]:
    for _ in range(600):
        order = (await http.get(f"/api/orders/{order_id}", headers=headers)).json()
        active = (order.get("state") or {}).get("active", [])
        found = next((a for a in active if a["node_id"] == node_id), None)
        if found:
            return dict(found)
        await asyncio.sleep(0.5)
    raise TimeoutError(f"order {order_id} never reached {node_id}")


async def _start_demo_orders(http: httpx.AsyncClient, stamp: str) -> list[dict[str, Any]]:
    # Customers of their own each run: an open order for the same customer and fault would
    # be refused as a duplicate by the report step.
    orders = []
    for suffix, fault in (("a", "ac_leak"), ("b", "ac_noise")):
        customer = {
            **DEMO_CUSTOMER,
            "name": f"演示客户{stamp[-6:]}{suffix.upper()}",
            "phone": f"139{stamp[-6:]}{ord(suffix) % 100:02d}",
        }
        body = {
            "definition_key": "ac-repair",
            "variables": {"fault": fault},
            "customer": customer,
            "region": "华北",
        }
        orders.append(await start_order(http, body, f"demo-{stamp}-{suffix}"))
    return orders


async def _drive_to_the_end(http: httpx.AsyncClient, order_id: str) -> str:
    """Submits the service and sign-off steps of `order_id`; returns the engineer."""
    admin = await _login(http, "hq_admin")
    step = await _wait_for_step(http, admin, order_id, "service")
    engineer = await _login(http, step["assignee"])
    service = {"diagnosis": "冷媒泄漏，已补焊并加注", "parts_needed": False}
    await http.post(
        f"/api/orders/{order_id}/steps/service", json={"data": service}, headers=engineer
    )
    await _wait_for_step(http, admin, order_id, "signoff")
    signoff = {"signature": "demo-signature", "photos": ["demo-photo-1"], "rating": "5"}
    await http.post(
        f"/api/orders/{order_id}/steps/signoff", json={"data": signoff}, headers=engineer
    )
    return str(step["assignee"])


async def run_demo_orders(base_url: str) -> None:
    """Start two demo orders: one driven to the end so the UI shows a whole run, one left
    waiting at the engineer's service step for you to submit."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
        try:
            finished, waiting = await _start_demo_orders(http, stamp)
            say(
                f"demo orders: {finished['order_id']} (driven to the end),"
                f" {waiting['order_id']} (waits for service)"
            )
            engineer = await _drive_to_the_end(http, finished["order_id"])
            say(
                f"demo order {finished['order_id']} signed off;"
                f" {waiting['order_id']} waits for {engineer}"
            )
        except (httpx.HTTPError, RuntimeError, TimeoutError, KeyError) as exc:
            say(f"demo orders could not run: {exc}")


def cmd_start_order(settings: Settings, args: argparse.Namespace) -> int:
    return asyncio.run(start_from_cli(settings, args))


async def start_from_cli(settings: Settings, args: argparse.Namespace) -> int:
    variables: dict[str, Any] = {}
    for pair in args.var:
        name, _, value = pair.partition("=")
        try:
            variables[name] = json.loads(value)
        except json.JSONDecodeError:
            variables[name] = value
    customer = {**DEMO_CUSTOMER, "phone": args.customer_phone}
    body: dict[str, Any] = {
        "definition_key": args.definition,
        "variables": variables,
        "customer": customer,
        "region": args.region,
    }
    if args.version is not None:
        body["version"] = args.version
    base = f"http://{settings.api_host}:{settings.api_port}"
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        try:
            order = await start_order(http, body, f"cli-{os.getpid()}-{id(body)}")
        except (httpx.HTTPError, RuntimeError) as exc:
            say(f"could not start the order (is `make run` up at {base}?): {exc}")
            return 1
    say(json.dumps(order, ensure_ascii=False, indent=2))
    return 0
