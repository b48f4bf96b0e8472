from decimal import Decimal

import pytest
from sqlalchemy.exc import IntegrityError

from servflow.inventory import service
from servflow.inventory.models import Part, StockLevel, Warehouse
from servflow.platform.errors import Forbidden


def test_stock_levels_cannot_go_negative_or_reserve_more_than_on_hand(session, tree):
    warehouse = Warehouse(code="WH", name="仓", region_id=tree["huabei"].id)
    part = Part(sku="A", name="a", price=1)
    session.add_all([warehouse, part])
    session.flush()
    session.add(StockLevel(warehouse_id=warehouse.id, part_id=part.id, on_hand=1, reserved=2))
    with pytest.raises(IntegrityError):
        session.flush()


def test_only_hq_keeps_the_parts_catalogue_one_part_or_many(session, tree):
    region = tree["huabei"].path
    with pytest.raises(Forbidden) as one:
        service.save_part(session, scope_path=region, sku="A", name="a", price=Decimal("1"))
    with pytest.raises(Forbidden) as many:
        service.add_parts(
            session, scope_path=region, parts=[service.NewPart("A", "a", Decimal("1"))]
        )
    assert (
        one.value.extra
        == many.value.extra
        == {"errors": {"sku": "the parts catalogue is kept by HQ"}}
    )
    assert session.query(Part).count() == 0
    service.save_part(session, scope_path=None, sku="A", name="a", price=Decimal("1"))
    assert service.add_parts(
        session, scope_path=None, parts=[service.NewPart("B", "b", Decimal("2"))]
    ) == ["B"]
