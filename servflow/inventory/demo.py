"""The seeds' spare-parts cases for the demo (servflow/demo/data/inventory_cases.json),
loaded through this domain's use cases; called by servflow.demo.loader after the
warehouses and the catalogue. Idempotent: rows are found by code or SKU, stock is counted
only into empty balances, and history movements have fixed keys."""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from servflow.inventory import repo, service
from servflow.platform.base import utcnow

CASES = Path(__file__).resolve().parents[1] / "demo" / "data" / "inventory_cases.json"


def load_cases(session: Session, *, now: datetime | None = None) -> dict[str, int]:
    """Adds the cases' parts, warehouses, stock, safety levels and the drain hoses' two
    seasonal years of consumption; returns how many of each were added."""
    now = now or utcnow()
    cases: dict[str, Any] = json.loads(CASES.read_text(encoding="utf-8"))
    added = {"part": 0, "warehouse": 0, "stock": 0, "history": 0}
    for row in cases["parts"]:
        if repo.get_part_by_sku(session, sku=row["sku"]) is None:
            service.save_part(
                session,
                scope_path=None,
                **{**row, "cost": Decimal(row["cost"]), "price": Decimal(row["price"])},
            )
            added["part"] += 1
    for code in cases["central"]:  # the demo's 中心仓: replenished by purchase
        service.set_warehouse_kind(session, code=code, kind="central")
    for row in cases["warehouses"]:
        if repo.get_warehouse_by_code(session, code=row["code"]) is None:
            service.save_warehouse(session, scope_path=None, **row)
            added["warehouse"] += 1
    for row in cases["stock"]:
        store = repo.get_warehouse_by_code(session, code=row["warehouse"])
        part = repo.get_part_by_sku(session, sku=row["sku"])
        if store is None or part is None:
            continue
        if repo.get_stock_level(session, warehouse_id=store.id, part_id=part.id) is None:
            service.save_stock(
                session,
                scope_path=None,
                warehouse=row["warehouse"],
                sku=row["sku"],
                on_hand=row["on_hand"],
                now=now,
                actor="demo",
            )
            added["stock"] += 1
            if row.get("safety_level"):
                service.set_safety(
                    session,
                    scope_path=None,
                    warehouse=row["warehouse"],
                    sku=row["sku"],
                    safety_level=row["safety_level"],
                    reorder_point=row.get("reorder_point", 0),
                    now=now,
                )
    added["history"] = _history(session, cases["history"], now)
    return added


def seasonal_weeks(*, weeks: int, base: float, amplitude: float, peak_week: int) -> list[int]:
    """A demand of `base` per week rising by `amplitude` around week `peak_week` of each
    year (hoses before the rainy season), deterministic."""
    return [
        max(0, round(base + amplitude * math.cos(2 * math.pi * (w - peak_week) / 52)))
        for w in range(weeks)
    ]


def _history(session: Session, spec: dict[str, Any], now: datetime) -> int:
    """Two years of weekly consumption as receipt + consumption pairs (net zero, so the
    balances stay as loaded), in one statement; skipped when already there."""
    store = repo.get_warehouse_by_code(session, code=spec["warehouse"])
    part = repo.get_part_by_sku(session, sku=spec["sku"])
    if store is None or part is None:
        return 0
    weeks = spec["weeks"]
    demand = seasonal_weeks(
        weeks=weeks, base=spec["base"], amplitude=spec["amplitude"], peak_week=spec["peak_week"]
    )
    first = next((w for w, qty in enumerate(demand) if qty), None)
    first_key = f"demo-history:{store.code}:{part.sku}:{first}:in"
    if first is None or repo.movement_by_key(session, key=first_key) is not None:
        return 0
    start = now - timedelta(weeks=weeks)
    rows = []
    for week, qty in enumerate(demand):
        if not qty:
            continue
        at = start + timedelta(weeks=week, days=1)
        for kind, sign in (("receipt", 1), ("consumption", -1)):
            suffix = "in" if sign > 0 else "out"
            rows.append(
                {
                    "key": f"demo-history:{store.code}:{part.sku}:{week}:{suffix}",
                    "warehouse_id": store.id,
                    "part_id": part.id,
                    "kind": kind,
                    "qty": qty,
                    "on_hand_delta": sign * qty,
                    "reserved_delta": 0,
                    "reason": "demo history",
                    "ref": "",
                    "actor": "demo",
                    "created_at": at,
                }
            )
    repo.insert_movements(session, rows=rows)
    return len(rows) // 2
