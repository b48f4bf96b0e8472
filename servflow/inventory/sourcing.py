"""Sourcing: where each line of parts comes from, and why. Reads only."""

from __future__ import annotations

from typing import NamedTuple

from sqlalchemy.orm import Session

from servflow.inventory import repo, rules
from servflow.inventory.catalogue import known_part
from servflow.inventory.models import Warehouse
from servflow.inventory.warehouses import visible_warehouse
from servflow.platform.errors import invalid_field


class Location(NamedTuple):
    lat: float | None
    lng: float | None


def _destination(
    session: Session,
    *,
    destination: str | None,
    lat: float | None,
    lng: float | None,
    scope_path: str | None,
) -> tuple[Warehouse | None, Location]:
    if destination:
        store = visible_warehouse(session, destination, scope_path, "destination")
        return store, Location(
            lat if lat is not None else store.lat, lng if lng is not None else store.lng
        )
    if lat is None or lng is None:
        raise invalid_field("destination", "give a destination warehouse or lat and lng")
    return None, Location(lat, lng)


def plan_lines(
    session: Session,
    *,
    lines: list[tuple[str, int]],
    lat: float | None,
    lng: float | None,
    engineer: str = "",
) -> list[rules.Plan]:
    """For each (sku, qty): where it comes from and why (`rules.plan_line` over every
    warehouse holding the part: the whole catalogue and every region, since a part is
    worth a transfer across regions when none is nearer)."""
    plans = []
    for index, (sku, qty) in enumerate(lines):
        part = known_part(session, sku, field=f"lines[{index}].sku")
        candidates = [
            rules.Candidate(
                h.code, h.kind, h.lat, h.lng, h.available, h.lead_time_hours, h.engineer_code
            )
            for h in repo.holders(session, part_id=part.id)
        ]
        plans.append(rules.plan_line(sku, qty, candidates, lat=lat, lng=lng, engineer=engineer))
    return plans


def source(
    session: Session,
    *,
    scope_path: str | None,
    lines: list[tuple[str, int]],
    destination: str | None = None,
    lat: float | None = None,
    lng: float | None = None,
    engineer: str = "",
) -> list[rules.Plan]:
    """Sourcing for a caller: the job is at `destination` (a warehouse within the caller's
    scope, e.g. the outlet's store) or at `lat`/`lng`. Reads only: nothing is reserved."""
    _, at = _destination(session, destination=destination, lat=lat, lng=lng, scope_path=scope_path)
    return plan_lines(session, lines=lines, lat=at.lat, lng=at.lng, engineer=engineer)
