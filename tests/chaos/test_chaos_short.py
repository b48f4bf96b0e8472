"""The fault suite's short form, in the normal test run: the platform as separate
processes (dev server, worker, API), a handful of demo orders driven over HTTP while the
worker and the API are SIGKILLed (and, on PostgreSQL, the services' database connections
terminated), then the independent checker: every order completed once, every settlement
and payout once, money equal to the checker's own recomputation, engineer loads back to
baseline, every history replays. `make chaos` runs the whole fault list at size."""

from __future__ import annotations

import os
from pathlib import Path

from tests.chaos.run import SHORT_FAULTS, SHORT_PG_FAULTS, run_chaos, summary

# The short form's ports (inside the suite's range 18100-18199; `make chaos` uses 18100+).
SHORT_BASE_PORT = 18140


async def test_orders_survive_worker_and_api_kills(tmp_path: Path) -> None:
    pg = os.environ.get("SERVFLOW_TEST_DATABASE_URL")
    result = await run_chaos(
        workdir=tmp_path,
        base_port=SHORT_BASE_PORT,
        orders=4,
        concurrency=4,
        workers=1,
        apis=1,
        faults=SHORT_PG_FAULTS if pg else SHORT_FAULTS,
        pg_server=pg,
        say=lambda _line: None,
        deadline_seconds=120,
        load_in_process=True,
    )
    assert result.check.violations == [], summary(result)
    # The faults happened while orders ran: the clients had to retry something.
    assert result.driver.retries, summary(result)
