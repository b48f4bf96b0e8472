from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from servflow.billing.rules import (
    PartLine,
    Tariff,
    declared_parts,
    milestone_amount,
    money,
    price_job,
    split_payout,
)

HUABEI = Tariff(
    currency="CNY",
    base_visit_fee=Decimal("100.00"),
    per_km_surcharge=Decimal("2.00"),
    free_km=Decimal("15"),
)
amounts = st.decimals(min_value=0, max_value=10_000_000, places=2, allow_nan=False)
shares = st.decimals(min_value=Decimal("0.0001"), max_value=1, places=4)


def test_job_price_is_visit_fee_plus_parts_plus_surcharge_beyond_free_km():
    price = price_job(
        HUABEI,
        visits=1,
        parts=[
            PartLine("AC-CAP-35UF", "电容", 2, Decimal("30.00")),
            PartLine("R410A-1KG", "冷媒", 1, Decimal("85.00")),
        ],
        distance_km=Decimal("23.4"),
    )
    assert price.visit_fees == Decimal("100.00")
    assert price.parts_total == Decimal("145.00")
    assert price.chargeable_km == Decimal("8.4")
    assert price.distance_surcharge == Decimal("16.80")
    assert price.total == Decimal("261.80")
    assert price.breakdown()["total"] == "261.80"


def test_distance_within_free_km_costs_nothing():
    price = price_job(HUABEI, visits=2, parts=[], distance_km=Decimal("14.9"))
    assert price.distance_surcharge == Decimal("0.00")
    assert price.total == Decimal("200.00")


def test_amounts_round_half_up_to_the_cent():
    assert money(Decimal("0.005")) == Decimal("0.01")
    assert money(Decimal("2.675")) == Decimal("2.68")
    assert money(Decimal("1.004")) == Decimal("1.00")


def test_a_job_has_at_least_one_visit():
    with pytest.raises(ValueError):
        price_job(HUABEI, visits=0, parts=[], distance_km=Decimal(0))


def test_sixty_forty_milestones_add_up_to_the_job_price():
    job = Decimal("100.01")
    first = milestone_amount(
        job, share=Decimal("0.6"), settled_share=Decimal(0), settled_amount=Decimal(0)
    )
    second = milestone_amount(
        job, share=Decimal("0.4"), settled_share=Decimal("0.6"), settled_amount=first
    )
    assert (first, second) == (Decimal("60.01"), Decimal("40.00"))
    assert first + second == job


def test_milestone_shares_over_one_are_refused():
    with pytest.raises(ValueError, match=r"add up to 1\.1"):
        milestone_amount(
            Decimal(100),
            share=Decimal("0.5"),
            settled_share=Decimal("0.6"),
            settled_amount=Decimal(60),
        )


@given(job=amounts, cut=shares)
def test_two_milestones_covering_the_whole_job_sum_exactly(job, cut):
    if cut >= 1:
        cut = Decimal("0.5")
    first = milestone_amount(job, share=cut, settled_share=Decimal(0), settled_amount=Decimal(0))
    second = milestone_amount(job, share=1 - cut, settled_share=cut, settled_amount=first)
    assert first + second == job
    assert first >= 0 and second >= 0


@given(amount=amounts, engineer_share=st.decimals(min_value=0, max_value=1, places=2))
def test_payout_split_sums_exactly_and_never_goes_negative(amount, engineer_share):
    to_engineer, to_outlet = split_payout(amount, engineer_share=engineer_share)
    assert to_engineer + to_outlet == amount
    assert to_engineer >= 0 and to_outlet >= 0
    assert to_engineer == to_engineer.quantize(Decimal("0.01"))
    assert to_outlet == to_outlet.quantize(Decimal("0.01"))


def test_default_split_is_thirty_percent_engineer_rest_outlet():
    assert split_payout(Decimal("100.01")) == (Decimal("30.00"), Decimal("70.01"))


def test_declared_parts_fields_are_summed_per_sku():
    variables = {
        "service": {"parts_used": [{"sku": "A", "qty": 1}, {"sku": "B", "qty": 2}]},
        "parts_fitting": {"extra_parts": [{"sku": "A", "qty": 2}]},
        "signoff": {"rating": "5"},
    }
    sources = ["service.parts_used", "parts_fitting.extra_parts"]
    assert declared_parts(variables, sources) == [("A", 3), ("B", 2)]


def test_only_declared_parts_fields_are_read():
    """The attack of issue 9: an undeclared variable or another step's field that happens to
    be called parts_used must not add money."""
    variables = {
        "zz": {"parts_used": "R410A-10KG x 1000"},
        "fault": {"parts_used": [{"sku": "R410A-10KG", "qty": 999}]},
        "service": {"parts_needed": False},
        "signoff": {"parts_used": [{"sku": "R410A-10KG", "qty": 5}]},
    }
    assert declared_parts(variables, ["service.parts_used"]) == []
    assert declared_parts(variables, []) == []


def test_a_field_named_twice_is_priced_once():
    variables = {"service": {"parts_used": [{"sku": "A", "qty": 1}]}}
    assert declared_parts(variables, ["service.parts_used", "service.parts_used"]) == [("A", 1)]


@pytest.mark.parametrize(
    "bad",
    [
        "AC CAP 35UF two pieces",
        [{"qty": 1}],
        [{"sku": "A", "qty": 0}],
        [{"sku": "A", "qty": 99999999999999}],
        [{"sku": "A", "qty": "1e29"}],
        [{"sku": "A", "qty": True}],
    ],
)
def test_malformed_parts_lines_are_reported(bad):
    with pytest.raises(ValueError):
        declared_parts({"service": {"parts_used": bad}}, ["service.parts_used"])
