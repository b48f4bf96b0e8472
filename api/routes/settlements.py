"""Settlements for finance: what each order settled for, within the caller's scope."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from api.deps import MoneyReader, SessionDep, require_roles
from api.schemas import ERRORS, Page, SettlementPublic, page_of
from servflow.billing import service as billing
from servflow.org.rules import Principal
from servflow.platform.base import utcnow

router = APIRouter(prefix="/api", tags=["settlements"])
Approver = Annotated[Principal, Depends(require_roles("finance", "hq_admin"))]


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
    found = billing.search_settlements(
        session,
        scope_path=user.scope_path,
        region=region,
        start=_aware(start),
        end=_aware(end),
        limit=limit,
        offset=offset,
    )
    return page_of(found, SettlementPublic.model_validate)


@router.post(
    "/settlements/{settlement_id}/approve", response_model=SettlementPublic, responses=ERRORS
)
def approve_settlement(
    settlement_id: Annotated[int, Path(ge=1, le=2**63 - 1)], session: SessionDep, user: Approver
) -> SettlementPublic:
    """Pays out a held settlement (finance or HQ admin, within their scope): its payouts are
    written and it turns "paid". Approving a paid settlement changes nothing and answers
    the same; a settlement out of scope is reported as missing (404)."""
    settlement = billing.approve_settlement(
        session,
        settlement_id=settlement_id,
        scope_path=user.scope_path,
        by=user.username,
        now=utcnow(),
    )
    session.commit()
    return SettlementPublic.model_validate(settlement)


def _aware(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)
