"""settlement: price the job once from the region's table, pay this milestone's share."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from functools import partial

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from activities.common import ActivityDeps, business_error, run_step
from servflow.billing.models import Payout, Settlement
from servflow.billing.repo import current_price_table
from servflow.billing.rules import (
    ENGINEER_SHARE,
    JobPrice,
    PartLine,
    Tariff,
    collect_parts_used,
    milestone_amount,
    price_job,
    split_payout,
)
from servflow.dispatch.models import DispatchDecision, Engineer
from servflow.inventory.repo import parts_by_sku
from servflow.orders import repo as orders
from servflow.orders.models import WorkOrder
from servflow.org import repo as org
from servflow.org.models import OrgUnit
from workflows.contracts import StepInput, StepResult
from workflows.nodes.automatic import SettlementParams


def _price(
    session: Session, step: StepInput, now: datetime, order: WorkOrder, currency: str
) -> JobPrice:
    region_code = order.region or step.context.region
    region = org.find_region(session, code_or_name=region_code) if region_code else None
    if region is None:
        raise business_error(f"order {step.order_id} has no known region ({region_code!r})")
    table = current_price_table(session, region_id=region.id, currency=currency, at=now)
    if table is None:
        raise business_error(f"no price table for region {region.name} in {currency}")
    try:
        used = collect_parts_used(step.variables)
    except ValueError as exc:
        raise business_error(f"parts_used: {exc}") from exc
    catalogue = parts_by_sku(session, skus=[sku for sku, _ in used])
    unknown = [sku for sku, _ in used if sku not in catalogue]
    if unknown:
        raise business_error(f"unknown part SKUs: {', '.join(unknown)}")
    lines = []
    for sku, qty in used:
        part = catalogue[sku]
        if part.currency != currency:
            raise business_error(f"part {sku} is priced in {part.currency}, not {currency}")
        lines.append(PartLine(sku=sku, name=part.name, qty=qty, unit_price=part.price))
    decisions = session.execute(
        select(func.count(DispatchDecision.id), func.max(DispatchDecision.id)).where(
            DispatchDecision.order_id == step.order_id
        )
    ).one()
    distance = Decimal(0)
    if decisions[1] is not None:
        latest = session.get(DispatchDecision, decisions[1])
        distance = latest.distance_km if latest and latest.distance_km is not None else Decimal(0)
    tariff = Tariff(
        currency=table.currency,
        base_visit_fee=table.base_visit_fee,
        per_km_surcharge=table.per_km_surcharge,
        free_km=table.free_km,
    )
    return price_job(tariff, visits=max(1, decisions[0]), parts=lines, distance_km=distance)


def settlement_effect(
    session: Session,
    step: StepInput,
    now: datetime,
    order: WorkOrder,
    *,
    engineer_share: Decimal = ENGINEER_SHARE,
) -> StepResult:
    """Creates this milestone's settlement and payouts; refuses shares that exceed 1.

    The job is priced by the order's first settlement; later milestones reuse that price, so
    an order's milestones add up to exactly one job price. Payouts: the dispatched engineer
    gets `engineer_share` of the milestone (rounded half-up), the outlet the rest; without an
    engineer the outlet gets it all, and without an outlet HQ does.
    """
    params = SettlementParams.model_validate(step.params)
    earlier = orders.list_settlements(session, order_id=step.order_id)
    if earlier:
        job_total, currency = earlier[0].job_amount, earlier[0].currency
        breakdown = earlier[0].breakdown
    else:
        price = _price(session, step, now, order, params.currency)
        job_total, currency, breakdown = price.total, price.currency, price.breakdown()
    settled_share = sum((s.share for s in earlier), Decimal(0))
    settled_amount = sum((s.amount for s in earlier), Decimal(0))
    try:
        amount = milestone_amount(
            job_total,
            share=params.share,
            settled_share=settled_share,
            settled_amount=settled_amount,
        )
    except ValueError as exc:
        raise business_error(f"milestone {params.milestone} refused: {exc}") from exc

    engineer = (
        session.get(Engineer, order.current_engineer_id) if order.current_engineer_id else None
    )
    outlet = session.get(OrgUnit, order.outlet_id) if order.outlet_id else None
    shares: list[tuple[str, str, Decimal]] = []
    if engineer is not None and outlet is not None:
        to_engineer, to_outlet = split_payout(amount, engineer_share=engineer_share)
        shares = [("engineer", engineer.code, to_engineer), ("outlet", outlet.code, to_outlet)]
    elif outlet is not None:
        shares = [("outlet", outlet.code, amount)]
    else:
        shares = [("hq", "hq", amount)]

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
        payouts=[
            Payout(payee_kind=kind, payee_id=payee, amount=value, currency=currency)
            for kind, payee, value in shares
        ],
    )
    session.add(settlement)
    session.flush()
    payouts = [
        {"payee_kind": kind, "payee_id": payee, "amount": str(value), "currency": currency}
        for kind, payee, value in shares
    ]
    return StepResult(
        output={
            "amount": str(amount),
            "currency": currency,
            "milestone": params.milestone,
            "share": str(params.share),
            "job_amount": str(job_total),
            "settlement_id": settlement.id,
            "payouts": payouts,
        },
        summary=(
            f"里程碑 {params.milestone} 结算 {amount} {currency} "
            f"(工单总价 {job_total} × {params.share})"
        ),
    )


def settlement(deps: ActivityDeps, step: StepInput) -> StepResult:
    effect = partial(settlement_effect, engineer_share=deps.engineer_share)
    return run_step(deps, step, activity="settlement", effect=effect, lock_order=True)[0]
