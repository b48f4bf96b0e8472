import asyncio
import threading
from decimal import Decimal

import pytest
from sqlalchemy import func, select, update
from temporalio.exceptions import ApplicationError

from activities import billing as settlement_module
from activities.support import ActivityDeps
from servflow.billing.models import Payout, Settlement
from servflow.dispatch.models import DispatchDecision, Engineer
from servflow.orders.models import WorkOrder
from servflow.platform import effects
from servflow.platform.models import ActivityEffect
from tests.world import make_step

REFRIGERATION = {"skills": ["refrigeration"], "radius_km": 200}
PARTS = [{"sku": "AC-CAP-35UF", "qty": 2}, {"sku": "R410A-1KG", "qty": 1}]
SHANGHAI_CUSTOMER = {
    "name": "王强",
    "phone": "13900020002",
    "address": "上海市浦东新区世纪大道100号",
    "lat": 31.2353,
    "lng": 121.5066,
}


def variables(parts=PARTS):
    return {"fault": "ac_leak", "service": {"diagnosis": "电容击穿", "parts_used": parts}}


def milestone(name: str, share: str, *, node_id: str | None = None, **kw):
    return make_step(
        "settlement",
        node_id=node_id or name,
        params={"milestone": name, "share": share, "parts_from": ["service.parts_used"]},
        variables=variables(),
        status="settled",
        **kw,
    )


async def reported_and_dispatched(run):
    await run("report", make_step("report"))
    await run("dispatch", make_step("dispatch", params=REFRIGERATION))


async def test_settlement_prices_job_from_region_table_and_pays_outlet_and_engineer(
    run, world, session
):
    await reported_and_dispatched(run)

    result = await run("settlement", milestone("commissioning", "0.6"))

    # 华北: 100.00 visit + 2 × 30.00 + 85.00 parts; 2.3 km is within the 15 free km.
    assert result.output["job_amount"] == "245.00"
    assert result.output["amount"] == "147.00"
    assert result.output["currency"] == "CNY"
    assert result.output["payouts"] == [
        {"payee_kind": "engineer", "payee_id": "bj_near", "amount": "44.10", "currency": "CNY"},
        {"payee_kind": "outlet", "payee_id": "bj-001", "amount": "102.90", "currency": "CNY"},
    ]
    row = session.scalars(select(Settlement)).one()
    assert row.amount == Decimal("147.00")
    assert row.breakdown["parts_total"] == "145.00"
    assert sum(p.amount for p in row.payouts) == row.amount


async def test_later_milestone_gets_its_share_of_the_same_price_and_totals_match(
    run, world, session
):
    await reported_and_dispatched(run)
    first = await run("settlement", milestone("commissioning", "0.6"))
    # The parts list changed after the first milestone: the job was priced once, already.
    second_step = milestone("signoff", "0.4")
    second_step.variables["service"]["parts_used"] = []
    second = await run("settlement", second_step)

    assert second.output["job_amount"] == first.output["job_amount"] == "245.00"
    assert second.output["amount"] == "98.00"
    total = session.scalar(select(func.sum(Settlement.amount)))
    assert total == Decimal("245.00")
    assert session.scalar(select(func.sum(Payout.amount))) == Decimal("245.00")


async def test_price_tables_differ_by_region(run, world):
    await run("report", make_step("report", order_id="bj", variables=variables()))
    await run(
        "report",
        make_step(
            "report",
            order_id="sh",
            region="huadong",
            customer=SHANGHAI_CUSTOMER,
            variables=variables(),
        ),
    )
    huabei = await run("settlement", milestone("completion", "1", order_id="bj"))
    huadong = await run("settlement", milestone("completion", "1", order_id="sh", region="huadong"))

    assert huabei.output["amount"] == "245.00"  # base fee 100.00
    assert huadong.output["amount"] == "265.00"  # base fee 120.00
    # Nobody was dispatched and the order has no outlet: HQ holds the money.
    assert huabei.output["payouts"][0]["payee_kind"] == "hq"


async def test_distance_beyond_free_km_is_surcharged(run, world, session):
    session.execute(update(Engineer).where(Engineer.code == "bj_near").values(state="off"))
    session.commit()
    await reported_and_dispatched(run)
    distance = session.scalars(select(DispatchDecision.distance_km)).one()
    assert distance > 15

    result = await run("settlement", milestone("completion", "1"))

    surcharge = ((distance - 15) * Decimal("2.00")).quantize(Decimal("0.01"))
    assert Decimal(result.output["amount"]) == Decimal("245.00") + surcharge
    breakdown = session.scalars(select(Settlement)).one().breakdown
    assert Decimal(breakdown["distance_surcharge"]) == surcharge


async def test_milestone_shares_exceeding_one_are_refused(run, world, session):
    await reported_and_dispatched(run)
    await run("settlement", milestone("commissioning", "0.6"))

    with pytest.raises(ApplicationError) as caught:
        await run("settlement", milestone("signoff", "0.6"))

    assert caught.value.type == "BusinessRuleViolation"
    assert "shares would add up to 1.2" in caught.value.message
    assert session.scalar(select(func.count(Settlement.id))) == 1


async def test_settlement_retry_returns_stored_result_without_paying_twice(run, world, session):
    await reported_and_dispatched(run)
    step = milestone("commissioning", "0.6")

    first = await run("settlement", step)
    retried = await run("settlement", step)  # the first result was lost on the way back

    assert retried == first
    assert session.scalar(select(func.count(Settlement.id))) == 1
    assert session.scalar(select(func.count(Payout.id))) == 2


async def test_crash_before_commit_leaves_nothing_and_the_retry_applies_once(
    run, world, session, monkeypatch
):
    await reported_and_dispatched(run)
    step = milestone("commissioning", "0.6")
    real_save = effects.save_result
    crashes = iter([True])

    def crash_once(*args, **kwargs):
        if next(crashes, False):
            raise ConnectionError("worker lost the database mid-transaction")
        return real_save(*args, **kwargs)

    monkeypatch.setattr(effects, "save_result", crash_once)
    with pytest.raises(ConnectionError):
        await run("settlement", step)
    assert session.scalar(select(func.count(Settlement.id))) == 0
    assert (
        session.scalar(
            select(func.count(ActivityEffect.id)).where(ActivityEffect.activity == "settlement")
        )
        == 0
    )

    result = await run("settlement", step)
    assert result.output["amount"] == "147.00"
    assert session.scalar(select(func.count(Settlement.id))) == 1


async def test_two_concurrent_executions_of_one_settlement_create_one_row(
    run, world, deps: ActivityDeps, session
):
    await reported_and_dispatched(run)
    step = milestone("commissioning", "0.6")
    barrier = threading.Barrier(2)

    def execute():
        barrier.wait()
        return settlement_module.settlement(deps, step)

    results = await asyncio.gather(asyncio.to_thread(execute), asyncio.to_thread(execute))

    assert results[0] == results[1]
    assert session.scalar(select(func.count(Settlement.id))) == 1
    assert session.scalar(select(func.count(Payout.id))) == 2
    assert session.scalar(select(func.sum(Payout.amount))) == Decimal("147.00")


async def test_concurrent_milestones_never_settle_more_than_the_whole_job(
    run, world, deps: ActivityDeps, session
):
    await reported_and_dispatched(run)
    steps = [milestone("a", "0.6"), milestone("b", "0.6")]
    barrier = threading.Barrier(2)

    def execute(step):
        barrier.wait()
        try:
            return settlement_module.settlement(deps, step)
        except ApplicationError as exc:
            return exc

    outcomes = await asyncio.gather(*(asyncio.to_thread(execute, s) for s in steps))

    refused = [o for o in outcomes if isinstance(o, ApplicationError)]
    assert len(refused) == 1
    assert session.scalar(select(func.sum(Settlement.share))) == Decimal("0.6")


async def test_missing_price_table_is_a_business_rule_violation(run, world):
    await reported_and_dispatched(run)
    step = milestone("completion", "1")
    step.params["currency"] = "USD"
    with pytest.raises(ApplicationError, match="no price table for region 华北 in USD"):
        await run("settlement", step)


async def test_unknown_part_sku_holds_the_settlement_without_payouts_and_the_order_goes_on(
    run, world, session
):
    """The catalogue changed after the engineer reported: finance decides, the order lives."""
    await reported_and_dispatched(run)
    step = milestone("completion", "1")
    step.variables["service"]["parts_used"] = [{"sku": "NOPE-1", "qty": 1}, PARTS[0]]

    result = await run("settlement", step)

    assert result.output["status"] == "held"
    assert result.output["payouts"] == []
    assert result.output["hold_reasons"] == ["not priced: unknown part NOPE-1 x 1"]
    assert result.output["job_amount"] == "160.00"  # visit 100.00 + 2 × 30.00; NOPE-1 unpriced
    row = session.scalars(select(Settlement)).one()
    assert (row.status, row.payouts) == ("held", [])
    assert session.scalar(select(func.count(Payout.id))) == 0
    order = session.scalars(select(WorkOrder)).one()
    assert order.status == "settled"


async def test_part_priced_in_another_currency_holds_the_settlement(run, world, session):
    await reported_and_dispatched(run)
    step = milestone("completion", "1")
    step.variables["service"]["parts_used"] = [{"sku": "USD-PART", "qty": 1}]

    result = await run("settlement", step)

    assert result.output["status"] == "held"
    assert "USD-PART is priced in USD" in result.output["hold_reasons"][0]
    assert session.scalar(select(func.count(Payout.id))) == 0


async def test_settlement_updates_the_read_model_status(run, world, session):
    await reported_and_dispatched(run)
    await run("settlement", milestone("completion", "1"))
    order = session.scalars(select(WorkOrder)).one()
    assert (order.status, order.current_node) == ("settled", "completion")
