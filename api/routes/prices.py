"""Price rules and revenue-share agreements: read (scoped, with the frames above), add a
version, retire, quote a job. HQ sets the frame; regions adjust within its bounds."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from api.deps import IdPath, SessionDep, require_roles
from api.schemas import ERRORS, Page, page_of
from servflow.billing import pricing
from servflow.billing.models import PriceRule, ShareAgreement
from servflow.org.rules import MASTER_DATA_ROLES, MONEY_ROLES, Principal
from servflow.platform.base import utcnow

router = APIRouter(prefix="/api", tags=["prices"])
PriceReader = Annotated[Principal, Depends(require_roles(*MONEY_ROLES, *MASTER_DATA_ROLES))]
PriceEditor = Annotated[Principal, Depends(require_roles("finance", *MASTER_DATA_ROLES))]
Code = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_.-]{0,63}$")]
JobType = Annotated[str, Field(pattern=r"^(\*|[a-z][a-z0-9_]{0,63})?$")]
Condition = Annotated[str, Field(max_length=500)]


class PriceRuleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: Code
    kind: Literal["rate", "coefficient", "surcharge", "tax", "fx", "deduction"]
    unit: str | None = Field(default=None, max_length=64, description="org unit code; none: HQ")
    job_type: JobType = "*"
    condition: Condition = ""
    body: dict[str, Any] = Field(description="the kind's fields; amounts as text")
    currency: str = Field(default="CNY", pattern=r"^[A-Z]{3}$")
    valid_from: datetime
    valid_to: datetime | None = None


class PriceRulePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    code: str
    version: int
    kind: str
    scope_path: str
    job_type: str
    condition: str
    body: dict[str, Any]
    currency: str
    valid_from: datetime
    valid_to: datetime | None
    retired_at: datetime | None
    created_by: str


class PartyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Literal["hq", "region", "branch", "outlet", "agent", "engineer"]
    party: str = Field(min_length=1, max_length=64, description="code, or @outlet/@branch/...")
    ratio: Decimal = Field(ge=0, le=1)
    unit: str = Field(default="", max_length=64, description="the unit answering for an agent")


class TierIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: str = Field(max_length=16)
    from_role: str = Field(max_length=16)
    min_orders: int = Field(ge=1, le=10_000_000)
    ratio: Decimal = Field(ge=0, le=1)


class AgreementIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: Code
    unit: str | None = Field(default=None, max_length=64)
    job_type: JobType = "*"
    condition: Condition = ""
    parties: list[PartyIn] = Field(min_length=1, max_length=10)
    tiers: list[TierIn] = Field(default_factory=list, max_length=10)
    valid_from: datetime
    valid_to: datetime | None = None


class AgreementPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    code: str
    version: int
    scope_path: str
    job_type: str
    condition: str
    parties: list[dict[str, Any]]
    tiers: list[dict[str, Any]]
    valid_from: datetime
    valid_to: datetime | None
    retired_at: datetime | None
    created_by: str


class QuoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    job_type: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")
    region: str = Field(min_length=1, max_length=64)
    outlet: str = Field(default="", max_length=64)
    visits: int = Field(default=1, ge=1, le=100)
    hours: Decimal = Field(default=Decimal(0), ge=0, le=1000)
    parts_total: Decimal = Field(default=Decimal(0), ge=0, le=Decimal("1e9"))
    distance_km: Decimal = Field(default=Decimal(0), ge=0, le=20000)
    cross_region: bool = False
    urgent: bool = False
    at: datetime | None = None
    currency: str = Field(default="CNY", pattern=r"^[A-Z]{3}$")


class QuoteLine(BaseModel):
    kind: str
    label: str
    amount: Decimal
    rule_id: int | None
    rule: str
    detail: str


class QuotePublic(BaseModel):
    currency: str
    total: Decimal
    lines: list[QuoteLine]


@router.get("/price-rules", response_model=Page[PriceRulePublic], responses=ERRORS)
def read_price_rules(
    session: SessionDep,
    user: PriceReader,
    code: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> Page[PriceRulePublic]:
    """Price rules in the caller's scope, and the HQ and region frames above it."""
    found = pricing.page_rules(
        session, model=PriceRule, scope_path=user.scope_path, code=code, limit=limit, offset=offset
    )
    return page_of(found, PriceRulePublic.model_validate)


@router.post("/price-rules", response_model=PriceRulePublic, status_code=201, responses=ERRORS)
def create_price_rule(body: PriceRuleIn, session: SessionDep, user: PriceEditor) -> PriceRulePublic:
    """Adds the next version of a price rule (rate, coefficient, surcharge, tax, fx,
    deduction), scoped to `unit`
    (HQ when omitted) within the caller's scope. Below HQ a rule adjusts an HQ rule of the
    same code within the bounds HQ set; only HQ sets tax and fx."""
    rule = pricing.save_rule(
        session,
        scope_path=user.scope_path,
        by=user.username,
        code=body.code,
        kind=body.kind,
        unit=body.unit,
        job_type=body.job_type,
        condition=body.condition,
        body=body.body,
        currency=body.currency,
        valid_from=_aware(body.valid_from),
        valid_to=_aware(body.valid_to) if body.valid_to else None,
    )
    session.commit()
    return PriceRulePublic.model_validate(rule)


@router.post("/price-rules/{rule_id}/retire", response_model=PriceRulePublic, responses=ERRORS)
def retire_price_rule(rule_id: IdPath, session: SessionDep, user: PriceEditor) -> PriceRulePublic:
    """Retires a price rule version now: it prices nothing after (history keeps it)."""
    rule = pricing.retire(
        session, model=PriceRule, rule_id=rule_id, scope_path=user.scope_path, now=utcnow()
    )
    session.commit()
    return PriceRulePublic.model_validate(rule)


@router.post("/price-quote", response_model=QuotePublic, responses=ERRORS)
def quote_price(body: QuoteIn, session: SessionDep, user: PriceReader) -> QuotePublic:
    """Prices a job from the rules in force, as a settlement would; each line names the
    rule version that produced it."""
    quote = pricing.quote(
        session,
        scope_path=user.scope_path,
        request=pricing.QuoteRequest(
            job_type=body.job_type,
            region=body.region,
            outlet=body.outlet,
            visits=body.visits,
            hours=body.hours,
            parts_total=body.parts_total,
            distance_km=body.distance_km,
            cross_region=body.cross_region,
            urgent=body.urgent,
            at=_aware(body.at) if body.at else None,
            currency=body.currency,
        ),
        now=utcnow(),
    )
    return QuotePublic(
        currency=quote.currency,
        total=quote.total,
        lines=[QuoteLine(**line.row()) for line in quote.lines],
    )


@router.get("/share-agreements", response_model=Page[AgreementPublic], responses=ERRORS)
def read_share_agreements(
    session: SessionDep,
    user: PriceReader,
    code: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> Page[AgreementPublic]:
    """Revenue-share agreements in the caller's scope and above it."""
    found = pricing.page_rules(
        session,
        model=ShareAgreement,
        scope_path=user.scope_path,
        code=code,
        limit=limit,
        offset=offset,
    )
    return page_of(found, AgreementPublic.model_validate)


@router.post("/share-agreements", response_model=AgreementPublic, status_code=201, responses=ERRORS)
def create_share_agreement(
    body: AgreementIn, session: SessionDep, user: PriceEditor
) -> AgreementPublic:
    """Adds the next version of a revenue-share agreement (ratios summing to 1, tiers)."""
    agreement = pricing.save_agreement(
        session,
        scope_path=user.scope_path,
        by=user.username,
        code=body.code,
        unit=body.unit,
        job_type=body.job_type,
        condition=body.condition,
        parties=[p.model_dump(mode="json") for p in body.parties],
        tiers=[t.model_dump(mode="json") for t in body.tiers],
        valid_from=_aware(body.valid_from),
        valid_to=_aware(body.valid_to) if body.valid_to else None,
    )
    session.commit()
    return AgreementPublic.model_validate(agreement)


@router.post(
    "/share-agreements/{agreement_id}/retire", response_model=AgreementPublic, responses=ERRORS
)
def retire_share_agreement(
    agreement_id: IdPath, session: SessionDep, user: PriceEditor
) -> AgreementPublic:
    """Retires an agreement version now."""
    agreement = pricing.retire(
        session,
        model=ShareAgreement,
        rule_id=agreement_id,
        scope_path=user.scope_path,
        now=utcnow(),
    )
    session.commit()
    return AgreementPublic.model_validate(agreement)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
