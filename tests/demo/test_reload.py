"""Loading the demo into a database that has been used since, and the bulk inventory use
cases the loader writes the catalogue and opening stock through."""

from decimal import Decimal

import pytest
from sqlalchemy import func, select

from servflow.demo.loader import DEMO_API_KEY, demo_parts, load_demo
from servflow.inventory import service as inventory
from servflow.inventory.models import Part, StockLevel
from servflow.inventory.service import NewPart, OpeningStock
from servflow.org import service as org
from servflow.org.models import ApiKey
from servflow.platform.errors import Forbidden, Invalid


def test_demo_stock_and_prices_are_those_published(session):
    load_demo(session)
    session.commit()

    # Figures of the demo as first published: the loader's stock formula and price grades.
    on_hand, reserved = session.execute(
        select(func.sum(StockLevel.on_hand), func.sum(StockLevel.reserved))
    ).one()
    # + the spare-parts cases (inventory_cases.json): 9 levels of 288 units, 3 parts (720).
    assert session.scalar(select(func.count(StockLevel.id))) == 4360 + 9
    assert (on_hand, reserved) == (146929 + 288, 4959)
    assert session.scalar(select(func.sum(Part.price))) == Decimal("109254.75") + 720
    entries, _ = inventory.page_stock(
        session, scope_path=None, limit=2, offset=0, warehouse="WH-TJ"
    )
    # WH-TJ is no central warehouse: it skips one part in three (here AC-CAP-15UF).
    assert [(e.part.sku, e.level.on_hand, e.level.reserved) for e in entries] == [
        ("AC-CAP-15UF-G", 6, 1),
        ("AC-CAP-20UF", 13, 2),
    ]


def test_reloading_keeps_stock_that_moved_since(session):
    load_demo(session)
    session.commit()
    (entry,), _ = inventory.page_stock(session, scope_path=None, limit=1, offset=0)
    inventory.save_stock(
        session,
        scope_path=None,
        warehouse=entry.warehouse.code,
        sku=entry.part.sku,
        on_hand=1,
        reserved=1,
    )
    session.commit()

    assert load_demo(session).added["stock_level"] == 0
    session.commit()
    (again,), _ = inventory.page_stock(
        session, scope_path=None, limit=1, offset=0, warehouse=entry.warehouse.code
    )
    assert (again.part.sku, again.level.on_hand, again.level.reserved) == (entry.part.sku, 1, 1)


def test_reloading_after_the_demo_key_was_revoked_adds_nothing_and_keeps_it_revoked(session):
    load_demo(session)
    session.commit()
    key = session.scalars(select(ApiKey)).one()
    key.revoked_at = key.created_at
    session.commit()

    assert load_demo(session).added["api_key"] == 0
    session.commit()
    assert session.scalar(select(func.count(ApiKey.id))) == 1
    assert org.user_by_api_key(session, key=DEMO_API_KEY) is None


def test_adding_parts_skips_the_skus_in_the_catalogue(session):
    load_demo(session)
    known = demo_parts()[0]
    added = inventory.add_parts(
        session,
        scope_path=None,
        parts=[
            known._replace(name="renamed", price=Decimal("1.00")),
            NewPart(sku="NEW-1", name="新件", price=Decimal("9.90"), category="misc"),
            NewPart(sku="NEW-1", name="twice", price=Decimal("9.90")),
        ],
    )

    assert added == ["NEW-1"]
    kept = inventory.get_part_by_sku(session, sku=known.sku)
    assert (kept.name, kept.price) == (known.name, known.price)
    new = inventory.get_part_by_sku(session, sku="NEW-1")
    assert (new.name, new.price, new.category, new.currency) == (
        "新件",
        Decimal("9.90"),
        "misc",
        "CNY",
    )


def test_only_hq_adds_to_the_parts_catalogue(session):
    with pytest.raises(Forbidden) as refused:
        inventory.add_parts(
            session,
            scope_path="/hq/huabei",
            parts=[NewPart(sku="X", name="x", price=Decimal("1"))],
        )
    assert set(refused.value.extra["errors"]) == {"sku"}


def test_a_negative_price_adds_no_part(session):
    with pytest.raises(Invalid) as refused:
        inventory.add_parts(
            session,
            scope_path=None,
            parts=[
                NewPart(sku="OK", name="ok", price=Decimal("1")),
                NewPart(sku="BAD", name="bad", price=Decimal("-1")),
            ],
        )
    assert set(refused.value.extra["errors"]) == {"price"}
    assert inventory.get_part_by_sku(session, sku="OK") is None


@pytest.mark.parametrize(
    ("row", "field"),
    [
        (OpeningStock("WH-NONE", "AC-CAP-15UF", 5), "warehouse"),
        (OpeningStock("WH-BJ", "NO-SUCH-SKU", 5), "sku"),
        (OpeningStock("WH-BJ", "AC-CAP-15UF", -1), "on_hand"),
        (OpeningStock("WH-BJ", "AC-CAP-15UF", 2, reserved=3), "reserved"),
    ],
)
def test_opening_stock_with_a_bad_row_is_refused_whole_naming_the_field(session, row, field):
    load_demo(session)
    session.commit()
    before = session.scalar(select(func.count(StockLevel.id)))
    good = OpeningStock("WH-BJ", "NEW-1", 5)
    inventory.add_parts(
        session, scope_path=None, parts=[NewPart(sku="NEW-1", name="n", price=Decimal("1"))]
    )

    with pytest.raises(Invalid) as refused:
        inventory.set_opening_stock(session, scope_path=None, levels=[good, row])

    assert set(refused.value.extra["errors"]) == {field}
    assert session.scalar(select(func.count(StockLevel.id))) == before


def test_opening_stock_stays_within_the_callers_region(session):
    load_demo(session)
    session.commit()
    inventory.add_parts(
        session, scope_path=None, parts=[NewPart(sku="NEW-1", name="n", price=Decimal("1"))]
    )

    with pytest.raises(Invalid, match="no warehouse 'WH-SH'"):  # as if it did not exist
        inventory.set_opening_stock(
            session, scope_path="/hq/huabei", levels=[OpeningStock("WH-SH", "NEW-1", 5)]
        )
    added = inventory.set_opening_stock(
        session,
        scope_path="/hq/huabei",
        levels=[OpeningStock("WH-BJ", "NEW-1", 5, reserved=2), OpeningStock("WH-BJ", "NEW-1", 9)],
    )

    assert added == 1
    (entry,), _ = inventory.page_stock(
        session, scope_path="/hq/huabei", limit=5, offset=0, sku="NEW-1"
    )
    assert (entry.warehouse.code, entry.level.on_hand, entry.level.reserved) == ("WH-BJ", 5, 2)
