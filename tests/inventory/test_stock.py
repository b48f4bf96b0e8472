import pytest
from sqlalchemy.exc import IntegrityError

from servflow.inventory.models import Part, StockLevel, Warehouse


def test_stock_levels_cannot_go_negative_or_reserve_more_than_on_hand(session, tree):
    warehouse = Warehouse(code="WH", name="仓", region_id=tree["huabei"].id)
    part = Part(sku="A", name="a", price=1)
    session.add_all([warehouse, part])
    session.flush()
    session.add(StockLevel(warehouse_id=warehouse.id, part_id=part.id, on_hand=1, reserved=2))
    with pytest.raises(IntegrityError):
        session.flush()
