"""The parts node's real effect on the store, sourcing's rules, and the forecast."""

from __future__ import annotations

import math

import pytest

from servflow.inventory import forecast, rules, service
from servflow.platform.effects import OrderFacts
from tests.inventory.stockworld import NOW, Stock, build, level, receive
from workflows.contracts import OrderContext, StepInput


@pytest.fixture
def stock(session, world) -> Stock:
    return build(session, world.units)


def parts_step(order_id: str, lines: list[dict]) -> StepInput:
    return StepInput(
        order_id=order_id,
        node_id="parts",
        node_type="parts",
        visit=1,
        idempotency_key=f"{order_id}/parts/1",
        params={"parts_from": ["diagnose.parts_needed"]},
        variables={
            "dispatch": {"engineer_id": "bj_near"},
            "diagnose": {"parts_needed": lines},
        },
        context=OrderContext(region="huabei", customer={"lat": 39.3, "lng": 117.1}),
    )


def test_the_parts_node_reserves_at_hand_and_transfers_the_rest(session, stock):
    receive(session, stock, "VAN-1", "CAP", 1, "r1")  # the engineer's van
    receive(session, stock, "WH-SH", "MOTOR", 4, "r2")  # only Shanghai has motors
    receive(session, stock, "WH-TJ", "PAD", 5, "r3")  # the job's store (Tianjin)
    lines = [{"sku": "CAP", "qty": 1}, {"sku": "MOTOR", "qty": 2}, {"sku": "PAD", "qty": 9}]
    outcome = service.source_for_order(
        session, parts_step("WO-9", lines), NOW, OrderFacts(order_id="WO-9", region="huabei")
    )
    out = outcome.result.output
    assert out["destination"] == "WH-TJ"
    assert sorted((r["sku"], r["warehouse"]) for r in out["reserved"]) == [
        ("CAP", "VAN-1"),
        ("PAD", "WH-TJ"),
    ]
    (transfer,) = out["transfers"]
    assert (transfer["sku"], transfer["source"], transfer["destination"]) == (
        "MOTOR",
        "WH-SH",
        "WH-TJ",
    )
    assert out["shortfall"] == [{"sku": "PAD", "qty": 4}]
    assert level(session, stock, "WH-SH", "MOTOR") == (4, 2)  # reserved at the source
    assert service.journal_mismatches(session) == []


def test_a_line_is_split_only_when_no_single_warehouse_can_fill_it():
    near = rules.Candidate("NEAR", "regional", 39.9, 116.4, 2)
    far = rules.Candidate("FAR", "regional", 31.2, 121.5, 10)
    whole = rules.plan_line("X", 5, [near, far], lat=39.9, lng=116.4)
    assert [(p.warehouse, p.qty) for p in whole.picks] == [("FAR", 5)]
    assert "NEAR is closer but holds only 2" in whole.reason
    split = rules.plan_line("X", 11, [near, far], lat=39.9, lng=116.4)
    assert [(p.warehouse, p.qty) for p in split.picks] == [("NEAR", 2), ("FAR", 9)]
    assert split.shortfall == 0 and "split" in split.reason


def test_the_forecast_follows_a_season_better_than_last_years_copy():
    series = [
        30 + 12 * math.sin(2 * math.pi * w / 52) + (3 if w % 7 == 0 else -1) for w in range(156)
    ]
    result = forecast.backtest(series, season=52, holdout=26)
    assert result is not None
    assert result.smape < 10
    predicted, method = forecast.fit_forecast(series, season=52, horizon=4)
    assert method.startswith("holt-winters")
    assert forecast.safety_level(predicted, series[-52:], 1.0) > max(predicted)
