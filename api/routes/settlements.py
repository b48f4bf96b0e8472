"""Settlements for finance: what each order settled for, within the caller's scope."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query

from api.deps import MoneyReader, SessionDep
from api.schemas import ERRORS, Page, SettlementPublic
from servflow.billing import service as billing

router = APIRouter(prefix="/api", tags=["settlements"])


@router.get("/settlements", response_model=Page[SettlementPublic], responses=ERRORS)
def read_settlements(
    session: SessionDep,
    user: MoneyReader,
    region: Annotated[str | None, Query(max_length=64)] = None,
    start: Annotated[datetime | None, Query(alias="from")] = None,
    end: Annotated[datetime | None, Query(alias="to")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> Page[SettlementPublic]:
    """Settlements of orders in the caller's scope, newest first; `from`/`to` bound the
    time they were recorded (`to` exclusive)."""
    rows, count = billing.search_settlements(
        session,
        scope_path=user.scope_path,
        region=region,
        start=_aware(start),
        end=_aware(end),
        limit=limit,
        offset=offset,
    )
    data: list[Any] = [SettlementPublic.model_validate(r) for r in rows]
    return Page(data=data, count=count)


def _aware(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)
