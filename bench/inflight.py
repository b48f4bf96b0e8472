"""Step latency as orders in flight grow, on PostgreSQL: the API bench's client (start, long
poll, two step submissions, outcome) at 10, 40 and 150 orders in flight.

Prints `step_p99_ms_pg_<n>=` (and p50, rate) per level. Needs BENCH_DATABASE_URL (a
PostgreSQL server; a fresh schema per run); without it, says so and does nothing. Sizes:
BENCH_INFLIGHT (default "10,40,150"), BENCH_INFLIGHT_ROUNDS orders per level as a multiple
of the level (default 2). The demo's engineers get room for every order in flight
(max_load), so dispatch never runs out of engineers.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from contextlib import ExitStack
from pathlib import Path

import httpx

from bench.api import ApiDriver, one_of, percentile, platform, prepare_store, store_url
from bench.support import BENCH_PORTS, run_concurrently
from servflow.platform.shutdown import exit_now

LEVELS = [int(n) for n in os.environ.get("BENCH_INFLIGHT", "10,40,150").split(",")]
ROUNDS = int(os.environ.get("BENCH_INFLIGHT_ROUNDS", "2"))


async def main() -> None:
    server = os.environ.get("BENCH_DATABASE_URL")
    if not server:
        print("(no BENCH_DATABASE_URL: the in-flight figures are PostgreSQL's; skipped)")
        return
    with (
        tempfile.TemporaryDirectory(prefix="servflow-bench-inflight-") as tmp_name,
        ExitStack() as stack,
    ):
        tmp = Path(tmp_name)
        url = prepare_store(stack.enter_context(store_url(tmp, server)), tmp, max_load=1000)
        async with (
            platform(tmp, url, BENCH_PORTS + 20) as (_client, base, _pids, _queues),
            httpx.AsyncClient(base_url=base, timeout=120) as http,
        ):
            api = ApiDriver(http)
            api.admin = await api.login("hq_admin")
            await run_concurrently(10, 10, lambda i: api.one(i, "warm"))
            for level in LEVELS:
                api.latencies.clear()
                count = level * ROUNDS
                seconds = await run_concurrently(count, level, one_of(api, f"inflight{level}"))
                steps = api.latencies["step"]
                print(
                    f"{level:4d} in flight: {count / seconds:5.1f} orders/s,"
                    f" step p50 {percentile(steps, 0.5):7.1f} ms"
                    f" p99 {percentile(steps, 0.99):7.1f} ms",
                    flush=True,
                )
                print(f"step_p99_ms_pg_{level}={percentile(steps, 0.99):.0f}", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
    exit_now()
