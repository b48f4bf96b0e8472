"""Billing use cases: price a job from the region's table, settle each milestone's share and
pay it out, list money for finance."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from servflow.billing import pricing, repo
from servflow.billing.models import Payout, PriceTable, Settlement
from servflow.billing.rules import (
    ENGINEER_SHARE,
    PERIOD_ZONE,
    SETTLEMENT_CEILING,
    JobPrice,
    PartLine,
    PriceFacts,
    Tariff,
    declared_parts,
    deductions,
    milestone_amount,
    money,
    period_bounds,
    period_of,
    price_job,
    price_with_rules,
    shares_with_tiers,
    split_largest_remainder,
    split_payout,
)
from servflow.dispatch import service as dispatch
from servflow.inventory import service as inventory
from servflow.ledger import service as ledger
from servflow.org import service as org
from servflow.platform.effects import OrderFacts, StepOutcome
from servflow.platform.errors import BusinessRuleViolation, Invalid, NotFound
from servflow.platform.scope import in_scope, region_code
from servflow.sla import service as sla
from workflows.contracts import StepInput, StepResult
from workflows.nodes.automatic import SettlementParams

list_settlements = repo.list_settlements
HOLD = "hold"
"""Breakdown key of a held settlement: why, and the payouts approval will write."""
UNPRICED = "unpriced_parts"
"""Breakdown key of the parts the catalogue could not price (the job is held)."""
FACTS = "facts"
"""Breakdown key of the facts rule pricing read (conditions of deductions read them too)."""
Payee = tuple[str, str, Decimal, str]
"""(payee kind, payee id, amount, party path)."""


def _part_lines(
    session: Session, step: StepInput, sources: list[str], currency: str
) -> tuple[list[PartLine], list[str]]:
    """The priced part lines, and the parts that cannot be priced (unknown SKU, another
    currency, a malformed line): those hold the settlement rather than fail the order."""
    try:
        used = declared_parts(step.variables, sources)
    except ValueError as exc:
        return [], [f"parts not read: {exc}"]
    catalogue = inventory.parts_by_sku(session, skus=[sku for sku, _ in used])
    lines, unpriced = [], []
    for sku, qty in used:
        part = catalogue.get(sku)
        if part is None:
            unpriced.append(f"unknown part {sku} x {qty}")
        elif part.currency != currency:
            unpriced.append(f"part {sku} is priced in {part.currency}, not {currency}")
        else:
            lines.append(PartLine(sku=sku, name=part.name, qty=qty, unit_price=part.price))
    return lines, unpriced


def price(
    session: Session,
    step: StepInput,
    now: datetime,
    facts: OrderFacts,
    params: SettlementParams,
) -> tuple[JobPrice, list[str]]:
    """The job's price from its region's table in force `now`: visits, the parts of the
    declared parts fields (`params.parts_from`), distance; and what could not be priced."""
    wanted = facts.region or step.context.region
    region = org.find_region(session, code_or_name=wanted) if wanted else None
    if region is None:
        raise BusinessRuleViolation(f"order {step.order_id} has no known region ({wanted!r})")
    currency = params.currency
    table = repo.current_price_table(session, region_id=region.id, currency=currency, at=now)
    if table is None:
        raise BusinessRuleViolation(f"no price table for region {region.name} in {currency}")
    lines, unpriced = _part_lines(session, step, params.parts_from, currency)
    visits, distance = dispatch.visits_and_last_distance(session, order_id=step.order_id)
    tariff = Tariff(
        currency=table.currency,
        base_visit_fee=table.base_visit_fee,
        per_km_surcharge=table.per_km_surcharge,
        free_km=table.free_km,
    )
    job = price_job(tariff, visits=max(1, visits), parts=lines, distance_km=distance)
    return job, unpriced


def _facts(
    session: Session, step: StepInput, now: datetime, facts: OrderFacts, params: SettlementParams
) -> PriceFacts:
    """What rule pricing knows of the order: visits and distance from dispatch, whether the
    engineer came from another region, urgency (priority 1), China-time night or weekend,
    whether a business-time SLA was breached, and the NPS score of the field
    `params.nps_from` names."""
    visits, distance = dispatch.visits_and_last_distance(session, order_id=step.order_id)
    engineer = dispatch.engineer_of(session, engineer_id=facts.engineer_id)
    home = ""
    if engineer is not None:
        home = region_code(org.path_of_unit(session, unit_id=engineer.outlet_id))
    region = region_code(facts.org_path) or (facts.region or step.context.region)
    local = now.astimezone(PERIOD_ZONE)
    return PriceFacts(
        job_type=params.job_type,
        region=region,
        visits=max(1, visits),
        distance_km=distance,
        cross_region=bool(home) and home != region,
        urgent=step.context.priority == 1,
        night=local.hour >= 22 or local.hour < 6,
        weekend=local.weekday() >= 5,
        sla_breached=sla.order_breached(session, order_id=step.order_id, now=now),
        nps=_nps(step.variables, params.nps_from),
    )


def _nps(variables: dict[str, Any], source: str) -> int:
    node_id, _, name = source.partition(".")
    output = variables.get(node_id) if source else None
    value = output.get(name) if isinstance(output, dict) else None
    try:
        score = int(str(value))
    except ValueError:
        return -1
    return score if 0 <= score <= 10 else -1


def price_by_rules(
    session: Session,
    step: StepInput,
    now: datetime,
    facts: OrderFacts,
    params: SettlementParams,
) -> tuple[dict[str, Any], Decimal, list[str]]:
    """The job priced from the price rules in force for its job type and place: breakdown
    (every line naming its rule version), total, and what could not be priced."""
    lines, unpriced = _part_lines(session, step, params.parts_from, params.currency)
    known = _facts(session, step, now, facts, params)
    known = PriceFacts(
        **{**known.__dict__, "parts_total": sum((p.amount for p in lines), Decimal(0))}
    )
    path = facts.org_path or "/hq"
    try:
        quote = price_with_rules(
            pricing.rules_for(session, path=path, at=now), known, currency=params.currency
        )
    except (LookupError, ValueError) as exc:
        raise BusinessRuleViolation(f"order {step.order_id} cannot be priced: {exc}") from exc
    breakdown = quote.breakdown()
    breakdown["parts"] = [
        {"sku": p.sku, "name": p.name, "qty": p.qty, "unit_price": str(p.unit_price)} for p in lines
    ]
    breakdown[FACTS] = {k: str(v) for k, v in known.names().items()}
    return breakdown, quote.total, unpriced


def _payees(
    session: Session,
    facts: OrderFacts,
    amount: Decimal,
    engineer_share: Decimal,
    *,
    job_type: str,
    now: datetime,
) -> tuple[list[Payee], dict[str, Any] | None, list[str]]:
    """Who is paid what, and by which agreement: the revenue-share agreement in force for
    the order (split by largest remainder), else the engineer their share and the outlet
    the rest (without an engineer the outlet all of it; without an outlet HQ). Parties an
    agreement names that the order lacks are reasons to hold."""
    engineer = dispatch.engineer_of(session, engineer_id=facts.engineer_id)
    path = facts.org_path or "/hq"
    known = PriceFacts(job_type=job_type, region=region_code(path))
    agreement = pricing.agreement_for(
        session, path=path, job_type=job_type or "*", facts=known, at=now
    )
    if agreement is not None:
        return _agreed(session, agreement, facts, amount, engineer, now)
    outlet = org.get_unit(session, unit_id=facts.outlet_id) if facts.outlet_id else None
    if engineer is not None and outlet is not None:
        to_engineer, to_outlet = split_payout(amount, engineer_share=engineer_share)
        return (
            [
                ("engineer", engineer.code, to_engineer, outlet.path),
                ("outlet", outlet.code, to_outlet, outlet.path),
            ],
            None,
            [],
        )
    if outlet is not None:
        return [("outlet", outlet.code, amount, outlet.path)], None, []
    return [("hq", "hq", amount, pricing.ancestors(path)[0])], None, []


def _agreed(
    session: Session,
    agreement: Any,
    facts: OrderFacts,
    amount: Decimal,
    engineer: Any,
    now: datetime,
) -> tuple[list[Payee], dict[str, Any], list[str]]:
    paths = pricing.ancestors(facts.org_path or "/hq")
    start, end = period_bounds(period_of(now))
    resolved, missing = [], []
    for party in agreement.parties:
        name, unit_path = _party(session, party, paths, engineer)
        if not name:
            missing.append(f"party {party['party']} ({party['role']}) is not known for this order")
        resolved.append({**party, "party": name or party["party"], "path": unit_path})
    counts = {
        p["role"]: repo.orders_this_month(
            session, role=p["role"], party=p["party"], start=start, end=end
        )
        for p in resolved
        if any(t["role"] == p["role"] for t in agreement.tiers)
    }
    shares = shares_with_tiers(resolved, agreement.tiers, counts)
    parts = split_largest_remainder(amount, [s.ratio for s in shares])
    payees = [
        (share.role, share.party, part, party["path"])
        for share, part, party in zip(shares, parts, resolved, strict=True)
    ]
    used = {
        "agreement": f"{agreement.code}@v{agreement.version}",
        "agreement_id": agreement.id,
        "ratios": {s.role: str(s.ratio) for s in shares},
        "orders_this_month": counts,
    }
    return payees, used, missing


def _party(
    session: Session, party: dict[str, Any], paths: list[str], engineer: Any
) -> tuple[str, str]:
    """A party's code and the path of the unit answering for it ("" when unknown)."""
    name, role = party["party"], party["role"]
    levels = {"@region": 1, "@branch": 2, "@outlet": 3}
    if name in levels:
        level = levels[name]
        return (paths[level].rsplit("/", 1)[-1], paths[level]) if len(paths) > level else ("", "")
    if name == "@engineer":
        if engineer is None:
            return "", ""
        return engineer.code, org.path_of_unit(session, unit_id=engineer.outlet_id)
    unit_code = party.get("unit") or (name if role != "agent" else "")
    unit = org.get_unit_by_code(session, code=unit_code) if unit_code else None
    return name, unit.path if unit is not None else paths[-1]


def _job_price(
    session: Session,
    step: StepInput,
    now: datetime,
    facts: OrderFacts,
    params: SettlementParams,
    earlier: list[Settlement],
) -> tuple[Decimal, str, dict[str, Any]]:
    """The job's total, currency and breakdown: priced by the first milestone, reused after
    (without the first milestone's own hold)."""
    if earlier:
        breakdown = {k: v for k, v in earlier[0].breakdown.items() if k != HOLD}
        return earlier[0].job_amount, earlier[0].currency, breakdown
    if params.job_type:
        breakdown, total, unpriced = price_by_rules(session, step, now, facts, params)
        if unpriced:
            breakdown[UNPRICED] = unpriced
        return total, params.currency, breakdown
    job, unpriced = price(session, step, now, facts, params)
    breakdown = job.breakdown()
    if unpriced:
        breakdown[UNPRICED] = unpriced
    return job.total, job.currency, breakdown


def _milestone(job_total: Decimal, params: SettlementParams, earlier: list[Settlement]) -> Decimal:
    try:
        return milestone_amount(
            job_total,
            share=params.share,
            settled_share=sum((s.share for s in earlier), Decimal(0)),
            settled_amount=sum((s.amount for s in earlier), Decimal(0)),
        )
    except ValueError as exc:
        raise BusinessRuleViolation(f"milestone {params.milestone} refused: {exc}") from exc


def _hold_reasons(job_total: Decimal, breakdown: dict[str, Any], ceiling: Decimal) -> list[str]:
    reasons = [f"not priced: {item}" for item in breakdown.get(UNPRICED, [])]
    if job_total > ceiling:
        reasons.append(f"job total {job_total} is above the ceiling {ceiling}")
    return reasons


def settle(
    session: Session,
    step: StepInput,
    now: datetime,
    facts: OrderFacts,
    *,
    engineer_share: Decimal = ENGINEER_SHARE,
    ceiling: Decimal = SETTLEMENT_CEILING,
) -> StepOutcome:
    """Creates this milestone's settlement and payouts, and their ledger entries; refuses
    shares that exceed 1.

    The job is priced by the order's first settlement (from the price rules of
    `params.job_type` when set, else the region's table); later milestones reuse that
    price, so an order's milestones add up to exactly one job price — the milestone that
    completes the shares also carries the deduction rules whose condition holds (SLA
    penalty, NPS bonus). The amount is split by the revenue-share agreement in force
    (largest remainder), else engineer/outlet. A job above `ceiling`, or with parts the
    catalogue cannot price, or an agreement party the order lacks, is settled as "held":
    no payouts until finance approves (`approve_settlement`), and the order goes on. A
    periodic milestone (`params.mode`) is "accrued": its payouts are paid by the monthly
    run. A test run (`step.sandbox`) is priced and answered, marked simulated, but nothing
    is written.
    """
    params = SettlementParams.model_validate(step.params)
    earlier = [] if step.sandbox else repo.list_settlements(session, order_id=step.order_id)
    job_total, currency, breakdown = _job_price(session, step, now, facts, params, earlier)
    amount, adjustments = _milestone_after_deductions(
        session, step, now, facts, params, earlier, job_total
    )
    breakdown = {**breakdown, "deductions": adjustments} if adjustments else dict(breakdown)
    shares, agreement, missing = _payees(
        session, facts, amount, engineer_share, job_type=params.job_type, now=now
    )
    if agreement is not None:
        breakdown["share"] = agreement
    held = _hold_reasons(job_total, breakdown, money(ceiling)) + missing
    settlement = _new_settlement(
        step,
        facts,
        params,
        priced=(job_total, amount, currency, breakdown),
        shares=shares,
        held=held,
        now=now,
    )
    if step.sandbox:
        return StepOutcome(result=_settled(settlement, shares, simulated=True))
    _write(session, settlement, now=now)
    return StepOutcome(result=_settled(settlement, shares))


def _write(session: Session, settlement: Settlement, *, now: datetime) -> None:
    """Adds a new settlement and, unless it is held, its ledger entries."""
    session.add(settlement)
    session.flush()
    if settlement.status != "held":
        post_settlement(session, settlement, now=now, paid=settlement.status == "paid")


def _milestone_after_deductions(
    session: Session,
    step: StepInput,
    now: datetime,
    facts: OrderFacts,
    params: SettlementParams,
    earlier: list[Settlement],
    job_total: Decimal,
) -> tuple[Decimal, list[dict[str, Any]]]:
    """This milestone's amount, and its deductions: the milestone that completes the shares
    of a job priced by rules carries the deduction rules whose condition holds."""
    amount = _milestone(job_total, params, earlier)
    last = sum((s.share for s in earlier), Decimal(0)) + params.share == 1
    if params.job_type and last:
        return _deductions(session, step, now, facts, params, amount)
    return amount, []


def _new_settlement(
    step: StepInput,
    facts: OrderFacts,
    params: SettlementParams,
    *,
    priced: tuple[Decimal, Decimal, str, dict[str, Any]],
    shares: list[Payee],
    held: list[str],
    now: datetime,
) -> Settlement:
    """The settlement row (not added): held with its reasons and the payouts approval will
    write, else its payouts, paid now or accrued for the monthly run."""
    job_total, amount, currency, breakdown = priced
    status = "held" if held else ("accrued" if params.mode == "periodic" else "paid")
    settlement = Settlement(
        order_id=step.order_id,
        milestone=params.milestone,
        share=params.share,
        job_amount=job_total,
        amount=amount,
        currency=currency,
        breakdown=breakdown,
        idempotency_key=step.idempotency_key,
        created_at=now,
        org_path=facts.org_path,
        region=facts.region,
        status=status,
    )
    if held:
        settlement.breakdown = {**breakdown, HOLD: {"reasons": held, "payouts": _rows(shares)}}
    else:
        settlement.payouts = _payouts(shares, currency)
    return settlement


def _deductions(
    session: Session,
    step: StepInput,
    now: datetime,
    facts: OrderFacts,
    params: SettlementParams,
    amount: Decimal,
) -> tuple[Decimal, list[dict[str, Any]]]:
    known = _facts(session, step, now, facts, params)
    rules = pricing.rules_for(session, path=facts.org_path or "/hq", at=now)
    try:
        adjusted, lines = deductions(rules, known, amount)
    except ValueError as exc:
        raise BusinessRuleViolation(f"order {step.order_id}: {exc}") from exc
    return adjusted, [line.row() for line in lines]


def post_settlement(session: Session, settlement: Settlement, *, now: datetime, paid: bool) -> None:
    """The settlement's ledger entries, in its region's stream: an accrual per payee
    (expense → payable to the party) and, when paid now, the payout (payable → cash)."""
    movements = []
    for payout in settlement.payouts:
        if payout.amount <= 0:
            continue
        party = f"{payout.payee_kind}:{payout.payee_id}"
        common: dict[str, Any] = {
            "amount": payout.amount,
            "currency": payout.currency,
            "ref": f"settlement:{settlement.id}",
            "party": party,
            "period": period_of(settlement.created_at),
            "memo": f"{settlement.order_id} {settlement.milestone}",
        }
        movements.append(
            ledger.Movement(
                kind="accrual", debit="expense:service", credit=f"payable:{party}", **common
            )
        )
        if paid:
            movements.append(
                ledger.Movement(
                    kind="payout",
                    debit=f"payable:{party}",
                    credit=f"cash:{payout.currency}",
                    **common,
                )
            )
    ledger.post_many(session, stream=settlement.region or "hq", movements=movements, now=now)


def _rows(shares: list[Payee]) -> list[dict[str, str]]:
    return [
        {"payee_kind": kind, "payee_id": payee, "amount": str(v), "party_path": path}
        for kind, payee, v, path in shares
    ]


def _payouts(shares: list[Payee], currency: str) -> list[Payout]:
    return [
        Payout(payee_kind=kind, payee_id=payee, amount=value, currency=currency, party_path=path)
        for kind, payee, value, path in shares
    ]


def _settled(settlement: Settlement, shares: list[Payee], *, simulated: bool = False) -> StepResult:
    amount, currency, job_total = settlement.amount, settlement.currency, settlement.job_amount
    milestone, held = settlement.milestone, settlement.status == "held"
    payouts = (
        []
        if held
        else [
            {"payee_kind": kind, "payee_id": payee, "amount": str(v), "currency": currency}
            for kind, payee, v, _ in shares
        ]
    )
    output: dict[str, Any] = {
        "amount": str(amount),
        "currency": currency,
        "milestone": milestone,
        "share": str(settlement.share),
        "job_amount": str(job_total),
        "settlement_id": settlement.id,
        "status": settlement.status,
        "payouts": payouts,
    }
    summary = f"里程碑 {milestone} 结算 {amount} {currency}"
    summary += f" (工单总价 {job_total} × {settlement.share})"
    if held:
        output["hold_reasons"] = settlement.breakdown[HOLD]["reasons"]
        summary += "，待财务审批"
    if settlement.status == "accrued":
        summary += "，月结"
    if simulated:
        output["sandbox"] = True  # as dispatch and notify mark their simulated results
        summary = f"[模拟] {summary}"
    return StepResult(output=output, summary=summary)


def approve_settlement(
    session: Session, *, settlement_id: int, scope_path: str, by: str, now: datetime
) -> Settlement:
    """Pays a held settlement out: writes the payouts worked out when it was held (and their
    ledger entries) and marks it paid, approved by `by`. A settlement already paid is
    returned as it is, so approving twice pays once.

    Raises:
        NotFound: no settlement `settlement_id` within `scope_path`.
    """
    settlement = repo.get_settlement(session, settlement_id=settlement_id, lock=True)
    if settlement is None or not in_scope(settlement.org_path, scope_path):
        raise NotFound(f"no settlement {settlement_id}")
    if settlement.status != "held":
        return settlement
    hold = settlement.breakdown.get(HOLD, {})
    settlement.payouts = [
        Payout(
            payee_kind=row["payee_kind"],
            payee_id=row["payee_id"],
            amount=money(row["amount"]),
            currency=settlement.currency,
            party_path=row.get("party_path", ""),
        )
        for row in hold.get("payouts", [])
    ]
    settlement.status, settlement.approved_by, settlement.approved_at = "paid", by, now
    session.flush()
    post_settlement(session, settlement, now=now, paid=True)
    return settlement


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
    """Settlements of orders within `scope_path`, newest first; a region by code or name."""
    if region:
        unit = org.find_region(session, code_or_name=region)
        region = unit.code if unit else region
    return repo.search_settlements(
        session,
        scope_path=scope_path,
        region=region,
        start=start,
        end=end,
        limit=limit,
        offset=offset,
    )


# ---- master data: price tables -------------------------------------------------------------


def find_price_table(
    session: Session, *, table_id: int, scope_path: str | None
) -> PriceTable | None:
    """The price table `table_id`, when its region lies within `scope_path` (None: anywhere)."""
    table = repo.get_price_table(session, table_id=table_id)
    if table is None or not org.visible(
        org.path_of_unit(session, unit_id=table.region_id), scope_path
    ):
        return None
    return table


def page_price_tables(
    session: Session, *, scope_path: str | None, limit: int, offset: int
) -> tuple[list[PriceTable], int]:
    """Price tables of the regions within `scope_path`, by region and start, and their count."""
    region_ids = org.unit_ids_in_scope(scope_path=scope_path)
    return repo.page_price_tables(session, region_ids=region_ids, limit=limit, offset=offset)


def save_price_table(
    session: Session,
    *,
    scope_path: str | None,
    region: str,
    base_visit_fee: Decimal,
    per_km_surcharge: Decimal,
    free_km: Decimal,
    valid_from: datetime,
    currency: str = "CNY",
    table_id: int | None = None,
) -> PriceTable:
    """Updates the price table `table_id`, or else the region's table in `currency` from
    `valid_from` (created when missing).

    Raises:
        Invalid: an unknown region (field `region`) or table (field `id`).
        Invalid: the region, or the table's current one, is outside `scope_path`
            (answered as if unknown).
    """
    unit = org.region_in_scope(session, code_or_name=region, scope_path=scope_path)
    if table_id is not None:
        table = repo.get_price_table(session, table_id=table_id)
        if table is None:
            raise Invalid(f"id: no price table {table_id}", errors={"id": "no such price table"})
        org.check_in_scope(
            org.path_of_unit(session, unit_id=table.region_id),
            scope_path,
            field="id",
            unknown="no such price table",
        )
    else:
        table = repo.get_price_table_by_key(
            session, region_id=unit.id, currency=currency, valid_from=valid_from
        )
    if table is None:
        table = PriceTable()
        session.add(table)
    table.region_id, table.currency, table.valid_from = unit.id, currency, valid_from
    table.base_visit_fee, table.per_km_surcharge = base_visit_fee, per_km_surcharge
    table.free_km = free_km
    session.flush()
    return table
