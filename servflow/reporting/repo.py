"""Queries of the reporting read model: counter increments and the dashboards' sums."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import Table, delete, func, insert, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from servflow.platform.scope import region_code, under
from servflow.reporting.models import ReportCounter, ReportOrder
from servflow.reporting.rules import Cells, depth_of

Row = tuple[Any, ...]


def get_fact(session: Session, *, order_id: str) -> ReportOrder | None:
    return session.get(ReportOrder, order_id)


def add_cells(session: Session, cells: Cells) -> None:
    """Adds each cell's (n, amount) to its counter, creating the counter when missing.

    Cells come sorted by key, so two transactions touching the same counters lock them in
    the same order (no deadlock between two orders moving at once).
    """
    if not cells:
        return
    rows = [
        {
            "metric": metric,
            "day": date.fromisoformat(day),
            "org_path": path,
            "depth": depth_of(path),
            "region": region_code(path),
            "key": key,
            "bin": bin_,
            "n": n,
            "amount": amount,
        }
        for (metric, day, path, key, bin_), (n, amount) in sorted(cells.items())
    ]
    # One statement executed with many parameter sets: compiled once and cached, where a
    # multi-row VALUES clause was compiled anew on every call (most of the hook's cost).
    session.execute(_upsert(session.get_bind().dialect.name), rows)


_UPSERTS: dict[str, Any] = {}


def _upsert(dialect: str) -> Any:
    if dialect not in _UPSERTS:
        table = ReportCounter.__table__
        module: Any = postgresql if dialect == "postgresql" else sqlite
        statement = module.insert(table)
        excluded = statement.excluded
        _UPSERTS[dialect] = statement.on_conflict_do_update(
            index_elements=["org_path", "metric", "day", "key", "bin"],
            set_={"n": table.c.n + excluded.n, "amount": table.c.amount + excluded.amount},
        )
    return _UPSERTS[dialect]


def clear(session: Session) -> None:
    """Empties the reporting tables (before a recount). On PostgreSQL both are locked
    against writes first: an order moving meanwhile waits, then changes the recounted
    figures by its own difference."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("LOCK TABLE report_order, report_counter IN EXCLUSIVE MODE"))
    session.execute(delete(ReportCounter))
    session.execute(delete(ReportOrder))


def add_facts(session: Session, rows: list[dict[str, Any]]) -> None:
    """Writes many orders' `report_order` rows at once."""
    if rows:
        session.execute(insert(cast(Table, ReportOrder.__table__)), rows)


def own_sums(
    session: Session, *, path: str, start: date, end: date, metrics: Sequence[str]
) -> list[Row]:
    """(metric, key, n, amount) of the unit at `path` (everything under it) over [start, end]."""
    c = ReportCounter
    query = (
        select(c.metric, c.key, func.sum(c.n), func.sum(c.amount))
        .where(c.org_path == path, c.metric.in_(metrics), c.day >= start, c.day <= end)
        .group_by(c.metric, c.key)
    )
    return [tuple(row) for row in session.execute(query)]


def own_by_day(
    session: Session, *, path: str, start: date, end: date, metrics: Sequence[str]
) -> list[Row]:
    """(day, metric, key, n, amount) of the unit at `path`, day by day."""
    c = ReportCounter
    query = (
        select(c.day, c.metric, c.key, func.sum(c.n), func.sum(c.amount))
        .where(c.org_path == path, c.metric.in_(metrics), c.day >= start, c.day <= end)
        .group_by(c.day, c.metric, c.key)
    )
    return [tuple(row) for row in session.execute(query)]


def child_sums(
    session: Session, *, paths: Sequence[str], start: date, end: date, metrics: Sequence[str]
) -> list[Row]:
    """(org_path, metric, key, n, amount) of each unit at `paths` (the units directly below
    a dashboard's scope), each found by its exact path in the counters' unique index."""
    if not paths:
        return []
    c = ReportCounter
    query = (
        select(c.org_path, c.metric, c.key, func.sum(c.n), func.sum(c.amount))
        .where(c.org_path.in_(paths), c.metric.in_(metrics), c.day >= start, c.day <= end)
        .group_by(c.org_path, c.metric, c.key)
    )
    return [tuple(row) for row in session.execute(query)]


def node_times(
    session: Session, *, paths: Sequence[str], start: date, end: date, key_prefix: str
) -> list[Row]:
    """(org_path, key, bin, n) of node times of one pipeline version at each of `paths`."""
    c = ReportCounter
    query = (
        select(c.org_path, c.key, c.bin, func.sum(c.n))
        .where(
            c.org_path.in_(paths),
            c.metric == "node_time",
            c.day >= start,
            c.day <= end,
            c.key.startswith(key_prefix, autoescape=True),
        )
        .group_by(c.org_path, c.key, c.bin)
    )
    return [tuple(row) for row in session.execute(query)]


def node_time_keys(session: Session, *, path: str, start: date, end: date) -> list[Row]:
    """(key, n) of every node-time counter of the unit at `path`: which pipeline versions."""
    c = ReportCounter
    query = (
        select(c.key, func.sum(c.n))
        .where(c.org_path == path, c.metric == "node_time", c.day >= start, c.day <= end)
        .group_by(c.key)
    )
    return [tuple(row) for row in session.execute(query)]


def open_deadlines(
    session: Session, *, scope_path: str, now: datetime, risk_until: datetime
) -> tuple[int, int]:
    """(orders whose waiting step is past its deadline, orders due before `risk_until`)."""
    o = ReportOrder
    base = select(func.count()).where(o.sla_next.is_not(None), under(o.org_path, scope_path))
    late = session.scalar(base.where(o.sla_next < now)) or 0
    risk = session.scalar(base.where(o.sla_next >= now, o.sla_next < risk_until)) or 0
    return int(late), int(risk)
