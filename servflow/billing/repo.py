"""Queries of price tables and settlements."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, joinedload, selectinload

from servflow.billing.models import PriceTable, Settlement
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
