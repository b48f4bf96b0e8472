"""Queries of price tables and settlements."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Select, String, func, insert, literal, or_, select, update
from sqlalchemy.orm import Session, joinedload, selectinload

from servflow.billing.models import (
    Payout,
    PriceRule,
    PriceTable,
    Settlement,
    ShareAgreement,
    Statement,
)
from servflow.platform.scope import under


def current_price_table(
    session: Session, *, region_id: int, currency: str, at: datetime
) -> PriceTable | None:
    """The region's table in `currency` with the latest `valid_from` not after `at`."""
    return session.scalar(
        select(PriceTable)
        .where(
            PriceTable.region_id == region_id,
            PriceTable.currency == currency,
            PriceTable.valid_from <= at,
        )
        .order_by(PriceTable.valid_from.desc())
        .limit(1)
    )


def list_price_tables(session: Session, *, region_id: int | None = None) -> list[PriceTable]:
    query = select(PriceTable).order_by(PriceTable.region_id, PriceTable.valid_from)
    if region_id is not None:
        query = query.where(PriceTable.region_id == region_id)
    return list(session.scalars(query))


def list_settlements(session: Session, *, order_id: str) -> list[Settlement]:
    return list(
        session.scalars(
            select(Settlement)
            .options(joinedload(Settlement.payouts))
            .where(Settlement.order_id == order_id)
            .order_by(Settlement.id)
        ).unique()
    )


def search_settlements(
    session: Session,
    *,
    scope_path: str,
    region: str | None,
    start: datetime | None,
    end: datetime | None,
    limit: int,
    offset: int,
) -> tuple[list[Settlement], int]:
    """Settlements under `scope_path`, newest first, with the total count."""
    query = select(Settlement).where(under(Settlement.org_path, scope_path))
    if region:
        query = query.where(Settlement.region == region)
    if start is not None:
        query = query.where(Settlement.created_at >= start)
    if end is not None:
        query = query.where(Settlement.created_at < end)
    count = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.options(selectinload(Settlement.payouts))
        .order_by(Settlement.created_at.desc(), Settlement.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return list(rows), count


def page_price_tables(
    session: Session, *, region_ids: Select[tuple[int]] | None, limit: int, offset: int
) -> tuple[list[PriceTable], int]:
    """Price tables by region and start of the regions `region_ids` selects (all when
    None), and their count."""
    query = select(PriceTable).order_by(PriceTable.region_id, PriceTable.valid_from)
    if region_ids is not None:
        query = query.where(PriceTable.region_id.in_(region_ids))
    count = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    return list(session.scalars(query.order_by(PriceTable.id).limit(limit).offset(offset))), count


def get_price_table(session: Session, *, table_id: int) -> PriceTable | None:
    return session.get(PriceTable, table_id)


def get_price_table_by_key(
    session: Session, *, region_id: int, currency: str, valid_from: datetime
) -> PriceTable | None:
    """The region's table in `currency` starting at `valid_from` (its natural key)."""
    return session.scalar(
        select(PriceTable).where(
            PriceTable.region_id == region_id,
            PriceTable.currency == currency,
            PriceTable.valid_from == valid_from,
        )
    )


def get_settlement(
    session: Session, *, settlement_id: int, lock: bool = False
) -> Settlement | None:
    """The settlement with its payouts; `lock` holds its row until the transaction ends, so
    two approvals of one held settlement pay it once."""
    query = (
        select(Settlement)
        .options(selectinload(Settlement.payouts))
        .where(Settlement.id == settlement_id)
    )
    if lock:
        query = query.with_for_update()
    return session.scalar(query)


# ---- price rules and agreements ------------------------------------------------------------


def _in_force(model: Any, at: datetime) -> list[ColumnElement[bool]]:
    return [
        model.valid_from <= at,
        or_(model.valid_to.is_(None), model.valid_to > at),
        or_(model.retired_at.is_(None), model.retired_at > at),
    ]


def rules_in_force(session: Session, *, paths: list[str], at: datetime) -> list[PriceRule]:
    """Price rules in force at `at` scoped to one of `paths` (the order's unit and the
    units above it)."""
    return list(
        session.scalars(
            select(PriceRule)
            .where(PriceRule.scope_path.in_(paths), *_in_force(PriceRule, at))
            .order_by(PriceRule.code, PriceRule.version)
        )
    )


def agreements_in_force(
    session: Session, *, paths: list[str], at: datetime
) -> list[ShareAgreement]:
    return list(
        session.scalars(
            select(ShareAgreement)
            .where(ShareAgreement.scope_path.in_(paths), *_in_force(ShareAgreement, at))
            .order_by(ShareAgreement.code, ShareAgreement.version)
        )
    )


def latest_version(session: Session, model: Any, *, code: str) -> int:
    return session.scalar(select(func.max(model.version)).where(model.code == code)) or 0


def frame_rules(session: Session, *, code: str, hq_path: str) -> list[PriceRule]:
    """The HQ versions of rule `code` (the frame regions adjust within)."""
    return list(
        session.scalars(
            select(PriceRule)
            .where(PriceRule.code == code, PriceRule.scope_path == hq_path)
            .order_by(PriceRule.version.desc())
        )
    )


def page_rules(
    session: Session,
    model: Any,
    *,
    visible: ColumnElement[bool],
    code: str | None,
    limit: int,
    offset: int,
) -> tuple[list[Any], int]:
    query = select(model).where(visible)
    if code:
        query = query.where(model.code == code)
    count = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(model.code, model.scope_path, model.version).limit(limit).offset(offset)
    )
    return list(rows), count


def get_rule(session: Session, model: Any, *, rule_id: int) -> Any:
    return session.get(model, rule_id)


def orders_this_month(
    session: Session, *, role: str, party: str, start: datetime, end: datetime
) -> int:
    """Distinct orders that paid `party` as `role` in [start, end)."""
    return (
        session.scalar(
            select(func.count(func.distinct(Settlement.order_id)))
            .join(Payout, Payout.settlement_id == Settlement.id)
            .where(
                Payout.payee_kind == role,
                Payout.payee_id == party,
                Settlement.created_at >= start,
                Settlement.created_at < end,
            )
        )
        or 0
    )


# ---- the settlement run, statements, finance views ------------------------------------------


def accrued_totals(
    session: Session, *, start: datetime, end: datetime
) -> list[tuple[str, str, str, str, Decimal, int]]:
    """(region, payee kind, payee id, currency, total, settlements) owed by the accrued
    (periodic) settlements of [start, end)."""
    rows = session.execute(
        select(
            Settlement.region,
            Payout.payee_kind,
            Payout.payee_id,
            Payout.currency,
            func.sum(Payout.amount),
            func.count(func.distinct(Settlement.id)),
        )
        .join(Payout, Payout.settlement_id == Settlement.id)
        .where(
            Settlement.status == "accrued",
            Settlement.created_at >= start,
            Settlement.created_at < end,
        )
        .group_by(Settlement.region, Payout.payee_kind, Payout.payee_id, Payout.currency)
        .order_by(Settlement.region, Payout.payee_kind, Payout.payee_id, Payout.currency)
    )
    return [(r, k, i, c, Decimal(t), n) for r, k, i, c, t, n in rows]


def mark_accrued_paid(session: Session, *, start: datetime, end: datetime) -> int:
    """Marks the accrued settlements of [start, end) paid; returns how many."""
    result = session.execute(
        update(Settlement)
        .where(
            Settlement.status == "accrued",
            Settlement.created_at >= start,
            Settlement.created_at < end,
        )
        .values(status="paid")
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def insert_statements(session: Session, rows: list[dict[str, Any]]) -> None:
    for i in range(0, len(rows), 5000):
        session.execute(insert(Statement), rows[i : i + 5000])


def party_totals(
    session: Session, *, start: datetime, end: datetime
) -> list[tuple[str, str, str, str, Decimal, int]]:
    """(kind, id, party_path, currency, total, lines) of every payee paid in [start, end)."""
    rows = session.execute(
        select(
            Payout.payee_kind,
            Payout.payee_id,
            func.max(Payout.party_path),
            Payout.currency,
            func.sum(Payout.amount),
            func.count(),
        )
        .join(Settlement, Settlement.id == Payout.settlement_id)
        .where(
            Settlement.status == "paid",
            Settlement.created_at >= start,
            Settlement.created_at < end,
        )
        .group_by(Payout.payee_kind, Payout.payee_id, Payout.currency)
    )
    return [(k, i, p or "", c, Decimal(t), n) for k, i, p, c, t, n in rows]


def statements_of(session: Session, *, period: str) -> dict[tuple[str, str, str], Statement]:
    rows = session.scalars(select(Statement).where(Statement.period == period))
    return {(s.party_kind, s.party_id, s.currency): s for s in rows}


def get_statement(session: Session, *, statement_id: int, lock: bool = False) -> Statement | None:
    query = select(Statement).where(Statement.id == statement_id)
    if lock:
        query = query.with_for_update()
    return session.scalar(query)


def page_statements(
    session: Session,
    *,
    visible: ColumnElement[bool],
    period: str | None,
    party_kind: str | None,
    status: str | None,
    limit: int,
    offset: int,
) -> tuple[list[Statement], int]:
    query = select(Statement).where(visible)
    if period:
        query = query.where(Statement.period == period)
    if party_kind:
        query = query.where(Statement.party_kind == party_kind)
    if status:
        query = query.where(Statement.status == status)
    count = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(Statement.period.desc(), Statement.party_kind, Statement.party_id)
        .limit(limit)
        .offset(offset)
    )
    return list(rows), count


def statement_lines(
    session: Session, *, statement: Statement, start: datetime, end: datetime
) -> list[tuple[Settlement, Payout]]:
    rows = session.execute(
        select(Settlement, Payout)
        .join(Payout, Payout.settlement_id == Settlement.id)
        .where(
            Payout.payee_kind == statement.party_kind,
            Payout.payee_id == statement.party_id,
            Payout.currency == statement.currency,
            Settlement.status == "paid",
            Settlement.created_at >= start,
            Settlement.created_at < end,
        )
        .order_by(Settlement.created_at, Settlement.id, Payout.id)
    )
    return [(s, p) for s, p in rows]


def _month(session: Session, column: Any) -> ColumnElement[Any]:
    """SQL: the China-time month ("2026-11") of a UTC timestamp column."""
    if session.get_bind().dialect.name == "postgresql":
        return func.to_char(func.timezone("Asia/Shanghai", column), "YYYY-MM")
    return func.strftime("%Y-%m", column, "+8 hours")


def totals(
    session: Session,
    *,
    scope_path: str,
    group_by: str,
    start: datetime | None,
    end: datetime | None,
    region: str | None,
    status: str | None,
    party_kind: str | None,
) -> list[tuple[str, str, Decimal, int]]:
    """(key, currency, total, count) of settled money under `scope_path`, grouped by
    period, region, status or party (payee kind:id)."""
    by_party = group_by == "party" or party_kind is not None
    amount = Payout.amount if by_party else Settlement.amount
    keys: dict[str, Any] = {
        "period": _month(session, Settlement.created_at),
        "region": Settlement.region,
        "status": Settlement.status,
        "party": (Payout.payee_kind + literal(":", String) + Payout.payee_id),
    }
    key = keys[group_by]
    currency = Payout.currency if by_party else Settlement.currency
    query = (
        select(key, currency, func.sum(amount), func.count())
        .select_from(Settlement)
        .where(under(Settlement.org_path, scope_path))
    )
    if by_party:
        query = query.join(Payout, Payout.settlement_id == Settlement.id)
    if start is not None:
        query = query.where(Settlement.created_at >= start)
    if end is not None:
        query = query.where(Settlement.created_at < end)
    if region:
        query = query.where(Settlement.region == region)
    if status:
        query = query.where(Settlement.status == status)
    if party_kind:
        query = query.where(Payout.payee_kind == party_kind)
    rows = session.execute(query.group_by(key, currency).order_by(key, currency))
    return [(str(k), c, Decimal(t or 0), n) for k, c, t, n in rows]
