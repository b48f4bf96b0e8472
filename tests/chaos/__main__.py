"""`make chaos`: the whole fault list on SQLite and on PostgreSQL, each judged by the
independent checker; exits 1 on any violation.

    python -m tests.chaos [--store sqlite|postgresql|both] [--orders N] [--workers N] [--apis M]

PostgreSQL runs need CHAOS_DATABASE_URL (or SERVFLOW_TEST_DATABASE_URL): a server where the
run may create and drop a schema of its own.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from pathlib import Path

from servflow.platform.shutdown import exit_now
from tests.chaos.run import POSTGRES_FAULTS, SQLITE_FAULTS, run_chaos, summary

# Ports 18100-18199 are this suite's and the bench's: SQLite runs at 18100, PostgreSQL 18120.
BASE_PORTS = {"sqlite": 18100, "postgresql": 18120}


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.chaos")
    parser.add_argument("--store", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--orders", type=int, default=int(os.environ.get("CHAOS_ORDERS", "120")))
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--apis", type=int, default=2)
    parser.add_argument("--no-replay", action="store_true", help="skip replaying histories")
    args = parser.parse_args()
    pg = os.environ.get("CHAOS_DATABASE_URL") or os.environ.get("SERVFLOW_TEST_DATABASE_URL")
    stores = ["sqlite", "postgresql"] if args.store == "both" else [args.store]
    if "postgresql" in stores and not pg:
        print("PostgreSQL run needs CHAOS_DATABASE_URL; skipped", file=sys.stderr)
        stores.remove("postgresql")
        if args.store == "postgresql":
            return 2
    failed = False
    for store in stores:
        with tempfile.TemporaryDirectory(prefix=f"servflow-chaos-{store}-") as tmp:
            result = asyncio.run(
                run_chaos(
                    workdir=Path(tmp),
                    base_port=BASE_PORTS[store],
                    orders=args.orders,
                    concurrency=args.concurrency,
                    workers=args.workers,
                    apis=args.apis,
                    faults=POSTGRES_FAULTS if store == "postgresql" else SQLITE_FAULTS,
                    pg_server=pg if store == "postgresql" else None,
                    replay=not args.no_replay,
                )
            )
        print(summary(result), flush=True)
        failed = failed or bool(result.check.violations)
    print("chaos: FAILED" if failed else "chaos: every check held", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    exit_now(code)
