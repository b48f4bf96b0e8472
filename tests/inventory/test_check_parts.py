"""Reported parts are checked against the catalogue and the region's stock before the step
is sent to the order, so a part the settlement could not pay never gets that far."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from servflow.definitions import repo as definitions
from servflow.inventory.models import Part, StockLevel, Warehouse
from servflow.inventory.service import check_parts
from servflow.orders.models import WorkOrder
from servflow.platform.errors import Invalid
from workflows.definition import Definition

AC_REPAIR = json.loads(
    (Path(__file__).resolve().parents[2] / "examples" / "ac-repair.json").read_text("utf-8")
)


@pytest.fixture
def order(session, world) -> WorkOrder:
    body = Definition.model_validate(AC_REPAIR).model_dump(mode="json")
    definitions.save_draft(session, key="ac-repair", draft=AC_REPAIR)
    definitions.publish_version(session, key="ac-repair", body=body)
    return WorkOrder(definition_key="ac-repair", definition_version=1, region="huabei")


def stock(session, world, region: str, sku: str, on_hand: int) -> None:
    warehouse = Warehouse(code=f"WH-{region}", name="仓", region_id=world.units[region].id)
    session.add(warehouse)
    session.flush()
    part = session.query(Part).filter_by(sku=sku).one()
    session.add(StockLevel(warehouse_id=warehouse.id, part_id=part.id, on_hand=on_hand))
    session.flush()


def refused(session, order, parts) -> dict[str, str]:
    with pytest.raises(Invalid) as raised:
        check_parts(session, order=order, node_id="service", data={"parts_used": parts})
    return raised.value.extra["errors"]


def test_unknown_skus_are_refused_naming_the_line(session, order):
    errors = refused(
        session, order, [{"sku": "AC-CAP-35UF", "qty": 1}, {"sku": "NOPE-1", "qty": 1}]
    )
    assert errors == {"data.parts_used[1].sku": "no part 'NOPE-1' in the catalogue"}


def test_a_region_without_warehouses_takes_any_catalogue_part(session, order):
    check_parts(
        session,
        order=order,
        node_id="service",
        data={"parts_used": [{"sku": "R410A-1KG", "qty": 3}]},
    )


def test_a_region_with_warehouses_takes_only_parts_one_of_them_holds(session, world, order):
    stock(session, world, "huabei", "AC-CAP-35UF", on_hand=4)
    stock(session, world, "huadong", "R410A-1KG", on_hand=9)

    check_parts(
        session,
        order=order,
        node_id="service",
        data={"parts_used": [{"sku": "AC-CAP-35UF", "qty": 9}]},
    )
    errors = refused(session, order, [{"sku": "R410A-1KG", "qty": 1}])

    assert errors == {
        "data.parts_used[0].sku": "part 'R410A-1KG' is in no warehouse of the order's region"
    }


def test_steps_without_parts_and_unpublished_test_runs_are_not_checked(session, order):
    check_parts(session, order=order, node_id="signoff", data={"photos": ["f1"], "rating": "5"})
    draft = WorkOrder(definition_key="ac-repair-test", definition_version=0, region="huabei")
    check_parts(session, order=draft, node_id="service", data={"parts_used": [{"sku": "NOPE"}]})
