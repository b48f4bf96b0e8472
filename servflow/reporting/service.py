"""Reporting use cases: keep the counters in step with the orders, and answer dashboards.

`order_moved` is called by the work-order writer (servflow.orders.steps) in the same
transaction as each write of an order, so the counters are as current as the orders and a
rolled-back write rolls its counts back too. `dashboard` reads the counters alone, summed
under the caller's scope: no dashboard reads orders or steps.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from servflow.dispatch import service as dispatch
from servflow.org import service as org
from servflow.org.rules import MONEY_ROLES, Principal
from servflow.platform.errors import invalid_field
from servflow.platform.scope import region_code
from servflow.reporting import repo
from servflow.reporting.models import ReportOrder
from servflow.reporting.rules import (
    AT_RISK_WITHIN,
    Cells,
    OrderView,
    StepView,
    cells_from_json,
    cells_of,
    cells_to_json,
    depth_of,
    difference,
    next_deadline,
    nps_score,
    percentile,
    province_of,
    settled_amount,
    settled_revenue,
    spread,
)

OPEN = ("running", "waiting", "dispatched", "in_progress")
SUMMED = ("orders", "revenue", "demand", "sla", "ftf", "nps")


def order_moved(
    session: Session,
    *,
    order: OrderView,
    steps: Iterable[StepView],
    now: datetime,
    settled: Mapping[str, Any] | None = None,
) -> None:
    """Brings the counters in step with `order` as it stands now (its steps, and the output
    of a settlement step just run, if any). Idempotent for the same order state."""
    fact = repo.get_fact(session, order_id=order.order_id)
    if fact is None:
        if order.sandbox:
            return
        fact = ReportOrder(order_id=order.order_id, revenue={}, cells=[], updated_at=now)
        session.add(fact)
    if order.org_path and order.org_path != fact.org_path:
        fact.city = _city_of(session, order.org_path)
        fact.province = province_of(fact.city) if fact.city else ""
        fact.org_path = order.org_path
    money = settled_amount(settled)
    if money is not None:
        currency, amount = money
        revenue = dict(fact.revenue)
        revenue[currency] = str(Decimal(revenue.get(currency, "0")) + amount)
        fact.revenue = revenue
    steps = list(steps)
    after = cells_of(order, steps, revenue=fact.revenue, province=fact.province, city=fact.city)
    repo.add_cells(session, spread(difference(cells_from_json(fact.cells), after)))
    fact.cells = cells_to_json(after)
    fact.sla_next = next_deadline(steps, closed=order.completed_at is not None or order.sandbox)
    fact.updated_at = now


def _city_of(session: Session, path: str) -> str:
    """The city of the unit at `path` (an outlet's own, else the nearest unit's above it)."""
    for code in reversed(path.strip("/").split("/")):
        unit = org.get_unit_by_code(session, code=code)
        if unit is not None and unit.city:
            return unit.city
        if unit is not None and unit.kind == "branch":
            return unit.name
    return ""


def rebuild(
    session: Session,
    orders: Iterable[tuple[OrderView, list[StepView]]],
    *,
    now: datetime,
    facts: bool = True,
    progress: Callable[[int], None] | None = None,
    every: int = 10000,
) -> int:
    """Recounts the reporting tables from scratch (a backfill, or the bench): empties them,
    then counts every order `orders` yields with its steps, by the same rules the order
    writer uses; run again, it gives the same counters. Settled revenue is read from the
    settlement steps' recorded output. With `facts`, each order's `report_order` row is
    written too, so the order writer carries on from there; `progress(n)` is called every
    `every` orders. The caller commits (one transaction: a failure leaves the old counts).

    Returns:
        How many orders were counted (test runs are not).
    """
    repo.clear(session)
    total: Cells = {}
    count = 0
    cities: dict[str, str] = {}
    rows: list[dict[str, Any]] = []
    for order, steps in orders:
        if order.sandbox:
            continue
        if order.org_path not in cities:
            cities[order.org_path] = _city_of(session, order.org_path) if order.org_path else ""
        city = cities[order.org_path]
        province = province_of(city) if city else ""
        revenue = settled_revenue(steps)
        cells = cells_of(order, steps, revenue=revenue, province=province, city=city)
        for key, (n, amount) in cells.items():
            n0, a0 = total.get(key, (0, _ZERO))
            total[key] = (n0 + n, a0 + amount)
        if facts:
            closed = order.completed_at is not None
            rows.append(
                {
                    "order_id": order.order_id,
                    "org_path": order.org_path,
                    "city": city,
                    "province": province,
                    "revenue": revenue,
                    "cells": cells_to_json(cells),
                    "sla_next": next_deadline(steps, closed=closed),
                    "updated_at": now,
                }
            )
            if len(rows) >= 2000:
                repo.add_facts(session, rows)
                rows.clear()
        count += 1
        if progress is not None and count % every == 0:
            progress(count)
    repo.add_facts(session, rows)
    items = sorted(spread(total).items())
    for start in range(0, len(items), 5000):
        repo.add_cells(session, dict(items[start : start + 5000]))
    return count


_ZERO = Decimal(0)


# ---- dashboards -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    path: str
    name: str
    kind: str
    code: str


def scope_of(session: Session, user: Principal, *, unit: str | None) -> Scope:
    """The unit a dashboard is about: the caller's own, or a unit within it (drill-down).

    Raises:
        Invalid: `unit` is unknown or outside the caller's scope (the same answer for both).
    """
    if unit:
        found = org.get_unit_by_code(session, code=unit)
        if found is None or not user.sees(found.path):
            raise invalid_field("unit", f"no unit '{unit}' within your scope")
        return Scope(found.path, found.name, found.kind, found.code)
    own = org.get_unit(session, unit_id=user.org_unit_id) if user.org_unit_id else None
    if own is None or not user.scope_path:
        raise invalid_field("unit", "you have no org scope")
    return Scope(own.path, own.name, own.kind, own.code)


def dashboard(
    session: Session,
    user: Principal,
    *,
    unit: str | None,
    start: date,
    end: date,
    pipeline: str | None,
    now: datetime,
) -> dict[str, Any]:
    """Every figure of the dashboard of `unit` (default: the caller's own unit) over the
    days [start, end], from the counters alone; money only for the roles that may see it."""
    scope = scope_of(session, user, unit=unit)
    money = user.has(*MONEY_ROLES)
    depth = depth_of(scope.path)
    # Every unit below the scope, once: its children (drill-down bars) and, for HQ, the
    # regions of the bottleneck heat map.
    units = [u for u in org.list_units(session, under_path=scope.path) if u.path != scope.path]
    children = [u for u in units if depth_of(u.path) == depth + 1]
    # Counter rows read: the scope's own cells (days x keys) and its children's (children x
    # days x keys), looked up by their exact org_path: bounded by units and days, not orders.
    by_day = repo.own_by_day(
        session, path=scope.path, start=start, end=end, metrics=("orders", "revenue")
    )
    own = repo.own_sums(session, path=scope.path, start=start, end=end, metrics=_OTHERS)
    own += [(metric, key, n, amount) for _, metric, key, n, amount in by_day]
    child_rows = repo.child_sums(
        session,
        paths=[u.path for u in children],
        start=start,
        end=end,
        metrics=("orders", "revenue"),
    )
    late, at_risk = repo.open_deadlines(
        session, scope_path=scope.path, now=now, risk_until=now + AT_RISK_WITHIN
    )
    figures = _figures(own, money)
    figures["sla"].update({"open_breached": late, "at_risk": at_risk})
    regions = [u.path for u in units if u.kind == "region"]
    return {
        "scope": {"path": scope.path, "name": scope.name, "kind": scope.kind, "code": scope.code},
        "period": {"start": start.isoformat(), "end": end.isoformat()},
        "money_visible": money,
        **figures,
        "by_unit": _children(child_rows, children, money),
        "series": _series(by_day, money),
        "bottleneck": _bottleneck(session, scope.path, regions, start, end, pipeline),
    }


# The summed metrics not read day by day (orders and revenue come from the daily series).
_OTHERS = tuple(m for m in SUMMED if m not in ("orders", "revenue"))


def _figures(rows: list[tuple[Any, ...]], money: bool) -> dict[str, Any]:
    counts: dict[tuple[str, str], int] = defaultdict(int)
    revenue: dict[str, Decimal] = defaultdict(Decimal)
    demand: dict[tuple[str, str], int] = defaultdict(int)
    for metric, key, n, amount in rows:
        if metric == "revenue":
            revenue[key] += Decimal(amount or 0)
        elif metric == "demand":
            province, _, city = key.partition("|")
            demand[(province, city)] += int(n)
        else:
            counts[(metric, key)] += int(n)
    # A status every order has moved on from keeps a counter of 0: not a status to show.
    statuses = {k: n for (m, k), n in counts.items() if m == "orders" and n}
    ftf_yes, ftf_no = counts[("ftf", "yes")], counts[("ftf", "no")]
    nps = {k: counts[("nps", k)] for k in ("promoter", "passive", "detractor")}
    return {
        "orders": {
            "total": sum(statuses.values()),
            "open": sum(n for s, n in statuses.items() if s not in _CLOSED),
            "completed": statuses.get("completed", 0),
            "cancelled": statuses.get("cancelled", 0),
            "failed": statuses.get("failed", 0),
            "by_status": dict(sorted(statuses.items())),
        },
        "revenue": _money(revenue) if money else None,
        "demand": [{"province": p, "city": c, "orders": n} for (p, c), n in sorted(demand.items())],
        "sla": {"met": counts[("sla", "met")], "breached": counts[("sla", "breached")]},
        "first_time_fix": {
            "fixed_first_time": ftf_yes,
            "revisited": ftf_no,
            "rate": round(ftf_yes / (ftf_yes + ftf_no), 4) if ftf_yes + ftf_no else None,
        },
        "nps": {**nps, "score": nps_score(nps["promoter"], nps["passive"], nps["detractor"])},
    }


_CLOSED = ("completed", "cancelled", "failed")


def _money(amounts: Mapping[str, Decimal]) -> list[dict[str, str]]:
    return [{"currency": c, "amount": f"{amounts[c]:.2f}"} for c in sorted(amounts)]


def _children(
    rows: list[tuple[Any, ...]], children: list[Any], money: bool
) -> list[dict[str, Any]]:
    """The figures of each unit directly below the scope (HQ: regions; a region: its
    branches; a branch: its outlets), for drill-down."""
    orders: dict[str, int] = defaultdict(int)
    open_: dict[str, int] = defaultdict(int)
    done: dict[str, int] = defaultdict(int)
    revenue: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for child, metric, key, n, amount in rows:
        if metric == "orders":
            orders[child] += int(n)
            if key not in _CLOSED:
                open_[child] += int(n)
            if key == "completed":
                done[child] += int(n)
        elif metric == "revenue":
            revenue[child][key] += Decimal(amount or 0)
    units = {u.path: u for u in children}
    out = []
    for path in sorted(set(orders) | set(revenue)):
        unit = units.get(path)
        out.append(
            {
                "path": path,
                "code": unit.code if unit else path.rsplit("/", 1)[-1],
                "name": unit.name if unit else path.rsplit("/", 1)[-1],
                "kind": unit.kind if unit else "",
                "region": region_code(path),
                "orders": orders[path],
                "open": open_[path],
                "completed": done[path],
                "revenue": _money(revenue[path]) if money else None,
            }
        )
    return out


def _series(rows: list[tuple[Any, ...]], money: bool) -> list[dict[str, Any]]:
    orders: dict[str, int] = defaultdict(int)
    revenue: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for day, metric, key, n, amount in rows:
        stamp = day.isoformat() if isinstance(day, date) else str(day)
        if metric == "orders":
            orders[stamp] += int(n)
        else:
            revenue[stamp][key] += Decimal(amount or 0)
    return [
        {
            "day": stamp,
            "orders": orders[stamp],
            "revenue": _money(revenue[stamp]) if money else None,
        }
        for stamp in sorted(set(orders) | set(revenue))
    ]


def _bottleneck(
    session: Session,
    scope_path: str,
    regions: list[str],
    start: date,
    end: date,
    pipeline: str | None,
) -> dict[str, Any]:
    """Time per node of one pipeline version (the most used one unless `pipeline` names
    one as "key|version"), p50 and p90 by region and overall."""
    first = start.replace(day=1)
    keys = repo.node_time_keys(session, path=scope_path, start=first, end=end)
    volumes: dict[str, int] = defaultdict(int)
    for key, n in keys:
        definition_key, version, _ = key.split("|", 2)
        volumes[f"{definition_key}|{version}"] += int(n)
    choices = sorted(volumes, key=lambda k: (-volumes[k], k))
    chosen = pipeline if pipeline in volumes else (choices[0] if choices else None)
    if chosen is None:
        return {"pipeline": None, "pipelines": [], "nodes": [], "regions": [], "cells": []}
    # HQ: each region's own cells; a region or below: its own cells are its region's.
    paths = [scope_path, *regions] if depth_of(scope_path) == 1 else [scope_path]
    rows = repo.node_times(session, paths=paths, start=first, end=end, key_prefix=chosen + "|")
    hist: dict[tuple[str, str], dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for path, key, bin_, n in rows:
        node = key.split("|", 2)[2]
        if path == scope_path:
            hist[("", node)][int(bin_)] += int(n)
        if path != scope_path or depth_of(scope_path) > 1:
            hist[(region_code(path), node)][int(bin_)] += int(n)
    nodes = sorted({node for _, node in hist})
    codes = sorted({region for region, _ in hist if region})
    cells = [
        {
            "region": region,
            "node": node,
            "count": sum(h.values()),
            "p50_s": percentile(h, 0.5),
            "p90_s": percentile(h, 0.9),
        }
        for (region, node), h in sorted(hist.items())
    ]
    return {
        "pipeline": chosen,
        "pipelines": choices,
        "nodes": nodes,
        "regions": codes,
        "cells": cells,
    }


# ---- the dispatch board -----------------------------------------------------------------------


def board(session: Session, user: Principal) -> dict[str, Any]:
    """Where the caller's engineers and outlets are, with each engineer's load: what the
    dispatch board plots (orders come from the order search, reassigning from its route)."""
    engineers, _ = dispatch.page_engineers(
        session, scope_path=user.scope_path or "", limit=500, offset=0
    )
    outlets = org.list_units(session, kind="outlet", under_path=user.scope_path or "")
    return {
        "engineers": [
            {
                "code": e.code,
                "name": e.name,
                "username": e.user.username if e.user else "",
                "outlet": e.outlet.code,
                "skills": list(e.skills or []),
                "lat": e.lat,
                "lng": e.lng,
                "state": e.state,
                "current_load": e.current_load,
                "max_load": e.max_load,
            }
            for e in engineers
        ],
        "outlets": [
            {"code": u.code, "name": u.name, "path": u.path, "lat": u.lat, "lng": u.lng}
            for u in outlets
        ],
    }
