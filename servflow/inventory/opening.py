"""Opening stock in bulk (demo data, CSV imports): levels for pairs that have none yet."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy.orm import Session

from servflow.inventory import repo
from servflow.inventory.models import Part, Warehouse
from servflow.org import service as org
from servflow.platform.base import utcnow
from servflow.platform.errors import invalid_field


class OpeningStock(NamedTuple):
    """The stock a warehouse starts with for one part."""

    warehouse: str
    sku: str
    on_hand: int
    reserved: int = 0


def _warehouses_in_scope(
    session: Session, *, codes: set[str], scope_path: str | None
) -> dict[str, Warehouse]:
    stores = repo.warehouses_by_code(session, codes=codes)
    missing = sorted(codes - set(stores))
    if missing:
        raise invalid_field("warehouse", f"no warehouse '{missing[0]}'")
    for store in stores.values():
        path = org.path_of_unit(session, unit_id=store.region_id)
        org.check_in_scope(
            path, scope_path, field="warehouse", unknown=f"no warehouse '{store.code}'"
        )
    return stores


def set_opening_stock(
    session: Session, *, scope_path: str | None, levels: Iterable[OpeningStock]
) -> int:
    """Adds the stock levels of warehouse/part pairs that have none yet, looking up the
    warehouses, the parts and their levels once for all rows. Pairs with a level keep it:
    stock that has moved since opening is not reset.

    Returns:
        How many levels were added.

    Raises:
        Invalid: naming the field: an unknown warehouse or part, or more reserved than on
            hand; nothing is added then.
        Forbidden: a warehouse's region is outside `scope_path`.
    """
    rows = list(levels)
    stores = _warehouses_in_scope(
        session, codes={row.warehouse for row in rows}, scope_path=scope_path
    )
    parts = repo.parts_by_sku(session, skus=[row.sku for row in rows])
    have = repo.stock_pairs(session, warehouse_ids=[store.id for store in stores.values()])
    added: list[dict[str, int]] = []
    for row in rows:
        pair = (stores[row.warehouse].id, _opening_part(row, parts).id)
        if pair in have:
            continue
        have.add(pair)
        added.append(
            {
                "warehouse_id": pair[0],
                "part_id": pair[1],
                "on_hand": row.on_hand,
                "reserved": row.reserved,
            }
        )
    repo.insert_stock_levels(session, rows=added)
    repo.insert_movements(session, rows=_opening_movements(added, now=utcnow()))
    return len(added)


def _opening_part(row: OpeningStock, parts: Mapping[str, Part]) -> Part:
    """The catalogue part of an opening row, once its figures are checked.

    Raises:
        Invalid: an unknown part, a negative on-hand figure or more reserved than on hand.
    """
    part = parts.get(row.sku)
    if part is None:
        raise invalid_field("sku", f"no part '{row.sku}'")
    if row.on_hand < 0:
        raise invalid_field("on_hand", f"'{row.sku}' in '{row.warehouse}': cannot be negative")
    if row.reserved > row.on_hand:
        raise invalid_field("reserved", f"'{row.sku}' in '{row.warehouse}': cannot exceed on_hand")
    return part


def _opening_movements(added: list[dict[str, int]], *, now: datetime) -> list[dict[str, Any]]:
    """The journal rows of new opening balances: the journal is the truth, so an opening
    balance is a receipt (and a reservation)."""
    return [
        {
            "key": f"opening:{row['warehouse_id']}:{row['part_id']}:{kind}",
            "warehouse_id": row["warehouse_id"],
            "part_id": row["part_id"],
            "kind": kind,
            "qty": qty,
            "on_hand_delta": qty if kind == "receipt" else 0,
            "reserved_delta": qty if kind == "reservation" else 0,
            "reason": "opening stock",
            "ref": "",
            "actor": "",
            "created_at": now,
        }
        for row in added
        for kind, qty in (("receipt", row["on_hand"]), ("reservation", row["reserved"]))
        if qty > 0
    ]
