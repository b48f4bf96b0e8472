"""The transfer saga's steps on the journal, without Temporal: each step moves the units at
its side once, under its own key, and a cancel after receiving sends them back."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from servflow.inventory import service
from servflow.inventory.models import StockMovement
from tests.inventory.stockworld import NOW, Stock, build, level, receive

CODE = "tr-WO-9-1"


@pytest.fixture
def stock(session, world) -> Stock:
    stock = build(session, world.units)
    receive(session, stock, "WH-BJ", "MOTOR", 10, "opening")
    service.open_transfer(
        session,
        code=CODE,
        order_id="WO-9",
        line_key="WO-9/1",
        sku="MOTOR",
        qty=3,
        source="WH-BJ",
        destination="WH-TJ",
        now=NOW,
    )
    return stock


def journal(session, stock: Stock) -> list[tuple[str, str, int, int, str, str, str]]:
    """The transfer's movements: key, warehouse, deltas (on hand, reserved), ref, reason, actor."""
    rows = session.scalars(select(StockMovement).where(StockMovement.key.startswith(f"{CODE}/")))
    codes = {w.id: code for code, w in stock.warehouses.items()}
    return sorted(
        (m.key, codes[m.warehouse_id], m.on_hand_delta, m.reserved_delta, m.ref, m.reason, m.actor)
        for m in rows
    )


def test_shipping_and_receiving_move_the_units_once_at_each_side(session, stock):
    later = NOW + timedelta(hours=1)
    for _ in range(2):  # a retried step moves nothing again
        service.ship_transfer(
            session, code=CODE, carrier="SF", tracking_no="SF9", now=later, actor="bj_keeper"
        )
        service.receive_transfer(session, code=CODE, now=later, actor="tj_keeper")

    assert journal(session, stock) == [
        (f"{CODE}/in", "WH-TJ", 3, 0, "WO-9", "", "tj_keeper"),
        (f"{CODE}/out", "WH-BJ", -3, -3, "WO-9", "SF SF9", "bj_keeper"),
    ]
    assert level(session, stock, "WH-BJ", "MOTOR") == (7, 0)
    assert level(session, stock, "WH-TJ", "MOTOR") == (3, 3)


def test_a_cancel_after_receiving_sends_the_units_back_to_the_source(session, stock):
    service.ship_transfer(session, code=CODE, carrier="SF", tracking_no="SF9", now=NOW)
    service.receive_transfer(session, code=CODE, now=NOW)
    for _ in range(2):
        view = service.cancel_transfer(session, code=CODE, reason="wrong part", now=NOW)

    assert view.transfer.status == "cancelled"
    assert [row[:6] for row in journal(session, stock)] == [
        (f"{CODE}/in", "WH-TJ", 3, 0, "WO-9", ""),
        (f"{CODE}/out", "WH-BJ", -3, -3, "WO-9", "SF SF9"),
        (f"{CODE}/return", "WH-BJ", 3, 0, "WO-9", "return: wrong part"),
        (f"{CODE}/return-out", "WH-TJ", -3, -3, "WO-9", "return: wrong part"),
    ]
    assert level(session, stock, "WH-BJ", "MOTOR") == (10, 0)
    assert level(session, stock, "WH-TJ", "MOTOR") == (0, 0)
    assert service.journal_mismatches(session) == []
