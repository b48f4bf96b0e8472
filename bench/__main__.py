"""`make bench`: every benchmark in turn; each prints its ratios (see README)."""

from __future__ import annotations

import subprocess
import sys

BENCHES = ["bench.expressions", "bench.pipeline", "bench.api", "bench.many_open"]
BENCHES.append("bench.inflight")  # step p99 at 10/40/150 in flight (PostgreSQL)
BENCHES.append("bench.dashboard")  # dashboards from counters vs scanning the orders
BENCHES.append("bench.reporting_hook")  # CPU the reporting hook adds to an order write
BENCHES.append("bench.dispatch")  # one dispatch decision: spatial index vs numpy scan
BENCHES.append("bench.channels")  # Douyin intake per s, outbox delivery p99 (fake WeCom)
BENCHES.append("bench.money")  # the monthly settlement run vs one SQL aggregate; ledger verify
BENCHES.append("bench.sla")  # 500 simultaneous SLA breaches: deadline to API list, p99
BENCHES.append("bench.inventory")  # reservations/s on a hot row (PG), sourcing p99, forecast
BENCHES.append("bench.watch_notify")  # long polls on PG: timer tick vs LISTEN/NOTIFY


def main() -> int:
    names = sys.argv[1:] or BENCHES
    for name in names:
        print(f"== {name}", flush=True)
        if subprocess.call([sys.executable, "-m", name]) != 0:
            print(f"{name} failed", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
