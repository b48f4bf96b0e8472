"""Long polls on PostgreSQL: the timer tick alone vs LISTEN/NOTIFY, side by side.

This process is the API replica: `BENCH_WATCH_ORDERS` long polls (`StepWatch.wait`, one per
order, all in flight at once). Another process is the worker: it makes each order's step
wait (`servflow.orders.steps.record_waiting`, which sends the NOTIFY) at `BENCH_WATCH_RATE`
orders per second. Variants, one after the other on one fresh schema:
  tick    no listener: the watch reads the store every 50 ms (the code before NOTIFY);
  notify  one LISTEN connection wakes the watch; the tick is the 5 s fallback.
Prints this process's CPU per answered long poll (the API's cost of the long polls, threads
and listener included) and the wake latency (the writer's commit returned to the waiter
answered, p50/p99; negative when the waiter is answered before the writer's commit call has
returned), then `watch_notify_cpu_ratio=` (notify / tick). Needs BENCH_DATABASE_URL.

    BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test \\
        .venv/bin/python -m bench.watch_notify
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.schema import CreateSchema, DropSchema

from servflow.orders.models import WorkOrder
from servflow.orders.notify_pg import Listener
from servflow.orders.watch import StepWatch
from servflow.platform.db import make_engine, make_session_factory

ORDERS = int(os.environ.get("BENCH_WATCH_ORDERS", "200"))
RATE = float(os.environ.get("BENCH_WATCH_RATE", "40"))
ROOT = Path(__file__).resolve().parents[1]


@contextmanager
def fresh_schema(server: str) -> Iterator[str]:
    from servflow.tables import metadata

    schema, admin = f"bench_watch_{uuid.uuid4().hex[:10]}", make_engine(server)
    with admin.begin() as connection:
        connection.execute(CreateSchema(schema))
    url = make_url(server).update_query_dict({"options": f"-csearch_path={schema}"})
    rendered = url.render_as_string(hide_password=False)
    engine = make_engine(rendered)
    metadata.create_all(engine)
    engine.dispose()
    try:
        yield rendered
    finally:
        with admin.begin() as connection:
            connection.execute(DropSchema(schema, cascade=True))
        admin.dispose()


def add_orders(factory: sessionmaker[Session], prefix: str) -> list[str]:
    now = datetime.now(UTC)
    ids = [f"{prefix}-{i}" for i in range(ORDERS)]
    with factory() as session:
        for order_id in ids:
            session.add(
                WorkOrder(order_id=order_id, status="dispatched", created_at=now, updated_at=now)
            )
        session.commit()
    return ids


def write(url: str, prefix: str) -> None:
    """The worker's side: each order's step starts waiting, RATE orders per second."""
    from servflow.orders import steps
    from workflows.contracts import WaitingStep

    factory = make_session_factory(make_engine(url))
    start = time.monotonic()
    for i in range(ORDERS):
        delay = start + i / RATE - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        step = WaitingStep(
            order_id=f"{prefix}-{i}",
            node_id="service",
            node_type="service",
            visit=1,
            assignee="engineer_bj_01",
            since=datetime.now(UTC),
            status="dispatched",
        )
        steps.record_waiting(factory, step, partial(_at, step.since))
        print(step.order_id, time.time(), flush=True)  # committed (and notified) by now


def _at(moment: datetime) -> datetime:
    return moment


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def variant(url: str, name: str) -> tuple[float, list[float]]:
    factory = make_session_factory(make_engine(url))
    prefix = f"{name}-{uuid.uuid4().hex[:6]}"
    ids = add_orders(factory, prefix)
    watch = StepWatch(factory)
    listener = None
    if name == "notify":
        listener = Listener(url, watch.wake, watch.listener_up)
        listener.start()
        await listener.connected.wait()
    answered: dict[str, float] = {}

    async def poll(order_id: str) -> None:
        seen = await watch.wait(order_id, node_id="service", timeout=120)
        answered[order_id] = time.time()
        assert seen is not None and seen.steps, order_id

    cpu = time.process_time()
    polls = [asyncio.create_task(poll(order_id)) for order_id in ids]
    writer = subprocess.Popen(
        [sys.executable, "-m", "bench.watch_notify", "--write", url, prefix],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    await asyncio.gather(*polls)
    cpu = time.process_time() - cpu
    out, _ = await asyncio.to_thread(writer.communicate)
    committed = {o: float(t) for o, t in (line.split() for line in out.splitlines())}
    latencies = [answered[o] - committed[o] for o in ids]
    if listener is not None:
        await listener.stop()
    factory.kw["bind"].dispose()
    return cpu * 1000 / ORDERS, latencies


async def main() -> None:
    server = os.environ.get("BENCH_DATABASE_URL")
    if not server:
        print("(no BENCH_DATABASE_URL: the long-poll figures are PostgreSQL's, skipped)")
        return
    cpu: dict[str, float] = {}
    with fresh_schema(server) as url:
        for name in ("tick", "notify"):
            cpu[name], latencies = await variant(url, name)
            print(
                f"{name:6s} api cpu ms/long poll {cpu[name]:6.2f}"
                f"   wake p50 {percentile(latencies, 0.5):6.1f} ms"
                f"  p99 {percentile(latencies, 0.99):6.1f} ms",
                flush=True,
            )
            print(f"watch_cpu_ms_per_poll_{name}={cpu[name]:.2f}")
            print(f"watch_wake_p50_ms_{name}={percentile(latencies, 0.5):.1f}")
            print(f"watch_wake_p99_ms_{name}={percentile(latencies, 0.99):.1f}")
    print(f"({ORDERS} long polls in flight at once, steps made waiting at {RATE:g}/s)")
    print(f"watch_notify_cpu_ratio={cpu['notify'] / cpu['tick']:.3f}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--write"]:
        write(sys.argv[2], sys.argv[3])
    else:
        asyncio.run(main())
