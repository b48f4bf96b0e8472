"""Stock levels per warehouse and part: their pages and counted stock."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from sqlalchemy.orm import Session

from servflow.inventory import repo
from servflow.inventory.catalogue import known_part
from servflow.inventory.journal import move
from servflow.inventory.models import Part, StockLevel, Warehouse
from servflow.inventory.warehouses import visible_warehouse
from servflow.org import service as org
from servflow.platform.base import utcnow
from servflow.platform.errors import invalid_field


class StockEntry(NamedTuple):
    """A stock level with the warehouse and part it counts."""

    level: StockLevel
    warehouse: Warehouse
    part: Part


def page_stock(
    session: Session,
    *,
    scope_path: str | None,
    limit: int,
    offset: int,
    warehouse: str | None = None,
    sku: str | None = None,
) -> tuple[list[StockEntry], int]:
    """Stock in the warehouses of the regions within `scope_path` (of one warehouse code and
    one SKU when given), by warehouse and SKU, and its count."""
    rows, count = repo.page_stock(
        session,
        region_ids=org.unit_ids_in_scope(scope_path=scope_path),
        warehouse=warehouse,
        sku=sku,
        limit=limit,
        offset=offset,
    )
    return [StockEntry(*row) for row in rows], count


def save_stock(
    session: Session,
    *,
    scope_path: str | None,
    warehouse: str,
    sku: str,
    on_hand: int,
    reserved: int | None = None,
    now: datetime | None = None,
    actor: str = "",
) -> StockEntry:
    """Sets the counted stock of part `sku` in warehouse `warehouse` (created when missing):
    the differences are journalled ("stock count": a receipt for a new level, else an
    adjustment; a reservation or release for a counted reserved figure), never written
    over. `reserved` None keeps what is reserved.

    Raises:
        Invalid: naming the field: an unknown warehouse or part, more reserved than on hand.
        Invalid: the warehouse's region is outside `scope_path` (answered as if unknown).
    """
    store = visible_warehouse(session, warehouse, scope_path, "warehouse")
    part = known_part(session, sku)
    now = now or utcnow()
    level = repo.get_stock_level(session, warehouse_id=store.id, part_id=part.id)
    before = (level.on_hand, level.reserved) if level is not None else (0, 0)
    if reserved is None:
        reserved = before[1]
    if reserved > on_hand:
        raise invalid_field("reserved", "cannot exceed on_hand")
    repo.ensure_level(session, warehouse_id=store.id, part_id=part.id)
    stamp = f"{store.id}:{part.id}:{now.isoformat()}:{before[0]}:{before[1]}"
    for kind, qty, what in _count_moves(before, on_hand, reserved, new=level is None):
        move(
            session,
            warehouse=store,
            part=part,
            kind=kind,
            qty=qty,
            key=f"count:{what}:{stamp}",
            now=now,
            reason="stock count",
            actor=actor,
        )
    level = repo.level_of(session, warehouse_id=store.id, part_id=part.id)
    assert level is not None
    return StockEntry(level, store, part)


def _count_moves(
    before: tuple[int, int], on_hand: int, reserved: int, *, new: bool
) -> list[tuple[str, int, str]]:
    """The movements that take a balance (on hand, reserved) `before` to a count: (kind,
    qty, "h" for on hand or "r" for reserved). A count is journalled, never written over:
    what is reserved less first, then the on-hand difference (a receipt into a `new`
    balance, else an adjustment), then what is reserved more, so no step passes through an
    invalid balance."""
    steps = []
    if reserved < before[1]:
        steps.append(("release", before[1] - reserved, "r"))
    if on_hand != before[0]:
        kind = "receipt" if new and on_hand > 0 else "adjustment"
        steps.append((kind, on_hand - before[0], "h"))
    if reserved > before[1]:
        steps.append(("reservation", reserved - before[1], "r"))
    return steps
