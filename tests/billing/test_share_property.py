"""Largest-remainder splits, for any amount and any ratios: no share is negative, the
shares sum to the amount exactly, and each is within a cent of its exact value."""

from __future__ import annotations

import itertools
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from servflow.billing.rules import shares_with_tiers, split_largest_remainder

CENT = Decimal("0.01")


@st.composite
def ratio_sets(draw: st.DrawFn) -> list[Decimal]:
    """2 to 6 ratios of up to 4 decimals summing to exactly 1."""
    count = draw(st.integers(min_value=1, max_value=6))
    cuts = sorted(draw(st.lists(st.integers(0, 10_000), min_size=count - 1, max_size=count - 1)))
    bounds = [0, *cuts, 10_000]
    return [Decimal(b - a) / 10_000 for a, b in itertools.pairwise(bounds)]


amounts = st.integers(min_value=0, max_value=10**12).map(lambda cents: Decimal(cents) * CENT)


@settings(max_examples=400, deadline=None)
@given(amount=amounts, ratios=ratio_sets())
def test_shares_are_non_negative_sum_exactly_and_stay_within_a_cent(amount, ratios):
    shares = split_largest_remainder(amount, ratios)

    assert len(shares) == len(ratios)
    assert all(share >= 0 for share in shares)
    assert sum(shares, Decimal(0)) == amount
    for share, ratio in zip(shares, ratios, strict=True):
        assert abs(share - amount * ratio) < CENT
        assert share == share.quantize(CENT)


@pytest.mark.parametrize(
    "ratios",
    [[Decimal("0.5"), Decimal("0.6")], [Decimal("-0.1"), Decimal("1.1")], []],
)
def test_ratios_that_do_not_make_a_whole_are_refused(ratios):
    with pytest.raises(ValueError):
        split_largest_remainder(Decimal("10.00"), ratios)


def test_agent_share_rises_after_100_orders_a_month_taken_from_hq():
    parties = [
        {"role": "hq", "party": "hq", "ratio": "0.20"},
        {"role": "branch", "party": "gz-branch", "ratio": "0.30"},
        {"role": "agent", "party": "hn-agent", "ratio": "0.50"},
    ]
    tiers = [{"role": "agent", "from_role": "hq", "min_orders": 100, "ratio": "0.55"}]

    before = shares_with_tiers(parties, tiers, {"agent": 99})
    after = shares_with_tiers(parties, tiers, {"agent": 100})

    assert [str(s.ratio) for s in before] == ["0.20", "0.30", "0.50"]
    assert [str(s.ratio) for s in after] == ["0.15", "0.30", "0.55"]
