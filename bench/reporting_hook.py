"""What the reporting hook adds to each order write: CPU ms of `reporting.order_moved` (the
call `servflow.orders.steps` makes in every write's transaction) against the same write's
transaction without it (an order row update and commit), side by side in one run.

BENCH_HOOK_ORDERS orders (default 300) each move report → dispatched → in_progress →
completed (four writes, the last with five finished steps and a settlement). Prints
hook_cpu_ms_per_write, write_cpu_ms_per_write (the transaction without the hook) and
hook_vs_write.
"""

from __future__ import annotations

import os
import tempfile
import time
from datetime import timedelta
from typing import Any, cast

from sqlalchemy import Table, insert, update
from sqlalchemy.orm import Session

from bench.dashboard import END, NODES, build_org
from servflow import tables
from servflow.orders.models import WorkOrder
from servflow.platform.db import make_engine, make_session_factory
from servflow.reporting import rules
from servflow.reporting import service as reporting

MOVES = ("running", "dispatched", "in_progress", "completed")


def _steps(i: int, upto: int) -> list[rules.StepView]:
    t = END - timedelta(days=i % 60)
    out = []
    for n, (node, node_type) in enumerate(NODES[: upto + 1]):
        done = t + timedelta(minutes=30 + n) if n < upto or upto == len(NODES) - 1 else None
        data = {"rating": "5"} if node_type == "signoff" else {}
        deadline = t + timedelta(hours=4) if node_type == "service" else None
        out.append(rules.StepView(node, node_type, 1, t, done, deadline, "done", data))
        t += timedelta(minutes=31)
    return out


def main() -> None:
    count = int(os.environ.get("BENCH_HOOK_ORDERS", "300"))
    folder = tempfile.TemporaryDirectory()
    engine = make_engine(f"sqlite:///{folder.name}/hook.db")
    tables.metadata.create_all(engine)
    factory = make_session_factory(engine)
    with factory() as session:
        paths = build_org(session)
        session.execute(
            insert(cast(Table, WorkOrder.__table__)),
            [
                {"order_id": f"wo-{i}", "definition_key": "ac-repair", "definition_version": 1,
                 "region": paths[i % len(paths)].split("/")[2], "org_path": paths[i % len(paths)],
                 "status": "running", "created_at": END, "updated_at": END}
                for i in range(count)
            ],
        )  # fmt: skip
        session.commit()
    hook = write = 0.0
    with factory() as session:
        for i in range(count):
            path = paths[i % len(paths)]
            for stage, status in enumerate(MOVES):
                done = status == "completed"
                settled: dict[str, Any] | None = (
                    {"settlement_id": i, "amount": "320.00", "currency": "CNY"} if done else None
                )
                order = rules.OrderView(
                    f"wo-{i}", path, status, END - timedelta(days=i % 60), "ac-repair", 1,
                    END if done else None,
                )  # fmt: skip
                steps = _steps(i, len(NODES) - 1 if done else stage)
                t0 = time.process_time()
                _write(session, order.order_id, status)
                t1 = time.process_time()
                reporting.order_moved(session, order=order, steps=steps, now=END, settled=settled)
                session.flush()
                t2 = time.process_time()
                session.commit()
                t3 = time.process_time()
                write += (t1 - t0) + (t3 - t2)
                hook += t2 - t1
    writes = count * len(MOVES)
    print(f"hook_writes={writes}")
    print(f"hook_cpu_ms_per_write={hook / writes * 1000:.3f}")
    print(f"write_cpu_ms_per_write={write / writes * 1000:.3f}")
    print(f"hook_vs_write={hook / write:.2f}")
    engine.dispose()
    folder.cleanup()


def _write(session: Session, order_id: str, status: str) -> None:
    session.execute(update(WorkOrder).where(WorkOrder.order_id == order_id).values(status=status))


if __name__ == "__main__":
    main()
