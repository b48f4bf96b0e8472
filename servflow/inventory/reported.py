"""Parts a field app reports: refused before the step is sent when the settlement could not
pay them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from servflow.definitions import service as definitions
from servflow.inventory import repo
from servflow.org import service as org
from servflow.platform.errors import Invalid, NotFound
from workflows.contracts import OrderState
from workflows.definition import Definition as Pipeline
from workflows.forms import PARTS_MAX_LINES, FormField

if TYPE_CHECKING:
    from servflow.orders.models import WorkOrder


def _reported_parts(data: Mapping[str, Any]) -> bool:
    """Whether `data` holds a list of objects at all: only a parts field does, so other
    steps are not made to load their definition."""
    return any(
        isinstance(value, list) and any(isinstance(line, dict) for line in value)
        for value in data.values()
    )


def _parts_fields(session: Session, *, key: str, version: int, node_id: str) -> list[FormField]:
    """The `parts` fields of node `node_id` in the published version (none for a draft's
    test run, which has no published version and settles nothing real)."""
    try:
        row = definitions.get_version(session, key=key, version=version)
    except NotFound:
        return []
    node = next((n for n in Pipeline.model_validate(row.body).nodes if n.id == node_id), None)
    fields = node.form_fields() if node is not None else []
    return [field for field in fields if field.type == "parts"]


def check_parts(
    session: Session, *, order: WorkOrder | OrderState, node_id: str, data: Mapping[str, Any]
) -> None:
    """Refuses reported parts the settlement could not pay: every SKU of a `parts` field
    must be in the catalogue and, when the order's region has warehouses, on hand in one
    of them (a region without warehouses orders its parts centrally, so the catalogue is
    enough). Quantities are not compared with stock: the parts are used already, and the
    stock journal is reconciled on its own.

    Raises:
        Invalid: naming each refused line as `data.<field>[i].sku`.
    """
    if not _reported_parts(data):
        return
    fields = _parts_fields(
        session, key=order.definition_key, version=order.definition_version, node_id=node_id
    )
    lines = [
        (f"data.{field.name}[{index}].sku", line["sku"])
        for field in fields
        # A longer list is refused by the form check, without asking the database.
        if isinstance(data.get(field.name), list) and len(data[field.name]) <= PARTS_MAX_LINES
        for index, line in enumerate(data[field.name])
        if isinstance(line, dict) and isinstance(line.get("sku"), str)
    ]
    errors = _unavailable(session, lines, order)
    if errors:
        raise Invalid(f"{next(iter(errors))}: {next(iter(errors.values()))}", errors=errors)


def _unavailable(
    session: Session, lines: list[tuple[str, str]], order: WorkOrder | OrderState
) -> dict[str, str]:
    skus = {sku for _, sku in lines}
    known = repo.parts_by_sku(session, skus=skus)
    region = order.context.region if isinstance(order, OrderState) else order.region
    unit = org.find_region(session, code_or_name=region) if region else None
    region_ids = org.unit_ids_in_scope(scope_path=unit.path) if unit is not None else None
    checks_stock = region_ids is not None and repo.has_warehouse(session, region_ids=region_ids)
    stocked = (
        repo.stocked_skus(session, skus=known, region_ids=region_ids)
        if region_ids is not None and checks_stock
        else set(known)
    )
    errors: dict[str, str] = {}
    for path, sku in lines:
        if sku not in known:
            errors[path] = f"no part '{sku}' in the catalogue"
        elif sku not in stocked:
            errors[path] = f"part '{sku}' is in no warehouse of the order's region"
    return errors
