"""The five-step pipeline through the HTTP API vs the Temporal client vs the bare workflow.

Three variants, side by side in one run on one dev server and one worker process:
  api     POST /api/orders, two POST .../steps/{node}, poll GET /api/orders/{id} until done
          (the API runs as its own process, `python -m api`, like in production);
  direct  the same published pipeline started and advanced with the Temporal client;
  bare    the hand-written five-step workflow with instant activities (no store writes).
`api` and `direct` run the real activities on a SQLite store with the demo data. Prints
rates, p50/p99 latency of start and step submission, and `api_vs_direct=` / `api_vs_bare=`.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
from temporalio.client import Client

from bench.support import (
    ENGINEER,
    FIVE_STEPS,
    SERVICE_DATA,
    SIGNOFF_DATA,
    run_concurrently,
    wait_active,
)
from servflow_cli.devserver import DevServer, free_port, port_open
from servflow_cli.shutdown import exit_now
from workflows.contracts import Actor, OrderContext, StartOrderInput, StepSubmission

ORDERS = int(os.environ.get("BENCH_ORDERS", "120"))
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "16"))
# Every variant waits for the next step the same way: look every POLL seconds (a field app
# refreshing; polling much faster mostly measures the polling).
POLL = float(os.environ.get("BENCH_POLL", "0.1"))
ROOT = Path(__file__).resolve().parents[1]
API_KEY = "sfk_demo_api_client_0000000000000000"
# Demo cities with engineers, so dispatch always finds someone (loads stay under max_load).
CITIES = [
    ("北京", 39.9042, 116.4074),
    ("上海", 31.2304, 121.4737),
    ("广州", 23.1291, 113.2644),
    ("武汉", 30.5928, 114.3055),
    ("成都", 30.5728, 104.0668),
    ("西安", 34.3416, 108.9398),
    ("沈阳", 41.8057, 123.4315),
    ("杭州", 30.2741, 120.1551),
]
Latencies = dict[str, list[float]]


def customer(i: int) -> dict[str, Any]:
    city, lat, lng = CITIES[i % len(CITIES)]
    return {
        "name": f"压测客户{i}",
        "phone": f"15{i:09d}",
        "address": f"{city}市压测路{i}号",
        "lat": lat,
        "lng": lng,
    }


async def timed(latencies: Latencies, kind: str, call: Awaitable[Any]) -> Any:
    started = time.perf_counter()
    result = await call
    latencies.setdefault(kind, []).append(time.perf_counter() - started)
    return result


class ApiDriver:
    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http, self.tokens, self.latencies = http, {}, {}  # type: ignore[var-annotated]
        self.admin: dict[str, str] = {}

    async def login(self, username: str) -> dict[str, str]:
        if username not in self.tokens:
            response = await self.http.post(
                "/api/auth/login", json={"username": username, "password": "demo1234"}
            )
            response.raise_for_status()
            self.tokens[username] = {"Authorization": f"Bearer {response.json()['access_token']}"}
        return dict(self.tokens[username])

    async def wait(self, order_id: str, until: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        while True:
            response = await self.http.get(f"/api/orders/{order_id}", headers=self.admin)
            response.raise_for_status()
            order = dict(response.json())
            if until(order):
                return order
            await asyncio.sleep(POLL)

    async def one(self, i: int, run: str) -> None:
        body = {"definition_key": FIVE_STEPS.key, "variables": {}, "customer": customer(i)}
        headers = {"X-API-Key": API_KEY, "Idempotency-Key": f"{run}-{i}"}
        response = await timed(
            self.latencies, "start", self.http.post("/api/orders", json=body, headers=headers)
        )
        assert response.status_code in (200, 201), response.text
        order_id = response.json()["order_id"]
        engineer = ""
        for node_id, data in (("service", SERVICE_DATA), ("signoff", SIGNOFF_DATA)):
            order = await self.wait(order_id, lambda o, n=node_id: _active(o, n) is not None)
            engineer = engineer or _active(order, node_id)["assignee"]  # type: ignore[index]
            step = self.http.post(
                f"/api/orders/{order_id}/steps/{node_id}",
                json={"data": data},
                headers=await self.login(engineer),
            )
            response = await timed(self.latencies, "step", step)
            assert response.status_code == 200, response.text
        await self.wait(order_id, lambda o: (o.get("state") or {}).get("status") == "completed")


def _active(order: dict[str, Any], node_id: str) -> dict[str, Any] | None:
    active = (order.get("state") or {}).get("active", [])
    return next((a for a in active if a["node_id"] == node_id), None)


class DirectDriver:
    def __init__(self, client: Client, queue: str, snapshot: StartOrderInput) -> None:
        self.client, self.queue, self.snapshot, self.latencies = client, queue, snapshot, {}  # type: ignore[var-annotated]

    async def one(self, i: int, run: str) -> None:
        order_id = f"direct-{run}-{i}"
        start = self.snapshot.model_copy(
            update={"order_id": order_id, "context": OrderContext(customer=customer(i))}
        )
        handle = await timed(
            self.latencies,
            "start",
            self.client.start_workflow("WorkOrder", start, id=order_id, task_queue=self.queue),
        )
        engineer = ""
        for node_id, data in (("service", SERVICE_DATA), ("signoff", SIGNOFF_DATA)):
            await wait_active(handle, "state", node_id, POLL)
            if not engineer:
                state = await handle.query("state")
                engineer = next(a["assignee"] for a in state["active"] if a["node_id"] == node_id)
            step = StepSubmission(
                node_id=node_id, actor=Actor(user_id=engineer, roles=["engineer"]), data=data
            )
            await timed(self.latencies, "step", handle.execute_update("submit_step", step))
        result = await handle.result()
        assert result["status"] == "completed", result


class BareDriver:
    def __init__(self, client: Client, queue: str) -> None:
        self.client, self.queue, self.latencies = client, queue, {}  # type: ignore[var-annotated]

    async def one(self, i: int, run: str) -> None:
        order_id = f"bare-{run}-{i}"
        start = StartOrderInput(
            order_id=order_id, definition=FIVE_STEPS, context=OrderContext(region="华北")
        )
        handle = await timed(
            self.latencies,
            "start",
            self.client.start_workflow(
                "HandwrittenFiveSteps", start, id=order_id, task_queue=self.queue
            ),
        )
        for node_id, data in (("service", SERVICE_DATA), ("signoff", SIGNOFF_DATA)):
            await wait_active(handle, "state", node_id, POLL)
            step = StepSubmission(
                node_id=node_id, actor=Actor(user_id=ENGINEER, roles=["engineer"]), data=data
            )
            await timed(self.latencies, "step", handle.execute_update("submit_step", step))
        await handle.result()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def prepare_store(tmp: Path) -> str:
    url = f"sqlite:///{tmp / 'servflow.db'}"
    definition = tmp / "five-steps.json"
    definition.write_text(
        json.dumps(FIVE_STEPS.model_dump(mode="json", exclude={"version"}), ensure_ascii=False)
    )
    env = {**os.environ, "SERVFLOW_DATABASE_URL": url}
    subprocess.run(
        [sys.executable, "-m", "servflow_cli", "load-demo"],
        cwd=ROOT,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    subprocess.run(
        [sys.executable, "-m", "servflow_cli", "publish", str(definition)],
        cwd=ROOT,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return url


def snapshot_of(url: str) -> StartOrderInput:
    from api.orders import load_snapshot
    from store.db import make_engine, make_session_factory

    engine = make_engine(url)
    with make_session_factory(engine)() as session:
        definition, subdefinitions = load_snapshot(session, key=FIVE_STEPS.key, version=None)
    engine.dispose()
    return StartOrderInput(order_id="", definition=definition, subdefinitions=subdefinitions)


async def main() -> None:
    from temporalio.contrib.pydantic import pydantic_data_converter

    with tempfile.TemporaryDirectory(prefix="servflow-bench-api-") as tmp_name:
        tmp = Path(tmp_name)
        url = prepare_store(tmp)
        server = DevServer(db_file=tmp / "temporal.db", port=free_port(), ui_port=None)
        processes: list[subprocess.Popen[str]] = []
        with server:
            real_queue, bare_queue, api_port = "bench-real", "bench-bare", free_port()
            env = {
                **os.environ,
                "SERVFLOW_DATABASE_URL": url,
                "SERVFLOW_TEMPORAL_ADDRESS": server.address,
                "SERVFLOW_TASK_QUEUE": real_queue,
                "SERVFLOW_API_PORT": str(api_port),
                "SERVFLOW_JWT_SECRET": uuid.uuid4().hex * 2,
            }
            worker_cmd = [
                sys.executable,
                "-m",
                "bench.api_worker",
                "--real-queue",
                real_queue,
                "--bare-queue",
                bare_queue,
            ]
            processes.append(
                subprocess.Popen(worker_cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
            )
            processes.append(
                subprocess.Popen(
                    [sys.executable, "-m", "api"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL
                )
            )
            try:
                assert (
                    processes[0].stdout is not None
                    and processes[0].stdout.readline().strip() == "worker ready"
                )
                while not port_open("127.0.0.1", api_port):
                    await asyncio.sleep(0.1)
                client = await Client.connect(
                    server.address, data_converter=pydantic_data_converter
                )
                async with httpx.AsyncClient(
                    base_url=f"http://127.0.0.1:{api_port}", timeout=60
                ) as http:
                    api = ApiDriver(http)
                    api.admin = await api.login("hq_admin")
                    drivers = {
                        "api": api,
                        "direct": DirectDriver(client, real_queue, snapshot_of(url)),
                        "bare": BareDriver(client, bare_queue),
                    }
                    rates: dict[str, float] = {}
                    await run_concurrently(10, CONCURRENCY, lambda i: api.one(i, "warm"))  # warm-up
                    api.latencies.clear()
                    for name, driver in drivers.items():
                        seconds = await run_concurrently(
                            ORDERS, CONCURRENCY, lambda i, d=driver, n=name: d.one(i, n)
                        )
                        rates[name] = ORDERS / seconds
                        print(f"{name:7s} {rates[name]:6.1f} pipelines/s", flush=True)
            finally:
                for process in processes:
                    process.terminate()
                    process.wait(30)
    for name, driver in drivers.items():
        lat = driver.latencies
        start, step = lat["start"], lat["step"]
        print(
            f"{name:7s} start p50 {percentile(start, 0.5):6.1f} ms"
            f"  p99 {percentile(start, 0.99):6.1f} ms"
            f"   step p50 {percentile(step, 0.5):6.1f} ms  p99 {percentile(step, 0.99):6.1f} ms"
            f"   (n={len(start)}/{len(step)}, mean step {statistics.mean(step) * 1000:.1f} ms)"
        )
    print(f"({ORDERS} orders per variant, concurrency {CONCURRENCY})")
    print(f"api_vs_direct={rates['api'] / rates['direct']:.3f}")
    print(f"api_vs_bare={rates['api'] / rates['bare']:.3f}")


if __name__ == "__main__":
    asyncio.run(main())
    exit_now()
