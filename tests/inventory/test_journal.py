"""The journal is the truth: every movement moves its balance once, reservations never
oversell, alerts come once per crossing, consumption takes stock exactly once."""

from __future__ import annotations

from datetime import timedelta

import pytest

from servflow.inventory import repo, service
from servflow.inventory.models import StockAlert, StockMovement
from servflow.platform.errors import Conflict, Invalid
from tests.inventory.stockworld import NOW, Stock, build, level, receive


@pytest.fixture
def stock(session, world) -> Stock:
    return build(session, world.units)


def reserve(session, stock, key, qty, warehouse="WH-BJ", sku="MOTOR"):
    return service.reserve(
        session,
        key=key,
        order_id=key.split("/")[0],
        warehouse=stock.warehouses[warehouse],
        part=stock.parts[sku],
        qty=qty,
        now=NOW,
    )


def test_a_reservation_beyond_what_is_available_is_refused_with_the_shortfall(session, stock):
    receive(session, stock, "WH-BJ", "MOTOR", 5, "r1")
    reserve(session, stock, "o1/1", 3)
    with pytest.raises(Conflict) as refused:
        reserve(session, stock, "o2/1", 4)
    assert refused.value.extra["shortfall"] == 2
    assert refused.value.extra["available"] == 2
    assert level(session, stock, "WH-BJ", "MOTOR") == (5, 3)


def test_the_same_order_line_reserves_once(session, stock):
    receive(session, stock, "WH-BJ", "MOTOR", 5, "r1")
    first = reserve(session, stock, "o1/1", 2)
    again = reserve(session, stock, "o1/1", 2)
    assert again.id == first.id
    assert level(session, stock, "WH-BJ", "MOTOR") == (5, 2)
    with pytest.raises(Conflict):
        reserve(session, stock, "o1/1", 3)


def test_release_on_cancel_and_on_timeout_gives_stock_back_once(session, stock):
    receive(session, stock, "WH-BJ", "MOTOR", 5, "r1")
    reserve(session, stock, "o1/1", 2)
    service.reserve(
        session,
        key="o2/1",
        order_id="o2",
        warehouse=stock.warehouses["WH-BJ"],
        part=stock.parts["MOTOR"],
        qty=1,
        now=NOW,
        ttl=timedelta(minutes=30),
    )
    assert service.release_order(session, order_id="o1", now=NOW, reason="cancelled") == 1
    assert service.release_order(session, order_id="o1", now=NOW, reason="cancelled") == 0
    assert service.release_expired(session, now=NOW + timedelta(minutes=10)) == 0
    assert service.release_expired(session, now=NOW + timedelta(hours=1)) == 1
    assert level(session, stock, "WH-BJ", "MOTOR") == (5, 0)
    assert service.journal_mismatches(session) == []


def test_a_movement_key_moves_stock_once(session, stock):
    receive(session, stock, "WH-BJ", "PAD", 5, "same")
    receive(session, stock, "WH-BJ", "PAD", 5, "same")
    assert level(session, stock, "WH-BJ", "PAD") == (5, 0)
    assert session.query(StockMovement).filter_by(key="same").count() == 1


def test_an_adjustment_needs_a_reason_and_cannot_take_reserved_stock(session, stock):
    receive(session, stock, "WH-BJ", "PAD", 5, "r1")
    reserve(session, stock, "o1/1", 4, sku="PAD")
    common = {"scope_path": None, "warehouse": "WH-BJ", "sku": "PAD", "kind": "adjustment"}
    with pytest.raises(Invalid):
        service.record_movement(session, **common, qty=-1, reason=" ", key="a1", actor="x", now=NOW)
    with pytest.raises(Conflict):
        service.record_movement(
            session, **common, qty=-2, reason="broken", key="a2", actor="x", now=NOW
        )
    service.record_movement(
        session, **common, qty=-1, reason="broken", key="a3", actor="x", now=NOW
    )
    assert level(session, stock, "WH-BJ", "PAD") == (4, 4)
    assert service.journal_mismatches(session) == []


def test_falling_below_safety_raises_one_alert_until_stock_is_back(session, stock):
    receive(session, stock, "WH-BJ", "MOTOR", 51, "r1")
    service.set_safety(
        session,
        scope_path=None,
        warehouse="WH-BJ",
        sku="MOTOR",
        safety_level=50,
        reorder_point=60,
        now=NOW,
    )
    for line in range(1, 5):  # 51 → 50 → 49 → 48 → 47 available
        reserve(session, stock, f"o{line}/1", 1)
    alerts = session.query(StockAlert).all()
    assert len(alerts) == 1
    (alert,) = alerts
    assert alert.suggestion["action"] == "purchase"  # a central warehouse buys
    assert alert.suggestion["qty"] == 60 - 49  # back to the reorder point from 49
    assert alert.available == 47

    receive(session, stock, "WH-BJ", "MOTOR", 20, "r2")  # back above: the alert closes
    assert alert.status == "resolved" and alert.open_pair is None
    for line in range(5, 25):
        reserve(session, stock, f"o{line}/1", 1)
    assert session.query(StockAlert).count() == 2  # a new crossing, a new alert


def test_a_store_below_safety_is_offered_a_transfer_from_the_nearest_with_surplus(session, stock):
    receive(session, stock, "WH-TJ", "PAD", 2, "r1")
    receive(session, stock, "WH-BJ", "PAD", 40, "r2")
    receive(session, stock, "WH-SH", "PAD", 90, "r3")
    service.set_safety(
        session,
        scope_path=None,
        warehouse="WH-TJ",
        sku="PAD",
        safety_level=5,
        reorder_point=10,
        now=NOW,
    )
    (alert,) = session.query(StockAlert).all()
    assert alert.suggestion["action"] == "transfer"
    assert alert.suggestion["source"] == "WH-BJ"
    assert alert.suggestion["qty"] == 8


def test_the_scan_raises_what_no_movement_did_and_nothing_twice(session, stock):
    receive(session, stock, "WH-SH", "CAP", 3, "r1")
    level_row = repo.level_of(
        session, warehouse_id=stock.warehouses["WH-SH"].id, part_id=stock.parts["CAP"].id
    )
    level_row.safety_level = 10  # set without a check (an import, a lost check)
    session.flush()
    assert service.scan_safety(session, now=NOW) == 1
    assert service.scan_safety(session, now=NOW) == 1
    assert session.query(StockAlert).count() == 1


def test_parts_used_come_from_the_van_first_else_the_reservation_exactly_once(session, stock):
    receive(session, stock, "VAN-1", "CAP", 2, "r1")
    receive(session, stock, "WH-BJ", "PAD", 5, "r2")
    reserve(session, stock, "o1/PAD", 3, sku="PAD")
    lines = [("CAP", 2), ("PAD", 2), ("MOTOR", 1)]
    for _ in range(2):  # a retried step takes nothing twice
        used = service.consume_parts(
            session, order_id="o1", key="o1/service/1", lines=lines, engineer="bj_near", now=NOW
        )
    assert [(u.sku, u.warehouse, u.source) for u in used] == [
        ("CAP", "VAN-1", "van"),
        ("PAD", "WH-BJ", "reservation"),
        ("MOTOR", "", ""),
    ]
    assert level(session, stock, "VAN-1", "CAP") == (0, 0)
    assert level(session, stock, "WH-BJ", "PAD") == (3, 0)  # 1 unused unit released
    assert service.journal_mismatches(session) == []


def test_a_balance_that_differs_from_its_journal_is_reported(session, stock):
    receive(session, stock, "WH-BJ", "PAD", 5, "r1")
    assert service.journal_mismatches(session) == []
    repo.shift_level(
        session,
        warehouse_id=stock.warehouses["WH-BJ"].id,
        part_id=stock.parts["PAD"].id,
        on_hand_delta=1,
        reserved_delta=0,
    )
    (bad,) = service.journal_mismatches(session)
    assert (bad.on_hand, bad.journal_on_hand) == (6, 5)


def test_another_engineers_van_is_never_a_source(session, stock):
    receive(session, stock, "VAN-1", "CAP", 5, "r1")
    receive(session, stock, "WH-TJ", "CAP", 5, "r2")
    (mine,) = service.plan_lines(
        session, lines=[("CAP", 1)], lat=39.9, lng=116.4, engineer="bj_near"
    )
    (theirs,) = service.plan_lines(
        session, lines=[("CAP", 1)], lat=39.9, lng=116.4, engineer="someone"
    )
    assert mine.picks[0].warehouse == "VAN-1"
    assert theirs.picks[0].warehouse == "WH-TJ"
