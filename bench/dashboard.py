"""Dashboards over many orders: the reporting counters against scanning the orders table.

Builds BENCH_DASHBOARD_ORDERS orders (default 20,000; the reference figure is 1,000,000)
with five steps each over 90 days, 7 regions and 63 outlets, in a SQLite file (or
BENCH_DATABASE_URL), counts them into the reporting tables with the same rules the order
writer uses (`servflow.reporting.service.rebuild`), then times the HQ dashboard and the 华北
region's dashboard (BENCH_ROUNDS each, default 20) and the same figures computed straight
from work_order and work_order_step, asserting both give the same answers.

Prints dashboard_p50_ms, dashboard_p99_ms, scan_ms and dashboard_vs_scan (scan time over
dashboard time, side by side in this run).
"""

from __future__ import annotations

import os
import random
import statistics
import tempfile
import time
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from servflow import tables
from servflow.orders.models import WorkOrder, WorkOrderStep
from servflow.org import service as org
from servflow.org.rules import Principal
from servflow.platform.db import make_engine, make_session_factory
from servflow.platform.scope import under
from servflow.reporting import rules
from servflow.reporting import service as reporting

REGIONS = ("huabei", "huadong", "huanan", "huazhong", "xinan", "xibei", "dongbei")
CITIES = ("北京", "上海", "广州", "武汉", "成都", "西安", "沈阳")
NODES: tuple[tuple[str, str], ...] = (("report", "report"), ("dispatch", "dispatch"))
NODES += (("service", "service"), ("signoff", "signoff"), ("settle", "settlement"))
STATUSES = ("completed",) * 7 + ("dispatched", "running", "cancelled")
DAYS = 90
END = datetime(2026, 12, 1, tzinfo=UTC)


def build_org(session: Session) -> list[str]:
    hq = org.create_unit(session, kind="hq", code="hq", name="总部")
    paths = []
    for region_code, city in zip(REGIONS, CITIES, strict=True):
        region = org.create_unit(session, kind="region", code=region_code, name=city, parent=hq)
        for b in range(3):
            branch = org.create_unit(
                session, kind="branch", code=f"{region_code}-b{b}", name=city, parent=region
            )
            for o in range(3):
                outlet = org.create_unit(
                    session,
                    kind="outlet",
                    code=f"{region_code}-b{b}-o{o}",
                    name=f"{city}{b}{o}",
                    parent=branch,
                    city=city,
                )
                paths.append(outlet.path)
    session.commit()
    return paths


def build_orders(session: Session, paths: list[str], count: int) -> None:
    rnd = random.Random(15)
    batch_orders: list[dict[str, Any]] = []
    batch_steps: list[dict[str, Any]] = []
    for i in range(count):
        path = rnd.choice(paths)
        created = END - timedelta(seconds=rnd.randrange(DAYS * 86400))
        status = rnd.choice(STATUSES)
        order_id = f"wo-bench-{i}"
        t = created
        for node, node_type in NODES:
            seconds = rnd.lognormvariate(7.5, 1.2)
            deadline = t + timedelta(hours=4) if node_type == "service" else None
            visit = 2 if node_type == "service" and rnd.random() < 0.1 else 1
            batch_steps.append(
                {
                    "order_id": order_id,
                    "node_id": node,
                    "visit": visit,
                    "node_type": node_type,
                    "actor": "bench",
                    "outcome": "done",
                    "data": {"rating": str(rnd.randint(1, 5))} if node_type == "signoff" else {},
                    "started_at": t,
                    "completed_at": t + timedelta(seconds=seconds),
                    "assignee": "",
                    "sla_deadline": deadline,
                }
            )
            t += timedelta(seconds=seconds)
        batch_orders.append(
            {
                "order_id": order_id,
                "definition_key": "ac-repair",
                "definition_version": 1,
                "region": path.split("/")[2],
                "org_path": path,
                "status": status,
                "created_at": created,
                "updated_at": t,
                "completed_at": t if status in ("completed", "cancelled") else None,
            }
        )
        if len(batch_orders) >= 5000:
            _flush(session, batch_orders, batch_steps)
    _flush(session, batch_orders, batch_steps)
    session.commit()


def _flush(session: Session, orders: list[dict[str, Any]], steps: list[dict[str, Any]]) -> None:
    if orders:
        session.execute(insert(WorkOrder), orders)
        session.execute(insert(WorkOrderStep), steps)
    orders.clear()
    steps.clear()


def _views(session: Session):
    """Every order with its steps, read as plain rows in batches (the rebuild's input)."""
    o, st = WorkOrder.__table__.c, WorkOrderStep.__table__.c
    last = 0
    while True:
        rows = session.execute(
            select(o.id, o.order_id, o.org_path, o.status, o.created_at, o.definition_key,
                   o.definition_version, o.completed_at)
            .where(o.id > last).order_by(o.id).limit(20000)
        ).all()  # fmt: skip
        if not rows:
            return
        ids = [r.order_id for r in rows]
        steps: dict[str, list[rules.StepView]] = defaultdict(list)
        query = select(st.order_id, st.node_id, st.node_type, st.visit, st.started_at,
                       st.completed_at, st.sla_deadline, st.outcome, st.data)  # fmt: skip
        for s in session.execute(query.where(st.order_id.in_(ids))):
            steps[s[0]].append(rules.StepView(*s[1:]))
        for r in rows:
            yield rules.OrderView(*r[1:]), steps[r.order_id], {}
        last = rows[-1].id


def scan(session: Session, scope: str, start: date, end: date) -> dict[str, Any]:
    """The same figures as the dashboard, computed from the orders and steps tables."""
    lo = datetime.combine(start, datetime.min.time(), rules.CST)
    hi = datetime.combine(end + timedelta(days=1), datetime.min.time(), rules.CST)
    where = (
        under(WorkOrder.org_path, scope),
        WorkOrder.created_at >= lo,
        WorkOrder.created_at < hi,
    )
    by_status = select(WorkOrder.status, func.count()).where(*where).group_by(WorkOrder.status)
    statuses = dict(session.execute(by_status).tuples().all())
    hist: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    sla = {"met": 0, "breached": 0}
    ftf = {"yes": 0, "no": 0}
    nps = {"promoter": 0, "passive": 0, "detractor": 0}
    q = (
        select(WorkOrderStep.order_id, WorkOrderStep.node_id, WorkOrderStep.node_type,
               WorkOrderStep.visit, WorkOrderStep.started_at, WorkOrderStep.completed_at,
               WorkOrderStep.sla_deadline, WorkOrderStep.data)
        .join(WorkOrder, WorkOrder.order_id == WorkOrderStep.order_id)
        .where(*where, WorkOrder.status == "completed")
    )  # fmt: skip
    service_visits: dict[str, int] = {}
    for _oid, node, node_type, visit, started, done, deadline, data in session.execute(q):
        if node_type == "service":
            service_visits[_oid] = max(service_visits.get(_oid, 0), visit)
        if deadline is not None:
            sla["met" if done <= deadline else "breached"] += 1
        hist[node][rules.time_bin(max(0.0, (done - started).total_seconds()))] += 1
        if node_type == "signoff":
            rated = rules.nps_class("rating", (data or {}).get("rating"))
            if rated:
                nps[rated] += 1
    for top in service_visits.values():
        ftf["yes" if top == 1 else "no"] += 1
    return {
        "total": sum(statuses.values()),
        "completed": statuses.get("completed", 0),
        "sla": sla,
        "ftf": ftf,
        "nps": nps,
        "p90": {n: rules.percentile(h, 0.9) for n, h in sorted(hist.items())},
    }


def same(board: dict[str, Any], scanned: dict[str, Any]) -> None:
    assert board["orders"]["total"] == scanned["total"], (board["orders"], scanned["total"])
    assert board["orders"]["completed"] == scanned["completed"]
    assert board["sla"]["met"] == scanned["sla"]["met"]
    assert board["sla"]["breached"] == scanned["sla"]["breached"]
    assert board["first_time_fix"]["fixed_first_time"] == scanned["ftf"]["yes"]
    assert {k: board["nps"][k] for k in scanned["nps"]} == scanned["nps"]
    p90 = {c["node"]: c["p90_s"] for c in board["bottleneck"]["cells"] if c["region"] == ""}
    assert p90 == scanned["p90"], (p90, scanned["p90"])


def main() -> None:
    count = int(os.environ.get("BENCH_DASHBOARD_ORDERS", "20000"))
    rounds = int(os.environ.get("BENCH_ROUNDS", "20"))
    url = os.environ.get("BENCH_DATABASE_URL")
    folder = tempfile.TemporaryDirectory()
    engine = make_engine(url or f"sqlite:///{folder.name}/dashboard.db")
    tables.metadata.drop_all(engine)
    tables.metadata.create_all(engine)
    factory = make_session_factory(engine)
    started = time.perf_counter()
    with factory() as session:
        paths = build_org(session)
        build_orders(session, paths, count)
    built = time.perf_counter() - started
    with factory() as session:
        counted = reporting.rebuild(session, _views(session))
        session.commit()
    counted_s = time.perf_counter() - started - built
    # Node times are counted by month: a period of whole months compares like with like.
    start, end = date(2026, 9, 1), END.date()
    now = END
    users = {
        "hq": Principal(1, "hq_admin", "", ("hq_admin",), "/hq", org_unit_id=1),
        "region": Principal(2, "region_mgr", "", ("region_manager",), "/hq/huabei", org_unit_id=2),
    }
    timings: list[float] = []
    scans: list[float] = []
    with factory() as session:
        for _ in range(rounds):
            for user in users.values():
                t0 = time.perf_counter()
                board = reporting.dashboard(
                    session, user, unit=None, start=start, end=end, pipeline=None, now=now
                )
                timings.append(time.perf_counter() - t0)
        for user in users.values():
            t0 = time.perf_counter()
            scanned = scan(session, user.scope_path, start, end)
            scans.append(time.perf_counter() - t0)
            board = reporting.dashboard(
                session, user, unit=None, start=start, end=end, pipeline=None, now=now
            )
            same(board, scanned)
    timings.sort()
    p99 = timings[min(len(timings) - 1, int(0.99 * len(timings)))]
    p50 = statistics.median(timings)
    print(f"dashboard_orders={count}")
    print(f"dashboard_build_s={built:.1f}")
    print(f"dashboard_rebuild_s={counted_s:.1f} (orders counted: {counted})")
    print(f"dashboard_p50_ms={p50 * 1000:.1f}")
    print(f"dashboard_p99_ms={p99 * 1000:.1f}")
    print(f"scan_ms={statistics.mean(scans) * 1000:.1f}")
    print(f"dashboard_vs_scan={statistics.mean(scans) / p50:.1f}")
    engine.dispose()
    folder.cleanup()


if __name__ == "__main__":
    main()
