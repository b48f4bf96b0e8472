"""Money only from trusted facts (issue 9): the declared parts fields, the price table and
the distance; a job the settlement cannot pay safely is held for finance, never failed."""

import dataclasses
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from servflow.billing import service as billing
from servflow.billing.models import Payout, Settlement
from servflow.orders.models import WorkOrder
from servflow.orders.steps import facts_of
from servflow.platform.errors import NotFound
from tests.billing.test_settlement import PARTS, milestone, reported_and_dispatched, variables
from tests.world import NOW, Runner, make_step

PRICED = {"milestone": "completion", "share": "1", "parts_from": ["service.parts_used"]}


async def test_undeclared_variable_named_parts_used_adds_no_money(run, world, session):
    """The attack: an order variable `zz.parts_used` was paid as 1000 × R410A-10KG."""
    await reported_and_dispatched(run)
    step = make_step(
        "settlement",
        params=PRICED,
        variables={
            "fault": "x",
            "zz": {"parts_used": "R410A-1KG x 1000"},
            "report": {"parts_used": [{"sku": "R410A-1KG", "qty": 999}]},
            "service": {"diagnosis": "清洗", "parts_needed": False},
        },
    )

    result = await run("settlement", step)

    assert result.output["job_amount"] == "100.00"  # the visit fee alone
    assert session.scalars(select(Settlement)).one().breakdown["parts"] == []


async def test_a_settlement_without_parts_from_prices_no_parts(run, world):
    await reported_and_dispatched(run)
    step = milestone("completion", "1")
    step.params.pop("parts_from")

    result = await run("settlement", step)

    assert result.output["job_amount"] == "100.00"


def capped(deps, ceiling: str) -> Runner:
    return Runner(dataclasses.replace(deps, settlement_ceiling=Decimal(ceiling)))


async def test_job_above_the_ceiling_is_held_and_approval_pays_it_once(run, world, deps, session):
    await reported_and_dispatched(run)

    first = await capped(deps, "200.00")("settlement", milestone("commissioning", "0.6"))
    second = await capped(deps, "200.00")("settlement", milestone("signoff", "0.4"))

    assert (first.output["status"], second.output["status"]) == ("held", "held")
    assert first.output["hold_reasons"] == ["job total 245.00 is above the ceiling 200.00"]
    assert session.scalar(select(func.count(Payout.id))) == 0
    held = session.get(Settlement, first.output["settlement_id"])
    assert held is not None

    approved = billing.approve_settlement(
        session, settlement_id=held.id, scope_path="/hq", by="finance_hq", now=NOW
    )
    session.commit()
    again = billing.approve_settlement(
        session, settlement_id=held.id, scope_path="/hq", by="someone_else", now=NOW
    )
    session.commit()

    assert approved.status == again.status == "paid"
    assert again.approved_by == "finance_hq"
    assert [(p.payee_kind, p.payee_id, p.amount) for p in again.payouts] == [
        ("engineer", "bj_near", Decimal("44.10")),
        ("outlet", "bj-001", Decimal("102.90")),
    ]
    assert session.scalar(select(func.count(Payout.id))) == 2


async def test_approval_outside_the_callers_scope_is_not_found(run, world, deps, session):
    await reported_and_dispatched(run)
    held = await capped(deps, "0")("settlement", milestone("completion", "1"))

    with pytest.raises(NotFound):
        billing.approve_settlement(
            session,
            settlement_id=held.output["settlement_id"],
            scope_path="/hq/huadong",
            by="finance_huadong",
            now=NOW,
        )
    assert session.get(Settlement, held.output["settlement_id"]).status == "held"


async def test_sandbox_settlement_is_priced_but_nothing_is_written(run, world, session):
    await reported_and_dispatched(run)
    step = milestone("completion", "1")
    step.sandbox = True
    order = session.scalars(select(WorkOrder)).one()

    outcome = billing.settle(session, step, NOW, facts_of(order))
    session.commit()

    assert outcome.result.output["sandbox"] is True
    assert outcome.result.output["amount"] == "245.00"
    assert outcome.result.output["payouts"][0]["amount"] == "73.50"
    assert session.scalar(select(func.count(Settlement.id))) == 0
    assert session.scalar(select(func.count(Payout.id))) == 0


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=10,
)
part_lines = st.lists(
    st.fixed_dictionaries(
        {"sku": st.sampled_from(["AC-CAP-35UF", "R410A-1KG", "R410A-10KG"]), "qty": st.integers()}
    ),
    max_size=3,
)


async def test_no_other_variable_or_step_data_changes_the_settlement(run, world, session_factory):
    """Property: whatever else an order's variables hold (order variables, other steps'
    data, other fields of the service step, lists shaped like parts), the settlement is the
    one the declared parts field, the price table and the distance make."""
    await reported_and_dispatched(run)
    with session_factory() as session:
        facts = facts_of(session.scalars(select(WorkOrder)).one())

    def settled(values: dict) -> dict:
        with session_factory() as session:
            step = milestone("completion", "1")
            step.variables = values
            output = billing.settle(session, step, NOW, facts).result.output
            session.rollback()  # each example settles the same order afresh
        return {k: v for k, v in output.items() if k != "settlement_id"}

    expected = settled(variables())

    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
    @given(
        extra=st.dictionaries(
            st.text(min_size=1, max_size=10).filter(lambda k: k != "service"),
            json_values | st.fixed_dictionaries({"parts_used": part_lines}),
            max_size=4,
        ),
        service_extra=st.dictionaries(
            st.text(min_size=1, max_size=10).filter(lambda k: k != "parts_used"),
            json_values | part_lines,
            max_size=3,
        ),
    )
    def check(extra: dict, service_extra: dict) -> None:
        values = {**extra, "service": {**service_extra, "parts_used": PARTS}}
        assert settled(values) == expected

    check()
