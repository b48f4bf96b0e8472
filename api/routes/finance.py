"""Finance: totals and exports, the monthly settlement run, statements per party (confirmed
or disputed by the party), and the ledger (entries, checkpoints, verification, reversal)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from functools import cache
from typing import Annotated, Any, Literal

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from api.deps import CtxDep, CurrentUser, IdPath, MoneyReader, SessionDep, require_roles
from api.schemas import ERRORS, Page, page_of
from servflow.billing import statements as billing
from servflow.billing.pricing import is_hq
from servflow.ledger import service as ledger
from servflow.ledger.rules import public_key_text
from servflow.org.rules import Principal
from servflow.platform.base import utcnow
from servflow.platform.errors import Forbidden, NotFound
from servflow.platform.scope import region_code

router = APIRouter(prefix="/api", tags=["finance"])
Finance = Annotated[Principal, Depends(require_roles("finance", "hq_admin"))]
Format = Literal["json", "csv", "xlsx"]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class TotalRow(BaseModel):
    key: str
    currency: str
    total: Decimal
    count: int


class RunIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    period: str = Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="the month, 2026-11")


class RunPublic(BaseModel):
    period: str
    applied: bool
    accrued_paid: int
    statements: int
    total: Decimal
    checkpoints: int


class StatementPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    period: str
    party_kind: str
    party_id: str
    currency: str
    total: Decimal
    lines: int
    status: str
    dispute_reason: str
    answered_by: str
    answered_at: datetime | None


class DisputeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=1000)


class EntryPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    stream: str
    seq: int
    kind: str
    debit_account: str
    credit_account: str
    amount: Decimal
    currency: str
    ref: str
    party: str
    period: str
    memo: str
    reverses_seq: int | None
    occurred_at: datetime
    prev_hash: str
    hash: str


class CheckpointDoc(BaseModel):
    model_config = ConfigDict(extra="ignore")

    stream: str = Field(max_length=64)
    seq: int = Field(ge=1, le=2**62)
    head_hash: str = Field(max_length=64)
    signed_at: str = Field(max_length=40)
    key_id: str = Field(default="", max_length=16)
    public_key: str = Field(max_length=64)
    signature: str = Field(max_length=128)


class VerifyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    checkpoints: list[CheckpointDoc] = Field(default_factory=list, max_length=100)


class BreakPublic(BaseModel):
    stream: str
    seq: int
    entry_id: int | None
    reason: str


class VerifyPublic(BaseModel):
    ok: bool
    entries: int
    streams: dict[str, int]
    checkpoints_held: int
    first_broken: list[BreakPublic]
    summary: str


class ReverseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=300)


# ---- totals --------------------------------------------------------------------------------


@router.get("/finance/totals", response_model=list[TotalRow], responses=ERRORS)
def read_totals(
    session: SessionDep,
    user: MoneyReader,
    group_by: Literal["period", "region", "party", "status"] = "period",
    start: Annotated[datetime | None, Query(alias="from")] = None,
    end: Annotated[datetime | None, Query(alias="to")] = None,
    region: Annotated[str | None, Query(max_length=64)] = None,
    status: Literal["paid", "held", "accrued"] | None = None,
    party_kind: Literal["hq", "region", "branch", "outlet", "agent", "engineer"] | None = None,
    format: Format = "json",
) -> Any:
    """Settled money in the caller's scope by period (China-time month), region, party or
    status; `from`/`to` bound the settlement time (`to` exclusive). Test runs are never
    settled, so never counted. `format=csv|xlsx` downloads it (Chinese headers)."""
    data = billing.totals(
        session,
        scope_path=user.scope_path,
        group_by=group_by,
        start=_aware(start),
        end=_aware(end),
        region=region,
        status=status,
        party_kind=party_kind,
    )
    if format == "json":
        return [TotalRow(**row) for row in data]
    headers, rows = billing.totals_rows(group_by, data)
    return _download(format, f"totals-{group_by}", "汇总", headers, rows)


# ---- the settlement run and statements ---------------------------------------------------


@router.post("/settlement-runs", response_model=RunPublic, responses=ERRORS)
def run_settlement(body: RunIn, ctx: CtxDep, session: SessionDep, user: Finance) -> RunPublic:
    """Runs month `period` now (the Temporal Schedule runs the past month on the 1st):
    pays accrued settlements, writes every party's statement, signs ledger checkpoints.
    Once per month: a second run answers the first run's report with `applied` false.
    HQ's finance only."""
    if not is_hq(user.scope_path):
        raise Forbidden("the settlement run settles every region: HQ finance runs it")
    report = billing.run_period(session, period=body.period, now=utcnow(), key=_ledger_key(ctx))
    session.commit()
    return RunPublic(**report.as_dict())


@router.get("/statements", response_model=Page[StatementPublic], responses=ERRORS)
def read_statements(
    session: SessionDep,
    user: MoneyReader,
    period: Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}$")] = None,
    party_kind: Annotated[str | None, Query(max_length=16)] = None,
    status: Literal["open", "confirmed", "disputed"] | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> Page[StatementPublic]:
    """Statements of the parties within the caller's scope."""
    found = billing.page_statements(
        session,
        scope_path=user.scope_path,
        period=period,
        party_kind=party_kind,
        status=status,
        limit=limit,
        offset=offset,
    )
    return page_of(found, StatementPublic.model_validate)


@router.get("/statements/{statement_id}", response_model=StatementPublic, responses=ERRORS)
def read_statement(statement_id: IdPath, session: SessionDep, user: CurrentUser) -> StatementPublic:
    """A statement: of a party in the caller's scope, or the caller's own."""
    statement = billing.find_statement(session, statement_id=statement_id, user=user)
    return StatementPublic.model_validate(statement)


@router.get("/statements/{statement_id}/export", responses=ERRORS)
def export_statement(
    statement_id: IdPath,
    session: SessionDep,
    user: CurrentUser,
    format: Literal["csv", "xlsx"] = "csv",
) -> Response:
    """The statement's lines (one per payout) as CSV or Excel, headers in Chinese."""
    statement = billing.find_statement(session, statement_id=statement_id, user=user)
    rows: list[list[Any]] = [*billing.statement_rows(session, statement=statement)]
    rows.append(
        ["合计", "", "", "", statement.party_id, str(statement.total), statement.currency, ""]
    )
    name = f"statement-{statement.period}-{statement.party_kind}-{statement.party_id}"
    return _download(format, name, f"对账单 {statement.period}", billing.STATEMENT_HEADERS, rows)


@router.post("/statements/{statement_id}/confirm", response_model=StatementPublic, responses=ERRORS)
def confirm_statement(
    statement_id: IdPath, session: SessionDep, user: CurrentUser
) -> StatementPublic:
    """The party confirms its statement."""
    statement = billing.answer_statement(
        session, statement_id=statement_id, user=user, confirm=True, reason="", now=utcnow()
    )
    session.commit()
    return StatementPublic.model_validate(statement)


@router.post("/statements/{statement_id}/dispute", response_model=StatementPublic, responses=ERRORS)
def dispute_statement(
    statement_id: IdPath, body: DisputeIn, session: SessionDep, user: CurrentUser
) -> StatementPublic:
    """The party disputes its statement; the reason is kept."""
    statement = billing.answer_statement(
        session,
        statement_id=statement_id,
        user=user,
        confirm=False,
        reason=body.reason,
        now=utcnow(),
    )
    session.commit()
    return StatementPublic.model_validate(statement)


# ---- the ledger ----------------------------------------------------------------------------


def _streams_of(user: Principal) -> str | None:
    """The ledger stream a caller below HQ may read (its region's); None: every stream."""
    return None if is_hq(user.scope_path) else (region_code(user.scope_path) or "-")


@router.get("/ledger/entries", response_model=Page[EntryPublic], responses=ERRORS)
def read_ledger_entries(
    session: SessionDep,
    user: MoneyReader,
    stream: Annotated[str | None, Query(max_length=64)] = None,
    ref: Annotated[str | None, Query(max_length=120)] = None,
    party: Annotated[str | None, Query(max_length=160)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> Page[EntryPublic]:
    """Journal entries by stream and seq; below HQ only the caller's region's stream."""
    own = _streams_of(user)
    if own is not None:
        if stream not in (None, own):
            raise NotFound(f"no ledger stream {stream}")
        stream = own
    found = ledger.page_entries(
        session, stream=stream, ref=ref, party=party, limit=limit, offset=offset
    )
    return page_of(found, EntryPublic.model_validate)


@router.post(
    "/ledger/entries/{stream}/{seq}/reverse",
    response_model=EntryPublic,
    status_code=201,
    responses=ERRORS,
)
def reverse_ledger_entry(
    stream: Annotated[str, Path(max_length=64)],
    seq: IdPath,
    body: ReverseIn,
    session: SessionDep,
    user: Finance,
) -> EntryPublic:
    """Corrects an entry the only way the journal allows: a reversing entry (HQ finance)."""
    if not is_hq(user.scope_path):
        raise Forbidden("HQ finance reverses ledger entries")
    entry = ledger.reverse(
        session,
        stream=stream,
        seq=seq,
        reason=f"{body.reason} ({user.username})",
        now=utcnow(),
    )
    session.commit()
    return EntryPublic.model_validate(entry)


@router.get("/ledger/public-key", responses=ERRORS)
def read_ledger_public_key(ctx: CtxDep, user: CurrentUser) -> dict[str, str]:
    """The public key checkpoints are signed with (Ed25519, raw, base64)."""
    public = public_key_text(_ledger_key(ctx))
    return {"algorithm": "Ed25519", "public_key": public}


@router.get("/ledger/checkpoints", responses=ERRORS)
def read_checkpoints(
    session: SessionDep,
    user: CurrentUser,
    stream: Annotated[str | None, Query(max_length=64)] = None,
) -> list[dict[str, Any]]:
    """Every signed checkpoint (a party keeps a copy to check the ledger against later)."""
    return [ledger.checkpoint_document(c) for c in ledger.list_checkpoints(session, stream=stream)]


@router.get("/ledger/checkpoints/{checkpoint_id}", responses=ERRORS)
def download_checkpoint(checkpoint_id: IdPath, session: SessionDep, user: CurrentUser) -> Response:
    """One checkpoint as a JSON file to keep."""
    checkpoint = ledger.get_checkpoint(session, checkpoint_id=checkpoint_id)
    if checkpoint is None:
        raise NotFound(f"no checkpoint {checkpoint_id}")
    body = json.dumps(ledger.checkpoint_document(checkpoint), ensure_ascii=False, indent=2)
    name = f"ledger-checkpoint-{checkpoint.stream}-{checkpoint.seq}.json"
    return Response(
        body,
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.post("/ledger/checkpoints", responses=ERRORS)
def sign_checkpoints(ctx: CtxDep, session: SessionDep, user: Finance) -> list[dict[str, Any]]:
    """Signs the head of every stream now (the monthly run also does)."""
    made = ledger.sign_checkpoints(session, key=_ledger_key(ctx), now=utcnow())
    session.commit()
    return [ledger.checkpoint_document(c) for c in made]


@router.post("/ledger/verify", response_model=VerifyPublic, responses=ERRORS)
def verify_ledger(
    body: VerifyIn, ctx: CtxDep, session: SessionDep, user: MoneyReader
) -> VerifyPublic:
    """Walks every stream's chain and checks the stored checkpoints and the ones sent (a
    party's own copies); names the first broken entry of each broken stream."""
    extra = [
        ledger.held_checkpoint(c.model_dump(), source=f"your checkpoint of seq {c.seq}")
        for c in body.checkpoints
    ]
    report = ledger.verify(session, trusted_keys=[public_key_text(_ledger_key(ctx))], extra=extra)
    return VerifyPublic(
        ok=report.ok,
        entries=report.entries,
        streams=report.streams,
        checkpoints_held=report.checkpoints_held,
        first_broken=[BreakPublic(**b.__dict__) for b in report.breaks],
        summary=report.summary(),
    )


# ---- helpers -------------------------------------------------------------------------------


@cache
def _key(configured: str, demo: bool) -> Ed25519PrivateKey:
    return ledger.signing_key(configured, demo=demo)


def _ledger_key(ctx: Any) -> Ed25519PrivateKey:
    return _key(ctx.settings.ledger_key, ctx.settings.demo)


def _download(format: str, name: str, title: str, headers: Any, rows: list[list[Any]]) -> Response:
    if format == "xlsx":
        content, media = billing.to_xlsx(title, headers, rows), XLSX
        name += ".xlsx"
    else:
        content, media = billing.to_csv(headers, rows), "text/csv; charset=utf-8"
        name += ".csv"
    return Response(
        content, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )


def _aware(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)
