"""Price rules: saving versions within the caller's price permissions, retiring them,
reading them, and pricing a job (a quote, or a settlement) from the rules in force."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, or_
from sqlalchemy.orm import Session

from servflow.billing import repo
from servflow.billing.models import PriceRule, ShareAgreement
from servflow.billing.rules import (
    HQ_ONLY_KINDS,
    PERIOD_ZONE,
    PriceFacts,
    Quote,
    Rule,
    check_condition,
    check_parties,
    check_rule_body,
    check_tiers,
    holds,
    outside_bounds,
    price_with_rules,
)
from servflow.org import service as org
from servflow.platform.errors import Invalid, NotFound
from servflow.platform.scope import in_scope, under

CURRENCIES = ("CNY", "HKD", "USD", "EUR")
_Versioned = TypeVar("_Versioned", PriceRule, ShareAgreement)


def ancestors(path: str) -> list[str]:
    """`path` and the paths of the units above it: "/hq/huabei" → ["/hq", "/hq/huabei"]."""
    parts = [p for p in path.strip("/").split("/") if p]
    return ["/" + "/".join(parts[: i + 1]) for i in range(len(parts))]


def is_hq(scope_path: str | None) -> bool:
    """True for HQ's scope (the root unit, or None: the system itself)."""
    return scope_path is None or len(ancestors(scope_path)) == 1


def _visible(model: Any, scope_path: str) -> ColumnElement[bool]:
    """Rules scoped within the caller's scope, and the frames above it (read only)."""
    return or_(under(model.scope_path, scope_path), model.scope_path.in_(ancestors(scope_path)))


def _invalid(field: str, message: str) -> Invalid:
    return Invalid(f"{field}: {message}", errors={field: message})


def unit_path(session: Session, unit: str | None, scope_path: str | None) -> str:
    """The path of the unit a rule is scoped to (HQ when None), within the caller's scope."""
    found = org.get_unit_by_code(session, code=unit) if unit else None
    if unit and found is None:
        raise _invalid("unit", "no such org unit")
    if found is None:
        hq = ancestors(scope_path)[0] if scope_path else "/hq"
        return hq
    org.check_in_scope(found.path, scope_path, field="unit", unknown="no such org unit")
    return found.path


@contextmanager
def _naming_field() -> Iterator[None]:
    """A pure check's ValueError ("field: message") as Invalid naming the field."""
    try:
        yield
    except ValueError as exc:
        field, _, message = str(exc).partition(": ")
        raise _invalid(field, message or str(exc)) from None


def _check_window(valid_from: datetime, valid_to: datetime | None) -> None:
    if valid_to is not None and valid_to <= valid_from:
        raise _invalid("valid_to", "must be after valid_from")


def _add_version(
    session: Session,
    model: type[_Versioned],
    *,
    code: str,
    job_type: str,
    condition: str,
    **fields: Any,
) -> _Versioned:
    """Adds the next version of rule (or agreement) `code`: for every job type when none
    is named, its condition trimmed."""
    row = model(
        code=code,
        version=repo.latest_version(session, model, code=code) + 1,
        job_type=job_type or "*",
        condition=condition.strip(),
        **fields,
    )
    session.add(row)
    session.flush()
    return row


def _within_frame(
    session: Session, *, code: str, kind: str, path: str, body: dict[str, Any]
) -> dict[str, Any]:
    """A rule set below HQ: never a tax or fx rule; below HQ's own unit it adjusts an HQ
    frame (a rule of the same code at HQ, same kind) within the frame's `bounds`, and
    sets no bounds itself (they are HQ's to set)."""
    if kind in HQ_ONLY_KINDS:
        raise _invalid("kind", f"only HQ sets {kind} rules")
    hq_path = ancestors(path)[0]
    if path == hq_path:
        return body
    frames = repo.frame_rules(session, code=code, hq_path=hq_path)
    if not frames or frames[0].kind != kind:
        raise _invalid("code", f"HQ has no {kind} rule {code} to adjust")
    beyond = outside_bounds(frames[0].body, body)
    if beyond:
        field, _, message = beyond.partition(": ")
        raise _invalid(field, message)
    return {name: value for name, value in body.items() if name != "bounds"}


def save_rule(
    session: Session,
    *,
    scope_path: str | None,
    by: str,
    code: str,
    kind: str,
    unit: str | None,
    job_type: str,
    condition: str,
    body: Mapping[str, Any],
    currency: str,
    valid_from: datetime,
    valid_to: datetime | None,
) -> PriceRule:
    """Adds the next version of price rule `code`, scoped to `unit` (HQ when None).

    Price permissions: a rule is scoped within the caller's scope; only HQ sets tax and fx
    rules; below HQ a rule adjusts an HQ frame (a rule of the same code at HQ, same kind)
    and keeps every field within the frame's `bounds`.

    Raises:
        Invalid: naming the field (kind, body.<field>, condition, unit, currency, valid_to).
    """
    path = unit_path(session, unit, scope_path)
    with _naming_field():
        clean = check_rule_body(kind, body)
        check_condition(condition)
    if currency not in CURRENCIES:
        raise _invalid("currency", f"one of {', '.join(CURRENCIES)}")
    _check_window(valid_from, valid_to)
    if not is_hq(scope_path):
        clean = _within_frame(session, code=code, kind=kind, path=path, body=clean)
    return _add_version(
        session,
        PriceRule,
        code=code,
        job_type=job_type,
        condition=condition,
        kind=kind,
        scope_path=path,
        body=clean,
        currency=currency,
        valid_from=valid_from,
        valid_to=valid_to,
        created_by=by,
    )


def retire(
    session: Session, *, model: Any, rule_id: int, scope_path: str | None, now: datetime
) -> Any:
    """Retires a price rule (or agreement) version from `now`: it prices nothing after.
    Retiring one retired already changes nothing.

    Raises:
        NotFound: no such rule within the caller's scope (frames above it cannot be
            retired by the caller).
    """
    rule = repo.get_rule(session, model, rule_id=rule_id)
    if rule is None or not org.visible(rule.scope_path, scope_path):
        raise NotFound(f"no {model.__tablename__.replace('_', ' ')} {rule_id}")
    if rule.retired_at is None:
        rule.retired_at = now
        session.flush()
    return rule


def page_rules(
    session: Session, *, model: Any, scope_path: str, code: str | None, limit: int, offset: int
) -> tuple[list[Any], int]:
    """Rules (or agreements) the caller may see: within their scope, and the HQ and
    region frames above it."""
    return repo.page_rules(
        session,
        model,
        visible=_visible(model, scope_path),
        code=code,
        limit=limit,
        offset=offset,
    )


def _rule(row: PriceRule) -> Rule:
    return Rule(
        id=row.id,
        code=row.code,
        version=row.version,
        kind=row.kind,
        scope_path=row.scope_path,
        job_type=row.job_type,
        condition=row.condition,
        body=row.body,
        currency=row.currency,
        valid_from=row.valid_from,
    )


def rules_for(session: Session, *, path: str, at: datetime) -> list[Rule]:
    """The price rules in force at `at` for an order at `path` (its unit and those above)."""
    return [_rule(r) for r in repo.rules_in_force(session, paths=ancestors(path), at=at)]


@dataclass(frozen=True)
class QuoteRequest:
    job_type: str
    region: str
    outlet: str = ""
    visits: int = 1
    hours: Decimal = Decimal(0)
    parts_total: Decimal = Decimal(0)
    distance_km: Decimal = Decimal(0)
    cross_region: bool = False
    urgent: bool = False
    at: datetime | None = None
    currency: str = "CNY"


def quote(
    session: Session, *, scope_path: str | None, request: QuoteRequest, now: datetime
) -> Quote:
    """Prices a job as a settlement would, from the rules in force (`request.at`, else now)
    for its region (and outlet); lines name the rule versions.

    Raises:
        Invalid: an unknown region or outlet (or one outside the caller's scope), no rate
            for the job type, no exchange rate, a failing condition.
    """
    region = org.region_in_scope(session, code_or_name=request.region, scope_path=scope_path)
    path = region.path
    if request.outlet:
        outlet = org.get_unit_by_code(session, code=request.outlet)
        if outlet is None or not in_scope(outlet.path, region.path):
            raise _invalid("outlet", "no such outlet in the region")
        path = outlet.path
    at = request.at or now
    local = at.astimezone(PERIOD_ZONE)
    facts = PriceFacts(
        job_type=request.job_type,
        region=region.code,
        visits=request.visits,
        hours=request.hours,
        distance_km=request.distance_km,
        parts_total=request.parts_total,
        cross_region=request.cross_region,
        urgent=request.urgent,
        night=local.hour >= 22 or local.hour < 6,
        weekend=local.weekday() >= 5,
    )
    try:
        return price_with_rules(
            rules_for(session, path=path, at=at), facts, currency=request.currency
        )
    except LookupError as exc:
        raise _invalid("job_type", str(exc).strip("'\"")) from None
    except ValueError as exc:
        raise _invalid("condition", str(exc)) from None


# ---- revenue-share agreements --------------------------------------------------------------


def save_agreement(
    session: Session,
    *,
    scope_path: str | None,
    by: str,
    code: str,
    unit: str | None,
    job_type: str,
    condition: str,
    parties: list[Mapping[str, Any]],
    tiers: list[Mapping[str, Any]],
    valid_from: datetime,
    valid_to: datetime | None,
) -> ShareAgreement:
    """Adds the next version of agreement `code` scoped to `unit` (HQ when None).

    Raises:
        Invalid: naming the field (parties[i].ratio, tiers[i], condition, unit, ...).
    """
    path = unit_path(session, unit, scope_path)
    with _naming_field():
        clean = check_parties(parties)
        clean_tiers = check_tiers(tiers, [p["role"] for p in clean])
        check_condition(condition)
    for i, party in enumerate(clean):
        if party["unit"] and org.get_unit_by_code(session, code=party["unit"]) is None:
            raise _invalid(f"parties[{i}].unit", "no such org unit")
    _check_window(valid_from, valid_to)
    return _add_version(
        session,
        ShareAgreement,
        code=code,
        job_type=job_type,
        condition=condition,
        scope_path=path,
        parties=clean,
        tiers=clean_tiers,
        valid_from=valid_from,
        valid_to=valid_to,
        created_by=by,
    )


def agreement_for(
    session: Session, *, path: str, job_type: str, facts: PriceFacts, at: datetime
) -> ShareAgreement | None:
    """The agreement that splits an order's money: in force, scoped to the order's unit
    or above (the most specific wins, then the latest), for its job type, whose condition
    holds."""
    best: ShareAgreement | None = None
    for row in repo.agreements_in_force(session, paths=ancestors(path), at=at):
        if row.job_type not in ("*", job_type):
            continue
        probe = Rule(
            row.id,
            row.code,
            row.version,
            "agreement",
            row.scope_path,
            row.job_type,
            row.condition,
            {},
            "CNY",
        )
        if not holds(probe, facts):
            continue
        key = (row.scope_path.count("/"), row.job_type == job_type, row.valid_from, row.version)
        if best is None or key > (
            best.scope_path.count("/"),
            best.job_type == job_type,
            best.valid_from,
            best.version,
        ):
            best = row
    return best
