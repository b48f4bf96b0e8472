"""Safety stock: one open alert per balance below its safety level, with a replenishment
suggestion."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from servflow.inventory import repo, rules
from servflow.inventory.models import Part, StockAlert, StockLevel, Warehouse

DEMAND_WINDOW = timedelta(days=28)


def _pair(warehouse_id: int, part_id: int) -> str:
    return f"{warehouse_id}:{part_id}"


def check_safety(session: Session, *, warehouse: Warehouse, part: Part, now: datetime) -> None:
    """After a movement (and in the scheduled scan): a balance below its safety level gets
    ONE open alert with a suggestion, however many movements follow; a balance back at or
    above it closes its alert, so the next crossing raises a new one."""
    level = repo.level_of(session, warehouse_id=warehouse.id, part_id=part.id)
    if level is None or level.safety_level <= 0:
        return
    available = level.on_hand - level.reserved
    pair = _pair(warehouse.id, part.id)
    alert = repo.open_alert(session, pair=pair)
    if not rules.crossed_below(available, level.safety_level):
        if alert is not None:
            alert.open_pair, alert.resolved_at = None, now
            if alert.status == "open":
                alert.status = "resolved"
            session.flush()
        return
    if alert is not None:
        alert.available = available  # still below: the one alert shows the latest figure
        session.flush()
        return
    try:
        with session.begin_nested():
            session.add(
                StockAlert(
                    warehouse_id=warehouse.id,
                    part_id=part.id,
                    open_pair=pair,
                    status="open",
                    available=available,
                    safety_level=level.safety_level,
                    suggestion=suggest(
                        session, warehouse=warehouse, part=part, level=level, now=now
                    ),
                    created_at=now,
                )
            )
            session.flush()
    except IntegrityError:
        pass  # a concurrent movement raised the alert first: one alert, not two


def daily_demand(session: Session, *, warehouse: Warehouse, part: Part, now: datetime) -> float:
    """Units of the part consumed per day from the warehouse over the last four weeks."""
    used = repo.consumed_since(
        session, part_id=part.id, warehouse_ids=[warehouse.id], since=now - DEMAND_WINDOW
    )
    return used / DEMAND_WINDOW.days


def suggest(
    session: Session, *, warehouse: Warehouse, part: Part, level: StockLevel, now: datetime
) -> dict[str, Any]:
    """What to do about a balance below safety: how many (back to the reorder point plus the
    lead time's demand) and from where: a central warehouse purchases; any other takes a
    transfer from the nearest warehouse that has that many above its own safety level,
    else purchases."""
    demand = daily_demand(session, warehouse=warehouse, part=part, now=now)
    qty = rules.replenish_qty(
        available=level.on_hand - level.reserved,
        safety_level=level.safety_level,
        reorder_point=level.reorder_point,
        daily_demand=demand,
        lead_time_days=warehouse.lead_time_hours / 24,
    )
    base = {"qty": qty, "daily_demand": round(demand, 2), "unit_cost": str(part.cost)}
    if warehouse.kind != "central":
        donors = [
            rules.Candidate(
                h.code,
                h.kind,
                h.lat,
                h.lng,
                h.available - h.safety_level,
                h.lead_time_hours,
                h.engineer_code,
            )
            for h in repo.holders(session, part_id=part.id, at_least=qty)
            if h.warehouse_id != warehouse.id and h.kind != "van"
        ]
        plan = rules.plan_line(part.sku, qty, donors, lat=warehouse.lat, lng=warehouse.lng)
        if plan.picks and not plan.shortfall and len(plan.picks) == 1:
            pick = plan.picks[0]
            return {
                **base,
                "action": "transfer",
                "source": pick.warehouse,
                "distance_km": pick.distance_km,
                "reason": plan.reason,
            }
    return {
        **base,
        "action": "purchase",
        "source": "",
        "reason": f"{warehouse.code} ({warehouse.kind}): purchase {qty} {part.unit}",
    }
