"""Region price tables."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from servflow.billing.models import PriceTable


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
