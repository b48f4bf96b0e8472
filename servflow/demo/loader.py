"""Realistic demo data: org tree of 7 regions, outlets, engineers, stock, prices, users.

`load_demo` is idempotent: every row is found by its natural key (code, username, SKU,
phone, ...) and only missing rows are added, so running it twice changes nothing.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from servflow.billing.models import PriceTable
from servflow.customers.models import Customer
from servflow.customers.service import link_or_create_customer
from servflow.dispatch.models import Engineer
from servflow.inventory.models import Part, StockLevel, Warehouse
from servflow.org.models import ApiKey, AppUser, OrgUnit
from servflow.platform.security import hash_api_key, hash_password

DATA_DIR = Path(__file__).resolve().parent / "data"
DEMO_PASSWORD = "demo1234"  # noqa: S105 - the published demo password
# A fixed, published demo key so docs and scripts can use it; never load demo data into a
# production database.
DEMO_API_KEY = "sfk_demo_api_client_0000000000000000"
PART_GRADES = (("", "原厂", Decimal("1")), ("-G", "通用", Decimal("0.7")))

Progress = Callable[[str, int, int], None]


@dataclass
class DemoSummary:
    """What `load_demo` added (zero everywhere on a second run) and how to log in."""

    added: dict[str, int] = field(default_factory=dict)
    password: str = DEMO_PASSWORD
    api_key: str = DEMO_API_KEY
    usernames: list[str] = field(default_factory=list)


def _read_csv(name: str) -> list[dict[str, str]]:
    with (DATA_DIR / name).open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _noop(_stage: str, _done: int, _total: int) -> None:
    return None


def load_demo(session: Session, *, progress: Progress | None = None) -> DemoSummary:
    """Adds the demo data that is missing; the caller commits.

    Args:
        session: an open session; nothing is committed here.
        progress: called as `progress(stage, done, total)` after each stage's rows.
    """
    report = progress or _noop
    summary = DemoSummary()
    units = _load_org(session, summary, report)
    engineers = _load_engineers(session, units, summary, report)
    _load_warehouses_and_parts(session, units, summary, report)
    _load_price_tables(session, units, summary, report)
    _load_users(session, units, engineers, summary, report)
    _load_customers(session, summary, report)
    session.flush()
    return summary


def _load_org(session: Session, summary: DemoSummary, report: Progress) -> dict[str, OrgUnit]:
    data = json.loads((DATA_DIR / "org.json").read_text(encoding="utf-8"))
    units = {u.code: u for u in session.scalars(select(OrgUnit))}
    added = 0

    def ensure(kind: str, code: str, name: str, parent: OrgUnit | None, **extra: Any) -> OrgUnit:
        nonlocal added
        if code in units:
            return units[code]
        unit = OrgUnit(
            kind=kind,
            code=code,
            name=name,
            parent=parent,
            path=f"{parent.path if parent else ''}/{code}",
            **extra,
        )
        session.add(unit)
        units[code] = unit
        added += 1
        return unit

    hq_data = data["hq"]
    hq = ensure("hq", hq_data["code"], hq_data["name"], None, city=hq_data["city"])
    regions = data["regions"]
    for i, region_data in enumerate(regions, 1):
        region = ensure("region", region_data["code"], region_data["name"], hq)
        for city in region_data["cities"]:
            branch = ensure(
                "branch",
                f"{city['code']}-branch",
                f"{city['name']}分公司",
                region,
                city=city["name"],
                lat=city["lat"],
                lng=city["lng"],
            )
            for outlet in city["outlets"]:
                ensure(
                    "outlet",
                    outlet["code"],
                    outlet["name"],
                    branch,
                    city=city["name"],
                    lat=outlet["lat"],
                    lng=outlet["lng"],
                )
        session.flush()
        report("org units", i, len(regions))
    summary.added["org_unit"] = added
    return units


def _load_engineers(
    session: Session, units: dict[str, OrgUnit], summary: DemoSummary, report: Progress
) -> dict[str, Engineer]:
    rows = _read_csv("engineers.csv")
    engineers = {e.code: e for e in session.scalars(select(Engineer))}
    added = 0
    for row in rows:
        if row["code"] in engineers:
            continue
        engineer = Engineer(
            code=row["code"],
            name=row["name"],
            phone=row["phone"],
            outlet=units[row["outlet"]],
            skills=[s for s in row["skills"].split(";") if s],
            lat=float(row["lat"]),
            lng=float(row["lng"]),
            state=row["state"],
            current_load=0,
            max_load=int(row["max_load"]),
        )
        session.add(engineer)
        engineers[row["code"]] = engineer
        added += 1
    session.flush()
    report("engineers", len(rows), len(rows))
    summary.added["engineer"] = added
    return engineers


def _load_warehouses_and_parts(
    session: Session, units: dict[str, OrgUnit], summary: DemoSummary, report: Progress
) -> None:
    warehouses = {w.code: w for w in session.scalars(select(Warehouse))}
    added = 0
    for row in _read_csv("warehouses.csv"):
        if row["code"] in warehouses:
            continue
        warehouse = Warehouse(
            code=row["code"],
            name=row["name"],
            region_id=units[row["region"]].id,
            city=row["city"],
            lat=float(row["lat"]),
            lng=float(row["lng"]),
        )
        session.add(warehouse)
        warehouses[row["code"]] = warehouse
        added += 1
    session.flush()
    summary.added["warehouse"] = added

    catalogue = json.loads((DATA_DIR / "parts_catalogue.json").read_text(encoding="utf-8"))
    parts = {p.sku: p for p in session.scalars(select(Part))}
    added = 0
    for item in catalogue["items"]:
        for index, variant in enumerate(item["variants"]):
            base = Decimal(item["base"]) + Decimal(item["step"]) * index
            for suffix, label, factor in PART_GRADES:
                sku = f"{item['prefix']}-{variant}{suffix}"
                if sku in parts:
                    continue
                part = Part(
                    sku=sku,
                    name=f"{item['name']} {variant} ({label})",
                    category=item["category"],
                    price=(base * factor).quantize(Decimal("0.01")),
                    currency="CNY",
                )
                session.add(part)
                parts[sku] = part
                added += 1
    session.flush()
    summary.added["part"] = added
    report("parts", len(parts), len(parts))

    existing = {(s.warehouse_id, s.part_id) for s in session.scalars(select(StockLevel))}
    ordered_parts = sorted(parts.values(), key=lambda p: p.sku)
    ordered_warehouses = sorted(warehouses.values(), key=lambda w: w.code)
    added = 0
    for w_index, warehouse in enumerate(ordered_warehouses):
        for p_index, part in enumerate(ordered_parts):
            # Central warehouses stock everything, the others about two parts in three.
            central = "中心仓" in warehouse.name
            if not central and (p_index + w_index) % 3 == 0:
                continue
            if (warehouse.id, part.id) in existing:
                continue
            on_hand = (p_index * 7 + w_index * 13) % 40 + (20 if central else 2)
            session.add(
                StockLevel(
                    warehouse_id=warehouse.id,
                    part_id=part.id,
                    on_hand=on_hand,
                    reserved=(p_index + w_index) % 3 if on_hand > 3 else 0,
                )
            )
            added += 1
        report("stock levels", w_index + 1, len(ordered_warehouses))
    session.flush()
    summary.added["stock_level"] = added


def _load_price_tables(
    session: Session, units: dict[str, OrgUnit], summary: DemoSummary, report: Progress
) -> None:
    existing = {
        (t.region_id, t.currency, t.valid_from) for t in session.scalars(select(PriceTable))
    }
    rows = _read_csv("price_tables.csv")
    added = 0
    for row in rows:
        region = units[row["region"]]
        valid_from = datetime.fromisoformat(row["valid_from"])
        if (region.id, row["currency"], valid_from) in existing:
            continue
        session.add(
            PriceTable(
                region_id=region.id,
                currency=row["currency"],
                base_visit_fee=Decimal(row["base_visit_fee"]),
                per_km_surcharge=Decimal(row["per_km_surcharge"]),
                free_km=Decimal(row["free_km"]),
                valid_from=valid_from,
            )
        )
        added += 1
    session.flush()
    report("price tables", len(rows), len(rows))
    summary.added["price_table"] = added


def demo_users(
    units: dict[str, OrgUnit], engineers: dict[str, Engineer]
) -> list[tuple[str, str, list[str], str]]:
    """(username, display name, roles, org unit code) of every demo user."""
    users: list[tuple[str, str, list[str], str]] = [
        ("hq_admin", "总部管理员", ["hq_admin"], "hq"),
        ("designer", "流程设计师", ["designer"], "hq"),
        ("finance", "财务结算", ["finance"], "hq"),
        ("api_client", "CRM 对接", ["api_client"], "hq"),
    ]
    regions = sorted((u for u in units.values() if u.kind == "region"), key=lambda u: u.path)
    for region in regions:
        users.append(
            (f"dispatcher_{region.code}", f"{region.name}调度员", ["dispatcher"], region.code)
        )
        users.append(
            (f"region_mgr_{region.code}", f"{region.name}区域经理", ["region_manager"], region.code)
        )
    outlets = sorted((u for u in units.values() if u.kind == "outlet"), key=lambda u: u.path)
    for outlet in outlets:
        users.append(
            (
                f"outlet_mgr_{outlet.code.replace('-', '_')}",
                f"{outlet.name}店长",
                ["outlet_manager"],
                outlet.code,
            )
        )
    for code in sorted(engineers):
        engineer = engineers[code]
        users.append((f"engineer_{code}", engineer.name, ["engineer"], engineer.outlet.code))
    return users


def _load_users(
    session: Session,
    units: dict[str, OrgUnit],
    engineers: dict[str, Engineer],
    summary: DemoSummary,
    report: Progress,
) -> None:
    existing = {u.username: u for u in session.scalars(select(AppUser))}
    wanted = demo_users(units, engineers)
    # One bcrypt hash for all demo users: they share the published demo password, and
    # hashing it once keeps loading fast.
    password_hash: str | None = None
    added = 0
    for i, (username, display_name, roles, unit_code) in enumerate(wanted, 1):
        user = existing.get(username)
        if user is None:
            password_hash = password_hash or hash_password(DEMO_PASSWORD)
            user = AppUser(
                username=username,
                password_hash=password_hash,
                display_name=display_name,
                roles=roles,
                org_unit=units[unit_code],
            )
            session.add(user)
            existing[username] = user
            added += 1
        if username.startswith("engineer_"):
            engineer = engineers[username.removeprefix("engineer_")]
            if engineer.user is None:
                engineer.user = user
        if i % 20 == 0 or i == len(wanted):
            report("users", i, len(wanted))
    session.flush()
    summary.added["app_user"] = added
    summary.usernames = [u[0] for u in wanted]

    key_hash = hash_api_key(DEMO_API_KEY)
    if session.scalar(select(ApiKey).where(ApiKey.key_hash == key_hash)) is None:
        session.add(
            ApiKey(
                user=existing["api_client"],
                name="demo",
                prefix=DEMO_API_KEY[:12],
                key_hash=key_hash,
            )
        )
        summary.added["api_key"] = 1
    else:
        summary.added["api_key"] = 0
    session.flush()


def _load_customers(session: Session, summary: DemoSummary, report: Progress) -> None:
    rows = _read_csv("customers.csv")
    before = len(session.scalars(select(Customer.id)).all())
    for row in rows:
        link_or_create_customer(
            session,
            name=row["name"],
            phone=row["phone"],
            address=row["address"],
            city=row["city"],
            lat=float(row["lat"]),
            lng=float(row["lng"]),
        )
    summary.added["customer"] = len(session.scalars(select(Customer.id)).all()) - before
    report("customers", len(rows), len(rows))


def login_lines(summary: DemoSummary) -> list[str]:
    """Human-readable demo logins, for `make run` and the CLI to print."""
    examples = [
        "hq_admin",
        "designer",
        "dispatcher_huabei",
        "region_mgr_huabei",
        "region_mgr_huanan",
        "outlet_mgr_bj_001",
        "engineer_bj_01",
        "finance",
        "api_client",
    ]
    return [
        f"demo logins (password {summary.password}): {', '.join(examples)}",
        f"  ... {len(summary.usernames)} users in all: dispatcher_/region_mgr_<region>, "
        "outlet_mgr_<outlet>, engineer_<code>",
        f"demo API key (X-API-Key, user api_client): {summary.api_key}",
    ]


def main() -> None:
    """`python -m servflow.demo.loader`: migrate SERVFLOW_DATABASE_URL (or var/), load the demo."""
    from servflow.platform.db import make_engine, make_session_factory
    from servflow.platform.migrate import upgrade

    upgrade()
    engine = make_engine()
    try:
        with make_session_factory(engine)() as session:
            summary = load_demo(
                session, progress=lambda stage, done, total: print(f"  {stage}: {done}/{total}")
            )
            session.commit()
    finally:
        engine.dispose()
    added = ", ".join(f"{name} +{count}" for name, count in summary.added.items())
    print(f"demo data loaded ({added})")
    for line in login_lines(summary):
        print(line)


if __name__ == "__main__":
    main()
