"""Dashboards over many orders: the reporting counters against scanning the orders table.

Builds BENCH_DASHBOARD_ORDERS orders (default 20,000; the reference figure is 1,000,000)
with five steps each over 90 days, 7 regions and 63 outlets, in a SQLite file (or
BENCH_DATABASE_URL), counts them into the reporting tables with the same rules the order
writer uses (`servflow.reporting.service.rebuild`), then times the HQ dashboard and the 华北
region's dashboard (BENCH_ROUNDS each, default 20) and the same figures computed straight
from work_order and work_order_step, asserting both give the same answers.

Prints dashboard_p50_ms, dashboard_p99_ms, scan_ms and dashboard_vs_scan (scan time over
dashboard time, side by side in this run; the smaller of HQ's and the region's), each per
dashboard (dashboard_hq_*, dashboard_region_*) and over both. On PostgreSQL
(BENCH_DATABASE_URL=postgresql+psycopg://...) the orders go to a schema of their own,
dropped afterwards, and every figure is suffixed _pg (dashboard_p99_ms_pg,
dashboard_vs_scan_pg). BENCH_RUNS=n repeats the timings and scans n times on the same
data and prints the median of the runs.
"""

from __future__ import annotations

import cProfile
import os
import pstats
import random
import statistics
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, case, func, insert, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from servflow import tables
from servflow.orders.models import WorkOrder, WorkOrderStep
from servflow.org import service as org
from servflow.org.rules import Principal
from servflow.platform.db import make_engine, make_session_factory
from servflow.platform.scope import under
from servflow.reporting import rules
from servflow.reporting import service as reporting
from servflow.reporting.models import ReportCounter

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


def build_orders(session: Session, paths: list[str], count: int):
    """Writes `count` orders with five steps each (bulk Core inserts, 5,000 orders a batch)
    and yields each one as the reporting rules see it, so the counters are computed by the
    same pure rules (`rebuild`) in the same pass instead of re-reading the orders."""
    rnd = random.Random(15)
    batch_orders: list[dict[str, Any]] = []
    batch_steps: list[dict[str, Any]] = []
    for i in range(count):
        path = rnd.choice(paths)
        created = END - timedelta(seconds=rnd.randrange(DAYS * 86400))
        status = rnd.choice(STATUSES)
        order_id = f"wo-bench-{i}"
        t = created
        views: list[rules.StepView] = []
        for node, node_type in NODES:
            seconds = rnd.lognormvariate(7.5, 1.2)
            deadline = t + timedelta(hours=4) if node_type == "service" else None
            visit = 2 if node_type == "service" and rnd.random() < 0.1 else 1
            data = {"rating": str(rnd.randint(1, 5))} if node_type == "signoff" else {}
            done = t + timedelta(seconds=seconds)
            batch_steps.append(
                {
                    "order_id": order_id,
                    "node_id": node,
                    "visit": visit,
                    "node_type": node_type,
                    "actor": "bench",
                    "outcome": "done",
                    "data": data,
                    "started_at": t,
                    "completed_at": done,
                    "assignee": "",
                    "sla_deadline": deadline,
                }
            )
            views.append(rules.StepView(node, node_type, visit, t, done, deadline, "done", data))
            t = done
        completed_at = t if status in ("completed", "cancelled") else None
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
                "completed_at": completed_at,
            }
        )
        view = rules.OrderView(order_id, path, status, created, "ac-repair", 1, completed_at)
        yield view, views
        if len(batch_orders) >= 5000:
            _flush(session, batch_orders, batch_steps)
    _flush(session, batch_orders, batch_steps)


def _flush(session: Session, orders: list[dict[str, Any]], steps: list[dict[str, Any]]) -> None:
    if orders:
        session.execute(insert(cast(Table, WorkOrder.__table__)), orders)
        session.execute(insert(cast(Table, WorkOrderStep.__table__)), steps)
    orders.clear()
    steps.clear()


def _seconds(session: Session, started: Any, done: Any) -> Any:
    """SQL: the seconds between two timestamps, in the database's own dialect."""
    if session.get_bind().dialect.name == "postgresql":
        return func.extract("epoch", done - started)
    return (func.julianday(done) - func.julianday(started)) * 86400.0


def _bin(seconds: Any) -> Any:
    """SQL: `rules.time_bin` of a duration, as a CASE over the bins' lower bounds."""
    whens = [(seconds < 60 * 2 ** (i / 2), i) for i in range(rules.TIME_BINS - 1)]
    return case((seconds < 60, 0), *whens[1:], else_=rules.TIME_BINS - 1)


def scan(session: Session, scope: str, start: date, end: date) -> dict[str, Any]:
    """The same figures as the dashboard, aggregated by SQL from the orders and steps tables
    (grouped queries; Python only classifies the handful of groups they return)."""
    lo = datetime.combine(start, datetime.min.time(), rules.CST)
    hi = datetime.combine(end + timedelta(days=1), datetime.min.time(), rules.CST)
    o, st = WorkOrder, WorkOrderStep
    where = (under(o.org_path, scope), o.created_at >= lo, o.created_at < hi)
    by_status = select(o.status, func.count()).where(*where).group_by(o.status)
    statuses = dict(session.execute(by_status).tuples().all())
    # Every completed step counts as it completes, whether its order is done or not.
    done = (*where, st.completed_at.is_not(None))
    joined = select().select_from(st).join(o, o.order_id == st.order_id)
    met = func.sum(case((st.completed_at <= st.sla_deadline, 1), else_=0))
    breached = func.sum(case((st.completed_at > st.sla_deadline, 1), else_=0))
    met_n, breached_n = session.execute(
        joined.add_columns(met, breached).where(*done, st.sla_deadline.is_not(None))
    ).one()
    duration = _bin(_seconds(session, st.started_at, st.completed_at))
    hist: dict[str, dict[int, int]] = defaultdict(dict)
    for node, bin_, n in session.execute(
        joined.add_columns(st.node_id, duration, func.count())
        .where(*done)
        .group_by(st.node_id, duration)
    ):
        hist[node][int(bin_)] = int(n)
    nps = {"promoter": 0, "passive": 0, "detractor": 0}
    rating = st.data["rating"].as_string()
    for value, n in session.execute(
        joined.add_columns(rating, func.count())
        .where(*done, st.node_type == "signoff")
        .group_by(rating)
    ):
        rated = rules.nps_class("rating", value)
        if rated:
            nps[rated] += int(n)
    visits = (
        joined.add_columns(func.max(st.visit).label("top"))
        .where(*done, st.node_type == "service")
        .group_by(st.order_id)
        .subquery()
    )
    yes, no = session.execute(
        select(
            func.sum(case((visits.c.top == 1, 1), else_=0)),
            func.sum(case((visits.c.top > 1, 1), else_=0)),
        )
    ).one()
    return {
        "total": sum(statuses.values()),
        "completed": statuses.get("completed", 0),
        "sla": {"met": int(met_n or 0), "breached": int(breached_n or 0)},
        "ftf": {"yes": int(yes or 0), "no": int(no or 0)},
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


def _build(factory: Any, count: int) -> None:
    started = time.perf_counter()
    with factory() as session:
        paths = build_org(session)
        counted = reporting.rebuild(session, build_orders(session, paths, count), now=END)
        session.commit()
    print(f"dashboard_build_s={time.perf_counter() - started:.1f} (orders and counters: {counted})")


def _timed(session: Session, user: Principal, start: date, end: date) -> tuple[float, Any]:
    t0 = time.perf_counter()
    board = reporting.dashboard(
        session, user, unit=None, start=start, end=end, pipeline=None, now=END
    )
    return time.perf_counter() - t0, board


def _own_schema(url: str) -> tuple[str, Callable[[], None]]:
    """A PostgreSQL URL moved into a schema of its own (created now), and what drops it."""
    base = make_url(url)
    admin = make_engine(base.render_as_string(hide_password=False))
    schema = f"bench_dashboard_{uuid.uuid4().hex[:10]}"
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))

    def drop() -> None:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()
        print(f"dashboard_schema_dropped={schema}")

    moved = base.update_query_dict({"options": f"-csearch_path={schema}"})
    return moved.render_as_string(hide_password=False), drop


def _analyze(engine: Any) -> None:
    """PostgreSQL: the planner's statistics of the tables just filled in one transaction,
    as autovacuum would gather them in a store that grew over time. Without them the open
    orders' deadline counts scan all of report_order (0.5 s at 1M orders, measured) where
    the sla_next index answers in well under a millisecond."""
    with engine.begin() as connection:
        for table in ("work_order", "work_order_step", "report_counter", "report_order"):
            connection.execute(text(f"ANALYZE {table}"))


def _one_run(
    factory: Any, users: dict[str, Principal], rounds: int, start: date, end: date
) -> dict[str, float]:
    """One run's figures: p50/p99 per dashboard and over both, scans and their ratios (ms)."""
    timings: dict[str, list[float]] = {name: [] for name in users}
    with factory() as session:
        for user in users.values():  # warm the page cache and the statement cache
            _timed(session, user, start, end)
        for _ in range(rounds):
            for name, user in users.items():
                timings[name].append(_timed(session, user, start, end)[0])
        if os.environ.get("BENCH_PROFILE"):
            profile = cProfile.Profile()
            profile.runcall(_timed, session, users["hq"], start, end)
            pstats.Stats(profile).sort_stats("cumulative").print_stats(25)
        scans: dict[str, float] = {}
        # BENCH_DASHBOARD_SCAN=0: time the dashboards only (a re-run on a kept database).
        for name, user in users.items() if os.environ.get("BENCH_DASHBOARD_SCAN") != "0" else []:
            t0 = time.perf_counter()
            scanned = scan(session, user.scope_path, start, end)
            scans[name] = time.perf_counter() - t0
            same(_timed(session, user, start, end)[1], scanned)
    figures: dict[str, float] = {}
    every = sorted(t for ts in timings.values() for t in ts)
    for name, ts in [*timings.items(), ("all", every)]:
        ts = sorted(ts)
        p99 = ts[min(len(ts) - 1, int(0.99 * len(ts)))]
        label = "" if name == "all" else f"_{name}"
        figures[f"dashboard{label}_p50_ms"] = statistics.median(ts) * 1000
        figures[f"dashboard{label}_p99_ms"] = p99 * 1000
        if name in scans:
            figures[f"scan{label}_ms"] = scans[name] * 1000
            figures[f"dashboard{label}_vs_scan"] = scans[name] / statistics.median(ts)
    if scans:
        figures["dashboard_vs_scan"] = min(figures[f"dashboard_{name}_vs_scan"] for name in scans)
    return figures


def main() -> None:
    count = int(os.environ.get("BENCH_DASHBOARD_ORDERS", "20000"))
    rounds = int(os.environ.get("BENCH_ROUNDS", "20"))
    # BENCH_RUNS=n: n runs of the timings and scans on the same data; the median is printed.
    runs = int(os.environ.get("BENCH_RUNS", "1"))
    url = os.environ.get("BENCH_DATABASE_URL")
    # BENCH_DASHBOARD_DB=<file>: keep the SQLite database there and reuse it when it exists.
    kept = os.environ.get("BENCH_DASHBOARD_DB")
    folder = tempfile.TemporaryDirectory()
    path = kept or f"{folder.name}/dashboard.db"
    reuse = bool(kept and not url and os.path.exists(path))
    drop: Callable[[], None] | None = None
    if url and make_url(url).get_backend_name() == "postgresql":
        # PostgreSQL: a schema of its own, dropped afterwards (figures named *_pg).
        url, drop = _own_schema(url)
    suffix = "_pg" if drop is not None else ""
    engine = make_engine(url or f"sqlite:///{path}")
    try:
        factory = make_session_factory(engine)
        if not reuse:
            tables.metadata.drop_all(engine)
            tables.metadata.create_all(engine)
            _build(factory, count)
            if drop is not None:
                _analyze(engine)
        with factory() as session:
            orders = session.scalar(select(func.count()).select_from(WorkOrder))
            cells = session.scalar(select(func.count()).select_from(ReportCounter))
        # Node times are counted by month: a period of whole months compares like with like.
        start, end = date(2026, 9, 1), END.date()
        users = {
            "hq": Principal(1, "hq_admin", "", ("hq_admin",), "/hq", org_unit_id=1),
            "region": Principal(
                2, "region_mgr", "", ("region_manager",), "/hq/huabei", org_unit_id=2
            ),
        }
        results = []
        for run in range(1, runs + 1):
            results.append(_one_run(factory, users, rounds, start, end))
            if runs > 1:
                shown = ", ".join(f"{k}={v:.1f}" for k, v in results[-1].items())
                print(f"dashboard_run_{run}: {shown}", flush=True)
        print(f"dashboard_orders{suffix}={orders}")
        print(f"dashboard_counter_rows{suffix}={cells}")
        for name in results[0]:
            value = statistics.median(r[name] for r in results)
            print(f"{name}{suffix}={value:.1f}")
    finally:
        engine.dispose()
        if drop is not None:
            drop()
        folder.cleanup()


if __name__ == "__main__":
    main()
