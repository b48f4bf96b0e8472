"""The five-step pipeline through the HTTP API vs the engine's limit, side by side.

Variants, one after the other in one run on one dev server, one worker process and one API
process (`python -m api`, as in production):
  api     POST /api/orders, one long poll GET /api/orders/{id}/waiting?node_id=service
          (answered from the read model: no question to the workflow) until the first step
          waits, two POST .../steps/{node} (each answer shows the next step), then one long
          poll GET .../outcome?wait=30 until the order closes;
  direct  the same published pipeline started and advanced with the Temporal client
          (state query polls every BENCH_POLL s, the Update's answer, the result);
  limit   the hand-written five-step workflow (bench.handwritten) with instant activities,
          driven without any polling: start, two Updates sent at once (each waits in the
          workflow until its step is reached), the result. What the engine can do for this
          pipeline on this machine: `api_vs_limit` divides by it.
`api` and `direct` run the real activities on the store with the demo data. Prints rates,
p50/p99 latency of start and step submission, CPU per order of every process (read from
/proc before and after each variant), `api_vs_limit=`, `api_vs_direct=` and
`cpu_ms_per_order=`; with BENCH_DATABASE_URL the same again on PostgreSQL (`_pg` names).
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import ExitStack, asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from temporalio.client import Client

from bench.support import (
    BENCH_ACTOR_KEY,
    BENCH_PORTS,
    ENGINEER,
    FIVE_STEPS,
    SERVICE_DATA,
    SIGNOFF_DATA,
    PinnedDevServer,
    proven,
    run_concurrently,
    wait_active,
)
from servflow.cli.devserver import port_open
from servflow.platform.shutdown import exit_now
from workflows.contracts import (
    ActiveNode,
    Actor,
    OrderContext,
    StartOrderInput,
    StepAccepted,
    StepSubmission,
)

ORDERS = int(os.environ.get("BENCH_ORDERS", "120"))
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "16"))
# Every variant waits for the next step the same way: look every POLL seconds (a field app
# refreshing; polling much faster mostly measures the polling).
POLL = float(os.environ.get("BENCH_POLL", "0.1"))
# BENCH_VARIANTS=api runs one variant alone (to profile it); the ratios need all three.
# BENCH_DATABASE_URL=postgresql+psycopg://... runs the store on PostgreSQL (a new schema).
VARIANTS = os.environ.get("BENCH_VARIANTS", "api,direct,limit").split(",")
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
        self.retried = 0

    async def login(self, username: str) -> dict[str, str]:
        if username not in self.tokens:
            response = await self.http.post(
                "/api/auth/login", json={"username": username, "password": "demo1234"}
            )
            response.raise_for_status()
            self.tokens[username] = {"Authorization": f"Bearer {response.json()['access_token']}"}
        return dict(self.tokens[username])

    async def wait_for_step(self, order_id: str, node_id: str) -> dict[str, Any]:
        """One long poll (repeated only if it runs out) until `node_id` waits."""
        while True:
            response = await timed(
                self.latencies,
                "poll",
                self.http.get(
                    f"/api/orders/{order_id}/waiting",
                    params={"node_id": node_id, "wait": 30},
                    headers=self.admin,
                ),
            )
            response.raise_for_status()
            for step in response.json()["steps"]:
                if step["node_id"] == node_id:
                    return dict(step)

    async def one(self, i: int, run: str) -> None:
        body = {"definition_key": FIVE_STEPS.key, "variables": {}, "customer": customer(i)}
        headers = {"X-API-Key": API_KEY, "Idempotency-Key": f"{run}-{i}"}
        response = await timed(
            self.latencies, "start", self.http.post("/api/orders", json=body, headers=headers)
        )
        assert response.status_code in (200, 201), response.text
        order_id = response.json()["order_id"]
        engineer, active = "", list[dict[str, Any]]()
        for node_id, data in (("service", SERVICE_DATA), ("signoff", SIGNOFF_DATA)):
            # The previous step's answer shows the next one when it waits already.
            if not any(a["node_id"] == node_id for a in active):
                active = [await self.wait_for_step(order_id, node_id)]
            engineer = engineer or next(a["assignee"] for a in active if a["node_id"] == node_id)
            headers = {**await self.login(engineer), "Idempotency-Key": f"{order_id}-{node_id}"}
            while True:  # a 504 (not taken in time, under overload) is retried with the key
                step = self.http.post(
                    f"/api/orders/{order_id}/steps/{node_id}", json={"data": data}, headers=headers
                )
                response = await timed(self.latencies, "step", step)
                if response.status_code != 504:
                    break
                self.retried += 1
            assert response.status_code == 200, response.text
            active = response.json()["active"]
        while True:  # one long poll, repeated only if an order takes longer than `wait`
            response = await self.http.get(
                f"/api/orders/{order_id}/outcome", params={"wait": 30}, headers=headers
            )
            response.raise_for_status()
            if response.json()["closed"]:
                assert response.json()["status"] == "completed", response.text
                return


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
        engineer, active = "", list[ActiveNode]()
        for node_id, data in (("service", SERVICE_DATA), ("signoff", SIGNOFF_DATA)):
            if not any(a.node_id == node_id for a in active):
                state = await wait_active(
                    handle, "state", node_id, POLL, self.latencies.setdefault("poll", [])
                )
                active = [ActiveNode.model_validate(a) for a in state["active"]]
            engineer = engineer or next(a.assignee for a in active if a.node_id == node_id)
            step = StepSubmission(
                node_id=node_id, actor=Actor(user_id=engineer, roles=["engineer"]), data=data
            )
            accepted = await timed(
                self.latencies,
                "step",
                handle.execute_update(
                    "submit_step", proven(order_id, step), result_type=StepAccepted
                ),
            )
            active = accepted.active
        result = await handle.result()
        assert result["status"] == "completed", result


class LimitDriver:
    """The limit: the hand-written workflow with instant activities, driven without any
    polling (each step is sent at once; its Update waits until the step is reached)."""

    def __init__(self, client: Client, queue: str) -> None:
        self.client, self.queue, self.latencies = client, queue, {}  # type: ignore[var-annotated]

    async def one(self, i: int, run: str) -> None:
        order_id = f"limit-{run}-{i}"
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
        self.latencies.setdefault("poll", [])
        for node_id, data in (("service", SERVICE_DATA), ("signoff", SIGNOFF_DATA)):
            step = StepSubmission(
                node_id=node_id, actor=Actor(user_id=ENGINEER, roles=["engineer"]), data=data
            )
            await timed(
                self.latencies,
                "step",
                handle.execute_update("submit_step", step, result_type=StepAccepted),
            )
        await handle.result()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_snapshot(pids: dict[str, int]) -> dict[str, float]:
    return {name: cpu_seconds(pid) for name, pid in pids.items()}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


@contextmanager
def store_url(tmp: Path, server: str | None) -> Iterator[str]:
    """A fresh store: a SQLite file, or on the PostgreSQL `server` a new schema there,
    dropped afterwards."""
    if not server:
        yield f"sqlite:///{tmp / 'servflow.db'}"
        return
    from sqlalchemy.engine import make_url
    from sqlalchemy.schema import CreateSchema, DropSchema

    from servflow.platform.db import make_engine

    schema, admin = f"bench_{uuid.uuid4().hex[:12]}", make_engine(server)
    with admin.begin() as connection:
        connection.execute(CreateSchema(schema))
    try:
        url = make_url(server).update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.execute(DropSchema(schema, cascade=True))
        admin.dispose()


def prepare_store(url: str, tmp: Path, *, max_load: int = 0) -> str:
    """Demo data and the five-step pipeline in the store at `url`; `max_load` > 0 lets every
    engineer take that many orders (a run with more orders in flight than the demo's
    engineers have slots)."""
    definition = tmp / "five-steps.json"
    definition.write_text(
        json.dumps(FIVE_STEPS.model_dump(mode="json", exclude={"version"}), ensure_ascii=False)
    )
    env = {**os.environ, "SERVFLOW_DATABASE_URL": url}
    subprocess.run(
        [sys.executable, "-m", "servflow.cli", "load-demo"],
        cwd=ROOT,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    subprocess.run(
        [sys.executable, "-m", "servflow.cli", "publish", str(definition)],
        cwd=ROOT,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    if max_load:
        from sqlalchemy import update

        from servflow.dispatch.models import Engineer
        from servflow.platform.db import make_engine

        engine = make_engine(url)
        with engine.begin() as connection:
            connection.execute(update(Engineer).values(max_load=max_load))
        engine.dispose()
    return url


def snapshot_of(url: str) -> StartOrderInput:
    from servflow.definitions.service import load_snapshot
    from servflow.platform.db import make_engine, make_session_factory

    engine = make_engine(url)
    with make_session_factory(engine)() as session:
        definition, subdefinitions = load_snapshot(session, key=FIVE_STEPS.key, version=None)
    engine.dispose()
    return StartOrderInput(order_id="", definition=definition, subdefinitions=subdefinitions)


@dataclass
class Measured:
    rates: dict[str, float] = field(default_factory=dict)
    cpu: dict[str, dict[str, float]] = field(default_factory=dict)
    """variant -> process -> CPU ms per order"""
    latencies: dict[str, Latencies] = field(default_factory=dict)


@asynccontextmanager
async def platform(
    tmp: Path, url: str, ports: int
) -> AsyncIterator[tuple[Client, str, dict[str, int], dict[str, str]]]:
    """Dev server, bench worker (real and limit queues) and the API as separate processes:
    yields the client, the API's base URL, their pids and the queues."""
    from servflow.platform.settings import Settings
    from servflow.platform.temporal import connect

    server = PinnedDevServer(db_file=tmp / "temporal.db", port=ports)
    queues, api_port = {"real": "bench-real", "limit": "bench-limit"}, ports + 4
    env = {
        **os.environ,
        "SERVFLOW_DATABASE_URL": url,
        "SERVFLOW_TEMPORAL_ADDRESS": server.address,
        "SERVFLOW_TASK_QUEUE": queues["real"],
        "SERVFLOW_API_PORT": str(api_port),
        "SERVFLOW_JWT_SECRET": uuid.uuid4().hex * 2,
        "SERVFLOW_ACTOR_KEY": BENCH_ACTOR_KEY,
        # The bench logs in as the demo's users.
        "SERVFLOW_DEMO": "1",
        "SERVFLOW_PAYLOAD_KEY": base64.b64encode(os.urandom(32)).decode(),
    }
    worker_cmd = [sys.executable, "-m", "bench.api_worker", "--real-queue", queues["real"]]
    worker_cmd += ["--bare-queue", queues["limit"]]
    processes: list[subprocess.Popen[Any]] = []
    with server:
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
            # Encrypting as the worker and the API do: the direct driver pays the same codec
            # cost and reads their payloads.
            client = await connect(
                Settings(temporal_address=server.address, payload_key=env["SERVFLOW_PAYLOAD_KEY"])
            )
            assert server.process is not None
            pids = {
                "server": server.process.pid,
                "worker": processes[0].pid,
                "api": processes[1].pid,
                "client": os.getpid(),
            }
            yield client, f"http://127.0.0.1:{api_port}", pids, queues
        finally:
            for process in processes:
                process.terminate()
                process.wait(30)


def one_of(driver: Any, name: str) -> Callable[[int], Awaitable[None]]:
    return lambda i: driver.one(i, name)  # type: ignore[no-any-return]


async def measure(pg_server: str | None, ports: int) -> Measured:
    """Every variant in turn on one platform (same processes, same store)."""
    measured = Measured()
    with (
        tempfile.TemporaryDirectory(prefix="servflow-bench-api-") as tmp_name,
        ExitStack() as stack,
    ):
        tmp = Path(tmp_name)
        url = prepare_store(stack.enter_context(store_url(tmp, pg_server)), tmp)
        async with (
            platform(tmp, url, ports) as (client, base, pids, queues),
            httpx.AsyncClient(base_url=base, timeout=60) as http,
        ):
            api = ApiDriver(http)
            api.admin = await api.login("hq_admin")
            drivers: dict[str, Any] = {
                "api": api,
                "direct": DirectDriver(client, queues["real"], snapshot_of(url)),
                "limit": LimitDriver(client, queues["limit"]),
            }
            if "api" in VARIANTS:  # warm-up: the API's first requests load its code
                await run_concurrently(10, CONCURRENCY, lambda i: api.one(i, "warm"))
            api.latencies.clear()
            for name, driver in drivers.items():
                if name not in VARIANTS:
                    continue
                before = cpu_snapshot(pids)
                seconds = await run_concurrently(ORDERS, CONCURRENCY, one_of(driver, name))
                after = cpu_snapshot(pids)
                measured.rates[name] = ORDERS / seconds
                measured.cpu[name] = {p: (after[p] - before[p]) / ORDERS * 1000 for p in pids}
                measured.latencies[name] = driver.latencies
                cpu = "  ".join(f"{p} {ms:5.1f}" for p, ms in measured.cpu[name].items())
                print(
                    f"{name:7s} {measured.rates[name]:6.1f} pipelines/s   cpu ms/pipeline: {cpu}",
                    flush=True,
                )
    return measured


def report(measured: Measured, suffix: str, store: str) -> None:
    for name, lat in measured.latencies.items():
        start, step = lat["start"], lat["step"]
        polls = f"   ({len(lat['poll']) / len(start):.1f} polls/pipeline)" if lat["poll"] else ""
        print(
            f"{name:7s} start p50 {percentile(start, 0.5):6.1f} ms"
            f"  p99 {percentile(start, 0.99):6.1f} ms"
            f"   step p50 {percentile(step, 0.5):6.1f} ms  p99 {percentile(step, 0.99):6.1f} ms"
            f"   mean step {statistics.mean(step) * 1000:.1f} ms{polls}"
        )
    print(f"({ORDERS} orders per variant, concurrency {CONCURRENCY}, store on {store})")
    rates, cpu = measured.rates, measured.cpu
    if {"api", "limit"} <= rates.keys():
        print(f"api_vs_limit{suffix}={rates['api'] / rates['limit']:.3f}")
    if {"api", "direct"} <= rates.keys():
        print(f"api_vs_direct{suffix}={rates['api'] / rates['direct']:.3f}")
    for name in ("api", "limit"):
        if name in cpu:
            label = "" if name == "api" else "limit_"
            print(f"{label}cpu_ms_per_order{suffix}={sum(cpu[name].values()):.1f}")
            for process, ms in cpu[name].items():
                print(f"{label}cpu_ms_per_order{suffix}_{process}={ms:.1f}")


async def main() -> None:
    # BENCH_STORES=sqlite,postgresql: PostgreSQL runs when BENCH_DATABASE_URL names a server.
    pg_server = os.environ.get("BENCH_DATABASE_URL")
    stores = os.environ.get("BENCH_STORES", "sqlite,postgresql").split(",")
    if "sqlite" in stores:
        report(await measure(None, BENCH_PORTS), "", "SQLite")
    if "postgresql" in stores and pg_server:
        report(await measure(pg_server, BENCH_PORTS + 10), "_pg", "PostgreSQL")
    elif "postgresql" in stores:
        print("(no BENCH_DATABASE_URL: the PostgreSQL figures are skipped)")


if __name__ == "__main__":
    asyncio.run(main())
    exit_now()
