"""Pure inventory rules: what each movement does to a balance, sourcing a line from the
warehouses that hold it, and how much to replenish. No database, no clock."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from servflow.platform.geo import haversine_km

# kind -> (on-hand sign, reserved sign) per unit moved. A consumption or a transfer out
# takes reserved stock (it was reserved first); `consumption_unreserved` is a van's own
# stock used without a reservation; an adjustment carries its signed delta itself.
MOVEMENT_EFFECT: dict[str, tuple[int, int]] = {
    "receipt": (1, 0),
    "reservation": (0, 1),
    "release": (0, -1),
    "transfer_out": (-1, -1),
    "transfer_in": (1, 0),
    "consumption": (-1, -1),
    "consumption_unreserved": (-1, 0),
    "adjustment": (1, 0),
}


def deltas(kind: str, qty: int) -> tuple[int, int]:
    """The (on-hand, reserved) deltas of moving `qty` units as `kind` (an adjustment's
    `qty` is signed).

    Raises:
        ValueError: an unknown kind, or a non-positive quantity for any other kind.
    """
    if kind not in MOVEMENT_EFFECT:
        raise ValueError(f"unknown movement kind {kind!r}")
    if kind != "adjustment" and qty <= 0:
        raise ValueError("qty must be positive")
    if qty == 0:
        raise ValueError("an adjustment moves at least one unit")
    on_hand, reserved = MOVEMENT_EFFECT[kind]
    return on_hand * qty, reserved * qty


@dataclass(frozen=True)
class Candidate:
    """A warehouse holding the part: where it is and what it can give."""

    code: str
    kind: str
    lat: float | None
    lng: float | None
    available: int
    lead_time_hours: int = 24
    engineer_code: str = ""


@dataclass(frozen=True)
class RankedSource:
    code: str
    kind: str
    distance_km: float
    lead_time_hours: int
    available: int
    van: bool
    cost: float
    """Transport cost score: km plus the lead time, in km-equivalents (see `rank`)."""


@dataclass(frozen=True)
class Pick:
    warehouse: str
    qty: int
    distance_km: float
    van: bool


@dataclass
class Plan:
    """Where one line comes from, why, and what is missing (`shortfall` > 0)."""

    sku: str
    qty: int
    picks: list[Pick] = field(default_factory=list)
    shortfall: int = 0
    reason: str = ""
    considered: list[RankedSource] = field(default_factory=list)


KM_PER_LEAD_HOUR = 10.0
"""How many km one hour of lead time weighs against (a regional warehouse 24 h away costs
as much as 240 km more of road)."""


def rank(
    candidates: list[Candidate],
    *,
    lat: float | None,
    lng: float | None,
    engineer: str = "",
) -> list[RankedSource]:
    """The warehouses in the order sourcing tries them: the job's engineer's van first,
    then by cost (distance to the job plus lead time weighed by `KM_PER_LEAD_HOUR`), then
    by distance, lead time and code (a stable tie-break). Another engineer's van is never
    a source. A warehouse without coordinates (or a job without) counts as 0 km."""
    ranked = []
    for c in candidates:
        if c.kind == "van" and (not engineer or c.engineer_code != engineer):
            continue
        if c.available <= 0:
            continue
        known = None not in (lat, lng, c.lat, c.lng)
        km = haversine_km(lat, lng, c.lat, c.lng) if known else 0.0  # type: ignore[arg-type]
        van = c.kind == "van"
        cost = km + KM_PER_LEAD_HOUR * c.lead_time_hours
        ranked.append(
            RankedSource(
                c.code, c.kind, round(km, 1), c.lead_time_hours, c.available, van, round(cost, 1)
            )
        )
    ranked.sort(key=lambda r: (not r.van, r.cost, r.distance_km, r.lead_time_hours, r.code))
    return ranked


def plan_line(
    sku: str,
    qty: int,
    candidates: list[Candidate],
    *,
    lat: float | None,
    lng: float | None,
    engineer: str = "",
    considered: int = 5,
) -> Plan:
    """Sources `qty` of `sku`: the first ranked warehouse that can fill the whole line; a
    split across warehouses (in ranked order) only when none can; the rest a shortfall."""
    ranked = rank(candidates, lat=lat, lng=lng, engineer=engineer)
    plan = Plan(sku=sku, qty=qty, considered=ranked[:considered])
    whole = next((r for r in ranked if r.available >= qty), None)
    if whole is not None:
        plan.picks = [Pick(whole.code, qty, whole.distance_km, whole.van)]
        plan.reason = _why(whole, ranked, qty)
        return plan
    remaining = qty
    for source in ranked:
        if remaining == 0:
            break
        take = min(source.available, remaining)
        plan.picks.append(Pick(source.code, take, source.distance_km, source.van))
        remaining -= take
    plan.shortfall = remaining
    taken = ", ".join(f"{p.warehouse} x{p.qty} ({p.distance_km:g} km)" for p in plan.picks)
    if not plan.picks:
        plan.reason = f"no warehouse holds {sku}"
    else:
        plan.reason = f"no single warehouse holds {qty} of {sku}; split: {taken}"
        if remaining:
            plan.reason += f"; {remaining} short"
    return plan


def _why(chosen: RankedSource, ranked: list[RankedSource], qty: int) -> str:
    if chosen.van:
        return f"{chosen.code}: the engineer's own van holds {chosen.available}"
    text = (
        f"{chosen.code}: nearest able to fill {qty} ({chosen.distance_km:g} km,"
        f" lead {chosen.lead_time_hours} h)"
    )
    skipped = [r for r in ranked if r is not chosen and r.cost <= chosen.cost]
    if skipped:
        closer = skipped[0]
        text += f"; {closer.code} is closer but holds only {closer.available}"
    others = [r for r in ranked if r.cost > chosen.cost][:2]
    if others:
        text += "; next: " + ", ".join(f"{r.code} ({r.distance_km:g} km)" for r in others)
    return text


def crossed_below(available: int, safety_level: int) -> bool:
    """True when a balance of `available` is below its safety level (0: none set)."""
    return safety_level > 0 and available < safety_level


def replenish_qty(
    *,
    available: int,
    safety_level: int,
    reorder_point: int,
    daily_demand: float,
    lead_time_days: float,
) -> int:
    """How many to order so the warehouse is back at its reorder point (at least its safety
    level) once the demand of the lead time is served: target - available, at least 1."""
    target = max(reorder_point, safety_level) + math.ceil(max(daily_demand, 0.0) * lead_time_days)
    return max(1, target - available)


PART_QTY_MAX = 999


def parts_lines(variables: dict[str, Any], sources: list[str]) -> list[tuple[str, int]]:
    """The (sku, qty) lines of the `node.field` parts fields named in `sources`, summed per
    SKU in SKU order; malformed lines are skipped (the step's form refuses them)."""
    totals: dict[str, int] = {}
    for source in dict.fromkeys(sources):
        node_id, _, name = source.partition(".")
        output = variables.get(node_id)
        lines = output.get(name) if isinstance(output, dict) else None
        if not isinstance(lines, list):
            continue
        for line in lines:
            sku = line.get("sku") if isinstance(line, dict) else None
            qty = line.get("qty") if isinstance(line, dict) else None
            if not isinstance(sku, str) or isinstance(qty, bool) or not isinstance(qty, int):
                continue
            if 1 <= qty <= PART_QTY_MAX:
                totals[sku] = totals.get(sku, 0) + qty
    return sorted(totals.items())
