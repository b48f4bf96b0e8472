"""The monthly settlement run, statements per party and period (confirmed or disputed by
the party), finance totals, and their CSV and Excel exports."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import ColumnElement
from sqlalchemy.orm import Session

from servflow.billing import repo
from servflow.billing.models import Statement
from servflow.billing.rules import period_bounds
from servflow.dispatch import service as dispatch
from servflow.ledger import service as ledger
from servflow.org import service as org
from servflow.org.rules import Principal
from servflow.platform import effects
from servflow.platform.errors import Conflict, Forbidden, Invalid, NotFound
from servflow.platform.scope import in_scope, under

RUN_ACTIVITY = "settlement_run"
GROUPS = ("period", "region", "party", "status")
STATEMENT_HEADERS = ("工单号", "里程碑", "结算时间", "角色", "收款方", "金额", "币种", "状态")
TOTAL_HEADERS = {"period": "期间", "region": "区域", "party": "收款方", "status": "状态"}
ROLE_ZH = {
    "hq": "总部",
    "region": "大区",
    "branch": "分公司",
    "outlet": "网点",
    "agent": "代理商",
    "engineer": "工程师",
}
STATUS_ZH = {"paid": "已付", "held": "待审批", "accrued": "月结待付"}


@dataclass(frozen=True)
class RunReport:
    """What one monthly run did (stored under its once-only key)."""

    period: str
    applied: bool
    accrued_paid: int
    statements: int
    total: str
    checkpoints: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "period": self.period,
            "applied": self.applied,
            "accrued_paid": self.accrued_paid,
            "statements": self.statements,
            "total": self.total,
            "checkpoints": self.checkpoints,
        }


def run_period(
    session: Session, *, period: str, now: datetime, key: Ed25519PrivateKey | None = None
) -> RunReport:
    """Settles month `period` once: pays out its accrued (periodic) settlements — one
    ledger payout per party and currency — marks them paid, writes every party's
    statement of what it was paid that month, and signs checkpoints of the ledger heads.

    Guarded by the once-only effect key `settlement-run:<period>`, claimed as the
    transaction's first write: a second run, a retry after a crash (the first run's
    transaction rolled back with it) or a concurrent one applies nothing and answers
    the stored report. The caller commits.

    Raises:
        Invalid: `period` is not a month (field `period`).
    """
    try:
        start, end = period_bounds(period)
    except ValueError as exc:
        raise Invalid(str(exc), errors={"period": "a month like 2026-11"}) from None
    guard = f"settlement-run:{period}"
    if not effects.claim(session, idempotency_key=guard, activity=RUN_ACTIVITY, now=now):
        return _stored_report(session, guard, period)
    _pay_accrued(session, start=start, end=end, period=period, now=now)
    paid = repo.mark_accrued_paid(session, start=start, end=end)
    count, total = _write_statements(session, start=start, end=end, period=period, now=now)
    signed = ledger.sign_checkpoints(session, key=key, now=now) if key is not None else []
    report = RunReport(period, True, paid, count, str(total), len(signed))
    effects.save_result(session, idempotency_key=guard, result=report.as_dict())
    return report


def _stored_report(session: Session, guard: str, period: str) -> RunReport:
    """What the run that claimed `guard` first reported, as not applied by this one."""
    stored = effects.stored_result(session, idempotency_key=guard) or {}
    if stored:
        return RunReport(**{**stored, "applied": False})
    return RunReport(period, False, 0, 0, "0", 0)


def _write_statements(
    session: Session, *, start: datetime, end: datetime, period: str, now: datetime
) -> tuple[int, Decimal]:
    """Every party's statement of what it was paid in the month (a statement written by an
    earlier run is brought up to date); how many, and their total."""
    existing = repo.statements_of(session, period=period)
    total = Decimal(0)
    count = 0
    new: list[dict[str, Any]] = []
    for kind, party, path, currency, amount, lines in repo.party_totals(
        session, start=start, end=end
    ):
        statement = existing.get((kind, party, currency))
        if statement is None:
            new.append(
                {
                    "period": period,
                    "party_kind": kind,
                    "party_id": party,
                    "party_path": path,
                    "currency": currency,
                    "total": amount,
                    "lines": lines,
                    "status": "open",
                    "dispute_reason": "",
                    "answered_by": "",
                    "created_at": now,
                }
            )
        else:
            statement.total, statement.lines = amount, lines
        total += amount
        count += 1
    repo.insert_statements(session, new)
    session.flush()
    return count, total


def _pay_accrued(
    session: Session, *, start: datetime, end: datetime, period: str, now: datetime
) -> None:
    """One ledger payout per party and currency of what the month's accrued (periodic)
    settlements owe it, in each region's stream."""
    by_stream: dict[str, list[ledger.Movement]] = defaultdict(list)
    for region, kind, payee, currency, amount, _ in repo.accrued_totals(
        session, start=start, end=end
    ):
        if amount <= 0:
            continue
        party = f"{kind}:{payee}"
        by_stream[region or "hq"].append(
            ledger.Movement(
                kind="payout",
                debit=f"payable:{party}",
                credit=f"cash:{currency}",
                amount=amount,
                currency=currency,
                ref=f"run:{period}",
                party=party,
                period=period,
                memo=f"{period} 月结",
            )
        )
    for stream, movements in sorted(by_stream.items()):
        ledger.post_many(session, stream=stream, movements=movements, now=now)


# ---- statements ----------------------------------------------------------------------------


def _statement_scope(scope_path: str) -> ColumnElement[bool]:
    return under(Statement.party_path, scope_path)


def page_statements(
    session: Session,
    *,
    scope_path: str,
    period: str | None,
    party_kind: str | None,
    status: str | None,
    limit: int,
    offset: int,
) -> tuple[list[Statement], int]:
    """Statements of parties within the caller's scope."""
    return repo.page_statements(
        session,
        visible=_statement_scope(scope_path),
        period=period,
        party_kind=party_kind,
        status=status,
        limit=limit,
        offset=offset,
    )


def find_statement(session: Session, *, statement_id: int, user: Principal) -> Statement:
    """A statement the caller may read: a party within their scope, or their own
    (an engineer's).

    Raises:
        NotFound: none such for this caller.
    """
    statement = repo.get_statement(session, statement_id=statement_id)
    if statement is None or not _may_read(session, statement, user):
        raise NotFound(f"no statement {statement_id}")
    return statement


def _own(session: Session, statement: Statement, user: Principal) -> bool:
    """True when the caller is the party: its own unit (same path), or its engineer."""
    if statement.party_kind == "engineer":
        engineer = dispatch.engineer_of(
            session, engineer_id=dispatch.engineer_id_of(session, user_id=user.id)
        )
        return engineer is not None and engineer.code == statement.party_id
    return bool(statement.party_path) and user.scope_path == statement.party_path


def _may_read(session: Session, statement: Statement, user: Principal) -> bool:
    managers = user.has("finance", "hq_admin", "region_manager", "outlet_manager")
    if managers and in_scope(statement.party_path, user.scope_path):
        return True
    return _own(session, statement, user)


def answer_statement(
    session: Session,
    *,
    statement_id: int,
    user: Principal,
    confirm: bool,
    reason: str,
    now: datetime,
) -> Statement:
    """The party confirms its statement, or disputes it with a reason (kept). Only the
    party answers (its own unit's users with a money or manager role, or its engineer);
    an answered statement is not answered again.

    Raises:
        NotFound: not visible to the caller. Forbidden: visible, but not the caller's own.
        Invalid: a dispute without a reason. Conflict: answered already.
    """
    statement = find_statement(session, statement_id=statement_id, user=user)
    statement = repo.get_statement(session, statement_id=statement.id, lock=True) or statement
    if not _own(session, statement, user) or user.via_api_key:
        raise Forbidden("only the party itself confirms or disputes its statement")
    if not confirm and not reason.strip():
        raise Invalid("reason: say what is disputed", errors={"reason": "required"})
    if statement.status != "open":
        raise Conflict(f"statement {statement_id} was {statement.status} already")
    statement.status = "confirmed" if confirm else "disputed"
    statement.dispute_reason = "" if confirm else reason.strip()[:1000]
    statement.answered_by, statement.answered_at = user.username, now
    session.flush()
    return statement


def statement_rows(session: Session, *, statement: Statement) -> list[list[str]]:
    """The statement's lines, one per payout, as the export shows them."""
    start, end = period_bounds(statement.period)
    return [
        [
            settlement.order_id,
            settlement.milestone,
            settlement.created_at.isoformat(timespec="seconds"),
            ROLE_ZH.get(payout.payee_kind, payout.payee_kind),
            payout.payee_id,
            str(payout.amount),
            payout.currency,
            STATUS_ZH.get(settlement.status, settlement.status),
        ]
        for settlement, payout in repo.statement_lines(
            session, statement=statement, start=start, end=end
        )
    ]


# ---- finance views -------------------------------------------------------------------------


def totals(
    session: Session,
    *,
    scope_path: str,
    group_by: str,
    start: datetime | None = None,
    end: datetime | None = None,
    region: str | None = None,
    status: str | None = None,
    party_kind: str | None = None,
) -> list[dict[str, Any]]:
    """Settled money within the caller's scope, grouped by period (China-time month),
    region, party or status, with filters. Test runs are not there: a test run's
    settlement is simulated and never written.

    Raises:
        Invalid: an unknown grouping (field `group_by`).
    """
    if group_by not in GROUPS:
        raise Invalid(f"group_by: one of {', '.join(GROUPS)}", errors={"group_by": "unknown"})
    if region:
        unit = org.find_region(session, code_or_name=region)
        region = unit.code if unit else region
    rows = repo.totals(
        session,
        scope_path=scope_path,
        group_by=group_by,
        start=start,
        end=end,
        region=region,
        status=status,
        party_kind=party_kind,
    )
    return [
        {"key": key, "currency": currency, "total": total, "count": count}
        for key, currency, total, count in rows
    ]


def to_csv(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> bytes:
    """UTF-8 CSV with a byte-order mark (Excel opens Chinese text right)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(headers)
    writer.writerows([[_cell(v) for v in row] for row in rows])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def to_xlsx(title: str, headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> bytes:
    """An Excel workbook of one sheet; amounts as numbers."""
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = title[:31]
    sheet.append(list(headers))
    for row in rows:
        sheet.append([_number(v) for v in row])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _cell(value: Any) -> str:
    text = str(value)
    # A cell starting with = + - @ is a formula to a spreadsheet: never from data.
    return "'" + text if text[:1] in ("=", "+", "-", "@") and not _is_number(text) else text


def _is_number(text: str) -> bool:
    try:
        Decimal(text)
    except ArithmeticError:
        return False
    return True


def _number(value: Any) -> Any:
    if isinstance(value, Decimal):
        return value
    text = str(value)
    if _is_number(text) and "." in text:
        return Decimal(text)
    return _cell(text)


def totals_rows(group_by: str, data: list[dict[str, Any]]) -> tuple[list[str], list[list[Any]]]:
    headers = [TOTAL_HEADERS[group_by], "币种", "金额合计", "笔数"]
    return headers, [[d["key"], d["currency"], d["total"], d["count"]] for d in data]
