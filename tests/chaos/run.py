"""One fault run: start the cluster, drive orders over HTTP while a script of faults plays,
then let the independent checker judge. `python -m tests.chaos --help`."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from tests.chaos.checker import Checker, CheckReport, engineer_loads
from tests.chaos.cluster import Cluster, Ports
from tests.chaos.driver import DriverReport, drive, plan

Say = Callable[[str], None]


@dataclass
class Fault:
    """One scripted fault: `at` seconds after the orders start, `name` happens."""

    at: float
    name: str
    seconds: float = 0


# The whole fault list of issue 10, spread over a run of a minute or so.
SQLITE_FAULTS = [
    Fault(3, "kill_worker"),
    Fault(8, "kill_api"),
    Fault(12, "sqlite_write_lock", 10),
    Fault(26, "kill_temporal", 15),
    Fault(45, "kill_worker"),
    Fault(48, "kill_api"),
    Fault(52, "kill_worker"),
]
POSTGRES_FAULTS = [
    Fault(3, "kill_worker"),
    Fault(6, "pg_terminate"),
    Fault(9, "kill_api"),
    Fault(12, "pg_terminate"),
    Fault(15, "pg_refuse", 11),
    Fault(30, "kill_temporal", 15),
    Fault(48, "pg_terminate"),
    Fault(50, "kill_worker"),
    Fault(53, "kill_api"),
    Fault(56, "pg_terminate"),
]
SHORT_FAULTS = [Fault(1, "kill_worker"), Fault(2.5, "kill_api")]
SHORT_PG_FAULTS = [Fault(1, "kill_worker"), Fault(2, "pg_terminate"), Fault(2.5, "kill_api")]


@dataclass
class RunResult:
    store: str
    driver: DriverReport
    check: CheckReport
    log: list[str] = field(default_factory=list)
    seconds: float = 0


async def _play(cluster: Cluster, faults: list[Fault], say: Say, done: asyncio.Event) -> None:
    started = time.monotonic()
    for turn, fault in enumerate(faults):
        delay = fault.at - (time.monotonic() - started)
        if delay > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), delay)
        elapsed = time.monotonic() - started
        lasting = f" {fault.seconds}s" if fault.seconds else ""
        say(f"  t={elapsed:5.1f}s fault {fault.name}{lasting}")
        await _one_fault(cluster, fault, turn)


async def _one_fault(cluster: Cluster, fault: Fault, turn: int) -> None:
    run = asyncio.to_thread
    if fault.name == "kill_worker":
        i = turn % cluster.workers
        cluster.kill_worker(i)
        await asyncio.sleep(1)
        cluster.start_worker(i)
    elif fault.name == "kill_api":
        i = turn % cluster.apis
        cluster.kill_api(i)
        await asyncio.sleep(0.5)
        cluster.start_api(i)
    elif fault.name == "kill_temporal":
        await run(cluster.kill_temporal)
        await asyncio.sleep(fault.seconds)
        await run(cluster.start_temporal)
    elif fault.name == "sqlite_write_lock":
        await run(cluster.lock_sqlite, fault.seconds)
    elif fault.name == "pg_terminate":
        await run(cluster.terminate_backends)
    elif fault.name == "pg_refuse":
        assert cluster.proxy is not None
        await run(cluster.proxy.refuse)
        await asyncio.sleep(fault.seconds)
        await run(cluster.proxy.accept)
    else:
        raise ValueError(f"unknown fault {fault.name}")


async def run_chaos(
    *,
    workdir: Path,
    base_port: int,
    orders: int,
    concurrency: int,
    workers: int,
    apis: int,
    faults: list[Fault],
    pg_server: str | None = None,
    replay: bool = True,
    say: Say = print,
    deadline_seconds: float = 300,
    load_in_process: bool = False,
) -> RunResult:
    from servflow.platform.settings import Settings
    from servflow.platform.temporal import connect
    from workflows.registry import WORKFLOWS

    store = "postgresql" if pg_server else "sqlite"
    cluster = Cluster(
        workdir=workdir,
        ports=Ports(base_port),
        workers=workers,
        apis=apis,
        pg_server=pg_server,
        load_in_process=load_in_process,
    )
    started = time.monotonic()
    log: list[str] = []

    def note(line: str) -> None:
        log.append(line)
        say(line)

    try:
        await asyncio.to_thread(cluster.start)
        note(f"{store}: {workers} worker(s), {apis} API replica(s), {orders} orders")
        baseline = engineer_loads(cluster.store_url(direct=True))
        planned = plan(cluster.run_id, orders)
        done = asyncio.Event()
        script = asyncio.create_task(_play(cluster, faults, note, done))
        report = await drive(
            cluster.api_urls(),
            planned,
            concurrency=concurrency,
            spread_seconds=max((f.at for f in faults), default=0) + 2,
            deadline_seconds=deadline_seconds,
        )
        done.set()
        await script
        # Every fault has healed: the platform gets a moment to finish what it owes.
        client = await connect(
            Settings(temporal_address=f"127.0.0.1:{base_port}", payload_key=cluster.payload_key)
        )
        checker = Checker(cluster.store_url(direct=True), client, list(WORKFLOWS))
        check = await checker.check(planned, report, baseline, replay=replay)
        if check.violations:
            await asyncio.sleep(5)  # a last write in flight (a close) gets its chance
            check = await checker.check(planned, report, baseline, replay=replay)
        if check.violations:
            for name in ("worker0", "api0"):
                note(f"--- tail of {name}.log")
                path = workdir / f"{name}.log"
                if path.exists():
                    for line in path.read_text(errors="replace").splitlines()[-15:]:
                        note(line[:300])
    finally:
        await asyncio.to_thread(cluster.stop)
    return RunResult(
        store=store, driver=report, check=check, log=log, seconds=time.monotonic() - started
    )


def summary(result: RunResult) -> str:
    lines = [f"== {result.store} ({result.seconds:.0f} s)", result.check.table()]
    if result.driver.retries:
        retried = ", ".join(f"{k} x{n}" for k, n in sorted(result.driver.retries.items()))
        lines.append(f"client retries: {retried}")
    for key, why in sorted(result.driver.gave_up.items())[:10]:
        lines.append(f"gave up {key}: {why}")
    lines += [f"VIOLATION {v}" for v in result.check.violations[:20]]
    return "\n".join(lines)


Check = Callable[[], Awaitable[RunResult]]
