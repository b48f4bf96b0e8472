"""What the benchmarks share: instant activities, a dev server, order driving, a clean exit."""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from temporalio import activity
from temporalio.client import Client, WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter

from servflow.cli.devserver import DevServer, free_port
from workflows import constants as c
from workflows import trust
from workflows.contracts import StepInput, StepResult, StepSubmission, WaitingStep
from workflows.definition import Definition

FIVE_STEPS = Definition.model_validate(
    {
        "key": "bench-five-steps",
        "name": "five steps",
        "version": 1,
        "start": "report",
        "nodes": [
            {"id": "report", "type": "report", "next": "dispatch"},
            {
                "id": "dispatch",
                "type": "dispatch",
                "next": "service",
                "params": {"skills": ["refrigeration"]},
            },
            {
                "id": "service",
                "type": "service",
                "next": "signoff",
                "assignee": {"kind": "dispatched_engineer"},
                "form": [{"name": "diagnosis", "type": "text"}],
            },
            {
                "id": "signoff",
                "type": "signoff",
                "next": "settlement",
                "assignee": {"kind": "dispatched_engineer"},
                "form": [{"name": "signature", "type": "signature"}],
            },
            {
                "id": "settlement",
                "type": "settlement",
                "next": "end",
                "params": {"milestone": "completion"},
            },
            {"id": "end", "type": "end"},
        ],
    }
)
ENGINEER = "engineer_bench"
# The actor key of the bench's workers and clients: submissions are proven as the API proves
# them (the interpreter refuses unproven steps), so the bench measures that check too.
BENCH_ACTOR_KEY = "bench-actor-key-" + "0123456789abcdef" * 3


def proven(order_id: str, step: StepSubmission) -> StepSubmission:
    """`step` signed with the bench's actor key, as the API signs a submission."""
    return trust.prove(BENCH_ACTOR_KEY, order_id, step, datetime.now(UTC))


SERVICE_DATA = {"diagnosis": "ok"}
SIGNOFF_DATA = {"signature": "file-1"}


@activity.defn(name=c.ACTIVITY_REPORT)
async def report(step: StepInput) -> StepResult:
    return StepResult(output={"order_no": step.order_id, "customer_id": "c", "fault": ""})


@activity.defn(name=c.ACTIVITY_DISPATCH)
async def dispatch(step: StepInput) -> StepResult:
    return StepResult(
        output={
            "engineer_id": "e",
            "engineer_user_id": ENGINEER,
            "outlet_id": "o",
            "distance_km": "1",
            "reason": "bench",
        }
    )


@activity.defn(name=c.ACTIVITY_SETTLEMENT)
async def settlement(step: StepInput) -> StepResult:
    return StepResult(
        output={
            "amount": "100.00",
            "currency": "CNY",
            "milestone": "completion",
            "share": "1",
            "payouts": [],
        }
    )


@activity.defn(name=c.ACTIVITY_NOTIFY)
async def notify(step: StepInput) -> StepResult:
    return StepResult(output={"notification_id": step.idempotency_key})


@activity.defn(name=c.ACTIVITY_CLOSE_ORDER)
async def close_order(step: StepInput) -> StepResult:
    return StepResult()


@activity.defn(name=c.ACTIVITY_RECORD_WAITING)
async def record_waiting(step: WaitingStep) -> None:
    return None


INSTANT_ACTIVITIES = [report, dispatch, settlement, notify, close_order, record_waiting]


@asynccontextmanager
async def dev_server() -> AsyncIterator[Client]:
    """A dev server on a fresh SQLite file with the WAL pragmas `make run` uses."""
    with tempfile.TemporaryDirectory(prefix="servflow-bench-") as tmp:
        server = DevServer(db_file=Path(tmp) / "temporal.db", port=free_port(), ui_port=None)
        with server:
            yield await Client.connect(server.address, data_converter=pydantic_data_converter)


async def wait_active(
    handle: WorkflowHandle[Any, Any],
    query: str,
    node_id: str,
    pause: float = 0.02,
    timings: list[float] | None = None,
) -> Any:
    """Poll the order's state query until `node_id` waits for input; returns that state.
    `timings` collects the seconds each query took."""
    while True:
        started = time.perf_counter()
        state = await handle.query(query)
        if timings is not None:
            timings.append(time.perf_counter() - started)
        active = state["active"] if isinstance(state, dict) else state.active
        if any((a["node_id"] if isinstance(a, dict) else a.node_id) == node_id for a in active):
            return state
        await asyncio.sleep(pause)


async def run_concurrently(
    count: int, concurrency: int, one: Callable[[int], Awaitable[None]]
) -> float:
    """Run `one(i)` for i < count, at most `concurrency` at a time; returns seconds taken."""
    gate = asyncio.Semaphore(concurrency)

    async def limited(i: int) -> None:
        async with gate:
            await one(i)

    started = time.perf_counter()
    await asyncio.gather(*(limited(i) for i in range(count)))
    return time.perf_counter() - started


# The bench's ports (the range 18100-18199 is the fault suite's and the bench's): Temporal
# at BENCH_PORTS (+1 HTTP, +2 metrics), the API at +4; a PostgreSQL run at +10.
BENCH_PORTS = 18150


class PinnedDevServer(DevServer):
    """A headless dev server with its HTTP and metrics ports pinned too (by default they
    are random free ports, possibly outside the range a run may use)."""

    def __init__(self, *, db_file: Path, port: int, log_file: Path | None = None) -> None:
        super().__init__(db_file=db_file, port=port, ui_port=None, log_file=log_file)

    def command(self) -> list[str]:
        pinned = ["--http-port", str(self.port + 1), "--metrics-port", str(self.port + 2)]
        return [*super().command(), *pinned]
