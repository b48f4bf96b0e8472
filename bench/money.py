"""Money at scale: the monthly settlement run against one SQL aggregate, and ledger
verification speed.

Loads N priced lines (payouts: HQ, a branch, an agent and an engineer share of each
settlement; one settlement in ten periodic, waiting for the run) into a fresh database,
then, side by side in one run:
- `sql`: one SQL aggregate of the same per-party totals (GROUP BY payee, the floor);
- `run`: the monthly run (servflow.billing.statements.run_period) — claims the month's
  once-only key, pays the accrued settlements (one ledger payout per party, marked paid),
  aggregates, writes a statement for every party, signs the ledger checkpoints, commits.
Prints `settlement_run_vs_sql=<run/sql>` and the statements count, then builds a chained
journal of M entries and prints `ledger_verify_per_s=<entries verified a second>`.

SERVFLOW_BENCH_MONEY_LINES (default 100000; the issue's figure is 1000000),
SERVFLOW_BENCH_LEDGER_ENTRIES (default 100000), SERVFLOW_BENCH_DATABASE_URL (default a
SQLite file in a temporary directory).
"""

from __future__ import annotations

import os
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from sqlalchemy import func, insert, select, text
from sqlalchemy.orm import Session

from servflow import tables
from servflow.billing import statements
from servflow.billing.models import Payout, Settlement
from servflow.billing.rules import period_bounds, split_largest_remainder
from servflow.ledger import service as ledger
from servflow.ledger.models import LedgerEntry, LedgerStream
from servflow.ledger.rules import GENESIS, entry_hash, private_key, public_key_text
from servflow.platform.db import make_engine, make_session_factory

PERIOD = "2026-11"
RATIOS = [Decimal("0.20"), Decimal("0.25"), Decimal("0.15"), Decimal("0.40")]
BATCH = 20_000


def _engine(tmp: Path) -> Any:
    url = os.environ.get("SERVFLOW_BENCH_DATABASE_URL") or f"sqlite:///{tmp / 'money.db'}"
    engine = make_engine(url)
    tables.metadata.drop_all(engine)
    tables.metadata.create_all(engine)
    return engine


def load_lines(engine: Any, lines: int) -> None:
    """`lines` payouts, four per settlement (HQ, one of 60 branches, one of 300 agents, one
    of 3000 engineers), amounts with odd cents split by largest remainder."""
    start, _ = period_bounds(PERIOD)
    settlements = lines // len(RATIOS)
    with engine.begin() as connection:
        if engine.dialect.name == "sqlite":
            connection.execute(text("PRAGMA foreign_keys=OFF"))  # no work orders loaded
        else:
            connection.execute(text("SET LOCAL session_replication_role = replica"))
        rows: list[dict[str, Any]] = []
        payouts: list[dict[str, Any]] = []
        for i in range(1, settlements + 1):
            amount = Decimal(10_000 + (i * 7919) % 90_000) / 100
            region = f"r{i % 7}"
            rows.append(
                {
                    "id": i,
                    "order_id": f"bench-{i}",
                    "milestone": "completion",
                    "share": Decimal(1),
                    "job_amount": amount,
                    "amount": amount,
                    "currency": "CNY",
                    "breakdown": {},
                    "idempotency_key": f"bench-{i}/settle/1",
                    "created_at": start + timedelta(seconds=i % 2_000_000),
                    "org_path": f"/hq/{region}",
                    "region": region,
                    "status": "accrued" if i % 10 == 0 else "paid",
                    "approved_by": "",
                }
            )
            parties = [
                ("hq", "hq", "/hq"),
                ("branch", f"b{i % 60}", f"/hq/{region}/b{i % 60}"),
                ("agent", f"a{i % 300}", f"/hq/{region}"),
                ("engineer", f"e{i % 3000}", f"/hq/{region}"),
            ]
            for (kind, party, path), part in zip(
                parties, split_largest_remainder(amount, RATIOS), strict=True
            ):
                payouts.append(
                    {
                        "settlement_id": i,
                        "payee_kind": kind,
                        "payee_id": party,
                        "amount": part,
                        "currency": "CNY",
                        "party_path": path,
                    }
                )
            if len(rows) >= BATCH // len(RATIOS):
                connection.execute(insert(Settlement), rows)
                connection.execute(insert(Payout), payouts)
                rows, payouts = [], []
        if rows:
            connection.execute(insert(Settlement), rows)
            connection.execute(insert(Payout), payouts)


def sql_aggregate(session: Session) -> int:
    """The floor: one SQL aggregate of the per-party totals the statements hold."""
    start, end = period_bounds(PERIOD)
    rows = session.execute(
        select(
            Payout.payee_kind,
            Payout.payee_id,
            Payout.currency,
            func.sum(Payout.amount),
            func.count(),
        )
        .join(Settlement, Settlement.id == Payout.settlement_id)
        .where(Settlement.created_at >= start, Settlement.created_at < end)
        .group_by(Payout.payee_kind, Payout.payee_id, Payout.currency)
    ).all()
    return len(rows)


def bench_run(factory: Any) -> None:
    key = private_key(bytes((13 * i + 1) % 251 for i in range(32)))
    with factory() as session:
        sql_aggregate(session)  # warm the cache: both timings below read warm pages
        started = time.perf_counter()
        parties = sql_aggregate(session)
        sql_s = time.perf_counter() - started
    with factory() as session:
        started = time.perf_counter()
        report = statements.run_period(session, period=PERIOD, now=datetime.now(UTC), key=key)
        session.commit()
        run_s = time.perf_counter() - started
    assert report.statements == parties, (report.statements, parties)
    print(f"money_sql_aggregate_s={sql_s:.2f}")
    print(f"money_settlement_run_s={run_s:.2f}")
    print(f"money_statements={report.statements}")
    print(f"money_accrued_paid={report.accrued_paid}")
    print(f"settlement_run_vs_sql={run_s / sql_s:.2f}")


def load_journal(engine: Any, entries: int) -> None:
    """A chained journal of `entries` in one stream, hashed as `ledger.post` would."""
    at = datetime(2026, 11, 1, tzinfo=UTC)
    previous = GENESIS
    rows: list[dict[str, Any]] = []
    with engine.begin() as connection:
        for seq in range(1, entries + 1):
            entry = SimpleNamespace(
                stream="bench",
                seq=seq,
                kind="accrual",
                debit_account="expense:service",
                credit_account=f"payable:agent:a{seq % 300}",
                amount=Decimal(seq % 100_000 + 1) / 100,
                currency="CNY",
                ref=f"settlement:{seq}",
                party=f"agent:a{seq % 300}",
                period=PERIOD,
                memo="",
                reverses_seq=None,
                occurred_at=at + timedelta(seconds=seq),
                prev_hash=previous,
            )
            entry.hash = entry_hash(entry)  # type: ignore[arg-type]
            previous = entry.hash
            rows.append(dict(vars(entry)))
            if len(rows) >= BATCH:
                connection.execute(insert(LedgerEntry), rows)
                rows = []
        if rows:
            connection.execute(insert(LedgerEntry), rows)
        connection.execute(
            insert(LedgerStream),
            [
                {
                    "name": "bench",
                    "head_seq": entries,
                    "head_hash": previous,
                    "head_entry_id": entries,
                    "updated_at": at,
                }
            ],
        )


def bench_verify(factory: Any, entries: int) -> None:
    key = private_key(bytes((13 * i + 1) % 251 for i in range(32)))
    with factory() as session:
        started = time.perf_counter()
        report = ledger.verify(session, stream="bench", trusted_keys=[public_key_text(key)])
        seconds = time.perf_counter() - started
    assert report.ok and report.entries == entries, report.summary()
    print(f"ledger_verify_entries={entries}")
    print(f"ledger_verify_per_s={entries / seconds:.0f}")


def main() -> None:
    lines = int(os.environ.get("SERVFLOW_BENCH_MONEY_LINES", "100000"))
    entries = int(os.environ.get("SERVFLOW_BENCH_LEDGER_ENTRIES", "100000"))
    with tempfile.TemporaryDirectory() as tmp:
        engine = _engine(Path(tmp))
        factory = make_session_factory(engine)
        started = time.perf_counter()
        load_lines(engine, lines)
        print(f"money_priced_lines={lines} (loaded in {time.perf_counter() - started:.0f} s)")
        bench_run(factory)
        load_journal(engine, entries)
        bench_verify(factory, entries)
        engine.dispose()


if __name__ == "__main__":
    main()
