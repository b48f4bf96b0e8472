"""Spare parts: reservations on a hot row, sourcing among many warehouses, the forecast.

Prints, in one run:
- `reservations_per_s_pg=<n>`: 50 concurrent clients reserving one unit each of ONE part in
  ONE warehouse (the worst case: every reservation on the same balance row) through
  `inventory.service.reserve` (one conditional UPDATE + the reservation and journal rows);
  beside it the lock-then-check baseline (`SELECT ... FOR UPDATE`, check, UPDATE) on the
  same row, and their ratio. Needs BENCH_DATABASE_URL (PostgreSQL; a fresh schema per run),
  else says so and skips these lines. BENCH_RESERVATIONS (default 2000) in all.
- `sourcing_p99_ms=<n>` (and p50): one order line sourced among 1,000 warehouses × 10,000
  SKUs (each warehouse stocks 200 SKUs; the asked SKUs are held by about 400 warehouses)
  on a SQLite file, and the same ranking over all 1,000 warehouses without the SQL filter
  (`sourcing_rank_all_p99_ms`) for comparison.
- `forecast_smape_pct=<n>`: Holt-Winters' backtest error (sMAPE, last 26 weeks) on a
  synthetic weekly series with a yearly season, trend and noise, beside the seasonal-naive
  baseline's (`forecast_naive_smape_pct`).
"""

from __future__ import annotations

import math
import os
import random
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from sqlalchemy import insert, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from bench.api import store_url
from servflow import tables  # noqa: F401  (every table)
from servflow.inventory import forecast, rules, service
from servflow.inventory.models import Part, StockLevel, Warehouse
from servflow.org.models import OrgUnit
from servflow.platform.db import make_engine, make_session_factory
from servflow.tables import metadata

NOW = datetime(2026, 12, 1, tzinfo=UTC)
CLIENTS = 50
RESERVATIONS = int(os.environ.get("BENCH_RESERVATIONS", "2000"))
WAREHOUSES, SKUS, PER_WAREHOUSE, HOT_SKUS = 1000, 10_000, 200, 50


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _region(session: Session) -> int:
    hq = OrgUnit(kind="hq", code="hq", name="HQ", path="/hq")
    session.add(hq)
    session.flush()
    region = OrgUnit(kind="region", code="r", name="R", path="/hq/r", parent_id=hq.id)
    session.add(region)
    session.flush()
    return region.id


# ---- reservations on PostgreSQL --------------------------------------------------------------


def _hot_row(factory: sessionmaker[Session], units: int) -> tuple[int, int]:
    with factory() as session:
        region = _region(session)
        store = Warehouse(code="WH-HOT", name="hot", region_id=region, lat=30.0, lng=114.0)
        part = Part(sku="HOT", name="hot", price=Decimal("1"))
        session.add_all([store, part])
        session.flush()
        service.move(
            session, warehouse=store, part=part, kind="receipt", qty=units, key="opening", now=NOW
        )
        session.commit()
        return store.id, part.id


def _run_clients(count: int, one: object) -> float:
    counter = iter(range(count))
    lock = threading.Lock()

    def client() -> None:
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                return
            one(i)  # type: ignore[operator]

    started = time.perf_counter()
    with ThreadPoolExecutor(CLIENTS) as pool:
        for future in [pool.submit(client) for _ in range(CLIENTS)]:
            future.result()
    return time.perf_counter() - started


def reservations(url: str) -> None:
    engine = make_engine(url, pool_size=CLIENTS, max_overflow=10)
    metadata.create_all(engine)
    factory = make_session_factory(engine)
    store_id, part_id = _hot_row(factory, RESERVATIONS * 3)

    def conditional(i: int) -> None:
        with factory() as session:
            store = session.get(Warehouse, store_id)
            part = session.get(Part, part_id)
            assert store is not None and part is not None
            service.reserve(
                session,
                key=f"bench/{i}",
                order_id="bench",
                warehouse=store,
                part=part,
                qty=1,
                now=NOW,
            )
            session.commit()

    def locked(i: int) -> None:
        with factory() as session:
            level = session.scalar(
                select(StockLevel)
                .where(StockLevel.warehouse_id == store_id, StockLevel.part_id == part_id)
                .with_for_update()
            )
            assert level is not None and level.on_hand - level.reserved >= 1
            session.execute(
                update(StockLevel)
                .where(StockLevel.id == level.id)
                .values(reserved=level.reserved + 1)
            )
            session.commit()

    conditional(-1)  # warm the pool and the statements
    seconds = _run_clients(RESERVATIONS, conditional)
    rate = RESERVATIONS / seconds
    base = RESERVATIONS / _run_clients(RESERVATIONS, locked)
    with factory() as session:
        held = session.scalar(text("SELECT count(*) FROM stock_reservation"))
    assert held == RESERVATIONS + 1
    print(f"{CLIENTS} clients, {RESERVATIONS} reservations on one balance row", flush=True)
    print(f"reservations_per_s_pg={rate:.0f}")
    print(f"reservations_per_s_pg_select_for_update={base:.0f}  (balance only, no journal)")
    print(f"conditional_vs_select_for_update={rate / base:.2f}")
    engine.dispose()


# ---- sourcing among 1,000 warehouses × 10,000 SKUs ---------------------------------------------


def _catalogue(factory: sessionmaker[Session]) -> None:
    rng = random.Random(12)
    with factory() as session:
        region = _region(session)
        session.execute(
            insert(Warehouse),
            [
                {
                    "code": f"WH-{w:04d}",
                    "name": f"wh {w}",
                    "region_id": region,
                    "city": "",
                    "lat": rng.uniform(20, 45),
                    "lng": rng.uniform(100, 125),
                    "kind": "regional",
                    "engineer_code": "",
                    "lead_time_hours": rng.choice([12, 24, 48]),
                }
                for w in range(WAREHOUSES)
            ],
        )
        session.execute(
            insert(Part),
            [
                {
                    "sku": f"SKU-{s:05d}",
                    "name": f"part {s}",
                    "category": "",
                    "price": Decimal("9"),
                    "currency": "CNY",
                    "name_en": "",
                    "unit": "pcs",
                    "cost": Decimal("5"),
                    "compatible_products": [],
                    "fault_types": [],
                }
                for s in range(SKUS)
            ],
        )
        warehouse_ids = list(session.scalars(select(Warehouse.id).order_by(Warehouse.id)))
        part_ids = list(session.scalars(select(Part.id).order_by(Part.id)))
        rows: list[dict[str, object]] = []
        for wid in warehouse_ids:
            chosen = set(rng.sample(part_ids, PER_WAREHOUSE))
            chosen |= {pid for pid in part_ids[:HOT_SKUS] if rng.random() < 0.4}
            rows.extend(
                {
                    "warehouse_id": wid,
                    "part_id": pid,
                    "on_hand": rng.randint(0, 30),
                    "reserved": 0,
                    "safety_level": 0,
                    "reorder_point": 0,
                }
                for pid in chosen
            )
        for start in range(0, len(rows), 20_000):
            session.execute(insert(StockLevel), rows[start : start + 20_000])
        session.commit()
        print(f"{WAREHOUSES} warehouses, {SKUS} SKUs, {len(rows)} stock levels", flush=True)


def sourcing(url: str) -> None:
    engine = make_engine(url)
    metadata.create_all(engine)
    factory = make_session_factory(engine)
    _catalogue(factory)
    rng = random.Random(7)
    timings, ranking = [], []
    with factory() as session:
        stores = list(session.scalars(select(Warehouse)))
        for _ in range(300):
            sku = f"SKU-{rng.randrange(HOT_SKUS):05d}"
            lat, lng = rng.uniform(22, 42), rng.uniform(105, 122)
            started = time.perf_counter()
            (plan,) = service.plan_lines(session, lines=[(sku, 3)], lat=lat, lng=lng)
            timings.append((time.perf_counter() - started) * 1000)
            assert plan.picks
            everyone = [
                rules.Candidate(s.code, s.kind, s.lat, s.lng, 10, s.lead_time_hours) for s in stores
            ]
            started = time.perf_counter()
            rules.plan_line(sku, 3, everyone, lat=lat, lng=lng)
            ranking.append((time.perf_counter() - started) * 1000)
    print(f"sourcing_p50_ms={percentile(timings, 0.5):.1f}")
    print(f"sourcing_p99_ms={percentile(timings, 0.99):.1f}")
    print(f"sourcing_rank_all_p99_ms={percentile(ranking, 0.99):.1f}  (rank 1,000 in Python only)")
    engine.dispose()


# ---- forecast backtest ------------------------------------------------------------------------


def forecast_backtest() -> None:
    rng = random.Random(3)
    weeks = 4 * 52
    series = [
        max(0.0, 40 + 0.05 * w + 18 * math.sin(2 * math.pi * (w - 10) / 52) + rng.gauss(0, 4))
        for w in range(weeks)
    ]
    started = time.perf_counter()
    result = forecast.backtest(series, season=52, holdout=26)
    seconds = time.perf_counter() - started
    assert result is not None
    print(f"forecast: {weeks} weekly points, season 52, last 26 held out ({seconds:.2f} s)")
    print(f"forecast_smape_pct={result.smape:.1f}")
    print(f"forecast_mape_pct={result.mape:.1f}")
    print(f"forecast_naive_smape_pct={result.baseline_smape:.1f}")
    print(f"forecast_vs_naive_error={result.smape / result.baseline_smape:.2f}")
    history = series[:-26]
    predicted, _ = forecast.fit_forecast(history, season=52, horizon=4)
    print(f"suggested_safety_level_1w_lead={forecast.safety_level(predicted, history[-52:], 1.0)}")


def main() -> None:
    forecast_backtest()
    with (
        tempfile.TemporaryDirectory(prefix="servflow-bench-inventory-") as tmp,
        ExitStack() as stack,
    ):
        sourcing(stack.enter_context(store_url(Path(tmp), None)))
        server = os.environ.get("BENCH_DATABASE_URL")
        if not server:
            print("(no BENCH_DATABASE_URL: reservations_per_s_pg needs PostgreSQL; skipped)")
            return
        reservations(stack.enter_context(store_url(Path(tmp), server)))


if __name__ == "__main__":
    main()
