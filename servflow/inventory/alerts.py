"""Safety levels a person sets, the scheduled scan, and the alerts it raises."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from sqlalchemy.orm import Session

from servflow.inventory import repo
from servflow.inventory.catalogue import known_part
from servflow.inventory.models import Part, StockAlert, StockLevel, Warehouse
from servflow.inventory.reservations import release_expired
from servflow.inventory.safety import check_safety
from servflow.inventory.warehouses import visible_warehouse
from servflow.org import service as org
from servflow.platform.errors import NotFound, invalid_field


def set_safety(
    session: Session,
    *,
    scope_path: str | None,
    warehouse: str,
    sku: str,
    safety_level: int,
    reorder_point: int,
    now: datetime,
) -> StockLevel:
    """Sets the safety level and reorder point of a part in a warehouse, and checks it."""
    store = visible_warehouse(session, warehouse, scope_path, "warehouse")
    part = known_part(session, sku)
    if reorder_point and reorder_point < safety_level:
        raise invalid_field("reorder_point", "cannot be below the safety level")
    repo.ensure_level(session, warehouse_id=store.id, part_id=part.id)
    level = repo.level_of(session, warehouse_id=store.id, part_id=part.id)
    assert level is not None
    level.safety_level, level.reorder_point = safety_level, reorder_point
    session.flush()
    check_safety(session, warehouse=store, part=part, now=now)
    return level


def scan_safety(session: Session, *, now: datetime, batch: int = 1000) -> int:
    """The scheduled scan: checks every balance with a safety level (so a level lowered
    without a movement, or a missed check, still raises its one alert) and releases the
    reservations past their expiry. Returns how many balances it checked."""
    release_expired(session, now=now)
    checked, after = 0, 0
    while True:
        levels = repo.levels_to_scan(session, after_id=after, limit=batch)
        if not levels:
            return checked
        for level in levels:
            store = repo.warehouse_by_id(session, warehouse_id=level.warehouse_id)
            part = repo.part_by_id(session, part_id=level.part_id)
            assert store is not None and part is not None
            check_safety(session, warehouse=store, part=part, now=now)
        checked += len(levels)
        after = levels[-1].id


class AlertEntry(NamedTuple):
    alert: StockAlert
    warehouse: Warehouse
    part: Part


def page_alerts(
    session: Session, *, scope_path: str | None, status: str | None, limit: int, offset: int
) -> tuple[list[AlertEntry], int]:
    rows, count = repo.page_alerts(
        session,
        region_ids=org.unit_ids_in_scope(scope_path=scope_path),
        status=status,
        limit=limit,
        offset=offset,
    )
    return [AlertEntry(*row) for row in rows], count


def acknowledge_alert(
    session: Session, *, alert_id: int, scope_path: str | None, by: str, now: datetime
) -> AlertEntry:
    """Marks an alert seen (it stays the pair's open alert until stock is back above
    safety). An alert outside the scope is answered as missing.

    Raises:
        NotFound: no such alert in the caller's scope.
    """
    alert = repo.alert_by_id(session, alert_id=alert_id)
    store = repo.warehouse_by_id(session, warehouse_id=alert.warehouse_id) if alert else None
    if (
        alert is None
        or store is None
        or not org.visible(org.path_of_unit(session, unit_id=store.region_id), scope_path)
    ):
        raise NotFound(f"no alert {alert_id}")
    if alert.status == "open":
        alert.status, alert.acknowledged_by, alert.acknowledged_at = "acknowledged", by, now
        session.flush()
    part = repo.part_by_id(session, part_id=alert.part_id)
    assert part is not None
    return AlertEntry(alert, store, part)
