"""Realistic demo data: org tree of 7 regions, outlets, engineers, stock, prices, users.

`load_demo` is idempotent: every row is found by its natural key (code, username, SKU,
phone, ...) and only missing rows are added, so running it twice changes nothing. It is a
client of the domains' use cases (org, dispatch, inventory, billing, customers), which stay
the one writer of their tables; it loads with HQ's scope (`scope_path=None`).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy.orm import Session

from servflow.billing import demo as money_demo
from servflow.billing import service as billing
from servflow.customers.service import link_or_create_customer
from servflow.dispatch import demo as dispatch_demo
from servflow.dispatch import service as dispatch
from servflow.integrations import demo as channels_demo
from servflow.inventory import demo as inventory_demo
from servflow.inventory import service as inventory
from servflow.inventory.service import NewPart, OpeningStock
from servflow.org import service as org
from servflow.platform.security import hash_password
from servflow.sla.demo import load_sla_demo

if TYPE_CHECKING:
    from servflow.org.models import AppUser, OrgUnit

DATA_DIR = Path(__file__).resolve().parent / "data"
DEMO_PASSWORD = "demo1234"  # noqa: S105 - the published demo password
# A fixed, published demo key so docs and scripts can use it; never load demo data into a
# production database.
DEMO_API_KEY = "sfk_demo_api_client_0000000000000000"
PART_GRADES = (("", "原厂", Decimal("1")), ("-G", "通用", Decimal("0.7")))

ADDED_ORDER = (
    "org_unit",
    "engineer",
    "warehouse",
    "part",
    "stock_level",
    "price_table",
    "app_user",
    "api_key",
    "customer",
)

Progress = Callable[[str, int, int], None]
Row = TypeVar("Row")
# A page of a master-data kind, as the domains' `page_*` use cases answer it.
Pager = Callable[..., tuple[list[Row], int]]


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


def _every(session: Session, page: Pager[Row]) -> list[Row]:
    """Every row a `page_*` use case holds for HQ (one count, one read)."""
    _, total = page(session, scope_path=None, limit=0, offset=0)
    return page(session, scope_path=None, limit=total, offset=0)[0] if total else []


def load_demo(session: Session, *, progress: Progress | None = None) -> DemoSummary:
    """Adds the demo data that is missing; the caller commits.

    Args:
        session: an open session; nothing is committed here.
        progress: called as `progress(stage, done, total)` after each stage's rows.
    """
    report = progress or _noop
    # Counts in the order `servflow load-demo` has always printed them, not the load order.
    summary = DemoSummary(added=dict.fromkeys(ADDED_ORDER, 0))
    units = _load_org(session, summary, report)
    engineer_rows = _read_csv("engineers.csv")
    # Users come before engineers: an engineer is saved with the login it is linked to.
    users = _load_users(session, units, engineer_rows, summary, report)
    _load_api_key(session, users["api_client"], summary)
    _load_engineers(session, engineer_rows, summary, report)
    _load_warehouses_and_parts(session, summary, report)
    summary.added.update(
        {f"inventory_{k}": v for k, v in inventory_demo.load_cases(session).items()}
    )
    _load_price_tables(session, summary, report)
    summary.added.update(money_demo.load_money_demo(session))
    summary.added.update(load_sla_demo(session))
    summary.added.update(dispatch_demo.load_dispatch_demo(session))
    _load_customers(session, summary, report)
    summary.added.update(channels_demo.load_channels_demo(session))
    session.flush()
    return summary


@dataclass
class _OrgTree:
    """The units found or added so far, by code; adds a unit only when its code is new."""

    session: Session
    units: dict[str, OrgUnit]
    added: int = 0

    def ensure(
        self, kind: str, code: str, name: str, parent: OrgUnit | None, **where: Any
    ) -> OrgUnit:
        if code not in self.units:
            self.units[code] = org.create_unit(
                self.session, kind=kind, code=code, name=name, parent=parent, **where
            )
            self.added += 1
        return self.units[code]

    def ensure_region(self, hq: OrgUnit, region: dict[str, Any]) -> None:
        unit = self.ensure("region", region["code"], region["name"], hq)
        for city in region["cities"]:
            branch = self.ensure(
                "branch",
                f"{city['code']}-branch",
                f"{city['name']}分公司",
                unit,
                city=city["name"],
                lat=city["lat"],
                lng=city["lng"],
            )
            for outlet in city["outlets"]:
                self.ensure(
                    "outlet",
                    outlet["code"],
                    outlet["name"],
                    branch,
                    city=city["name"],
                    lat=outlet["lat"],
                    lng=outlet["lng"],
                )


def _load_org(session: Session, summary: DemoSummary, report: Progress) -> dict[str, OrgUnit]:
    data = json.loads((DATA_DIR / "org.json").read_text(encoding="utf-8"))
    tree = _OrgTree(session, {unit.code: unit for unit in org.list_units(session)})
    hq_data = data["hq"]
    hq = tree.ensure("hq", hq_data["code"], hq_data["name"], None, city=hq_data["city"])
    regions = data["regions"]
    for i, region in enumerate(regions, 1):
        tree.ensure_region(hq, region)
        report("org units", i, len(regions))
    summary.added["org_unit"] = tree.added
    return tree.units


def demo_users(
    units: dict[str, OrgUnit], engineers: Sequence[dict[str, str]]
) -> list[tuple[str, str, list[str], str]]:
    """(username, display name, roles, org unit code) of every demo user.

    Args:
        units: the org units by code.
        engineers: the rows of engineers.csv (code, name, outlet, ...).
    """
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
        users.append((f"care_{region.code}", f"{region.name}客服", ["customer_care"], region.code))
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
    for row in sorted(engineers, key=lambda r: r["code"]):
        users.append((f"engineer_{row['code']}", row["name"], ["engineer"], row["outlet"]))
    return users


def _load_users(
    session: Session,
    units: dict[str, OrgUnit],
    engineers: Sequence[dict[str, str]],
    summary: DemoSummary,
    report: Progress,
) -> dict[str, AppUser]:
    wanted = demo_users(units, engineers)
    # One bcrypt hash for all demo users: they share the published demo password, and
    # hashing it once keeps loading fast.
    password_hash: str | None = None
    users = org.users_by_username(session)
    added = 0
    for i, (username, display_name, roles, unit_code) in enumerate(wanted, 1):
        user = users.get(username)
        if user is None:
            password_hash = password_hash or hash_password(DEMO_PASSWORD)
            user = org.create_user(
                session,
                username=username,
                password_hash=password_hash,
                display_name=display_name,
                roles=roles,
                org_unit=units[unit_code],
            )
            added += 1
        users[username] = user
        if i % 20 == 0 or i == len(wanted):
            report("users", i, len(wanted))
    summary.added["app_user"] = added
    summary.usernames = [u[0] for u in wanted]
    return users


def _load_api_key(session: Session, user: AppUser, summary: DemoSummary) -> None:
    issued = org.api_key_issued(session, user=user, key=DEMO_API_KEY)
    if not issued:
        org.create_api_key(session, user=user, name="demo", key=DEMO_API_KEY)
    summary.added["api_key"] = 0 if issued else 1


def _add_missing(
    rows: Iterable[dict[str, str]],
    *,
    key: Callable[[dict[str, str]], Hashable],
    known: set[Hashable],
    save: Callable[[dict[str, str]], object],
) -> int:
    """Saves the rows whose natural key is not `known` yet (rows loaded before, and maybe
    edited since, are left alone); how many it saved."""
    missing = [row for row in rows if key(row) not in known]
    for row in missing:
        save(row)
    return len(missing)


def _save_engineer(session: Session, row: dict[str, str]) -> None:
    dispatch.save_engineer(
        session,
        scope_path=None,
        code=row["code"],
        name=row["name"],
        outlet=row["outlet"],
        skills=[s for s in row["skills"].split(";") if s],
        phone=row["phone"],
        lat=float(row["lat"]),
        lng=float(row["lng"]),
        state=row["state"],
        max_load=int(row["max_load"]),
        username=f"engineer_{row['code']}",
    )


def _load_engineers(
    session: Session, rows: Sequence[dict[str, str]], summary: DemoSummary, report: Progress
) -> None:
    summary.added["engineer"] = _add_missing(
        rows,
        key=lambda row: row["code"],
        known={engineer.code for engineer in _every(session, dispatch.page_engineers)},
        save=lambda row: _save_engineer(session, row),
    )
    report("engineers", len(rows), len(rows))


def _save_warehouse(session: Session, row: dict[str, str]) -> None:
    inventory.save_warehouse(
        session,
        scope_path=None,
        code=row["code"],
        name=row["name"],
        region=row["region"],
        city=row["city"],
        lat=float(row["lat"]),
        lng=float(row["lng"]),
    )


def _load_warehouses_and_parts(session: Session, summary: DemoSummary, report: Progress) -> None:
    warehouses = sorted(_read_csv("warehouses.csv"), key=lambda row: row["code"])
    summary.added["warehouse"] = _add_missing(
        warehouses,
        key=lambda row: row["code"],
        known={store.code for store in _every(session, inventory.page_warehouses)},
        save=lambda row: _save_warehouse(session, row),
    )

    parts = demo_parts()
    summary.added["part"] = len(inventory.add_parts(session, scope_path=None, parts=parts))
    report("parts", len(parts), len(parts))

    skus = sorted(part.sku for part in parts)
    levels = [
        level
        for w_index, row in enumerate(warehouses)
        for level in opening_stock(row["code"], row["name"], w_index, skus)
    ]
    # One call for all warehouses: its lookups cost more than its inserts.
    summary.added["stock_level"] = inventory.set_opening_stock(
        session, scope_path=None, levels=levels
    )
    report("stock levels", len(warehouses), len(warehouses))


def demo_parts() -> list[NewPart]:
    """The demo catalogue: every variant of every item, in an original and a generic grade."""
    catalogue = json.loads((DATA_DIR / "parts_catalogue.json").read_text(encoding="utf-8"))
    parts: dict[str, NewPart] = {}
    for item in catalogue["items"]:
        for index, variant in enumerate(item["variants"]):
            base = Decimal(item["base"]) + Decimal(item["step"]) * index
            for suffix, label, factor in PART_GRADES:
                sku = f"{item['prefix']}-{variant}{suffix}"
                parts.setdefault(
                    sku,
                    NewPart(
                        sku=sku,
                        name=f"{item['name']} {variant} ({label})",
                        category=item["category"],
                        price=(base * factor).quantize(Decimal("0.01")),
                        currency="CNY",
                    ),
                )
    return list(parts.values())


def opening_stock(code: str, name: str, w_index: int, skus: Sequence[str]) -> list[OpeningStock]:
    """The demo stock of the warehouse `code` (the `w_index`-th by code) in parts `skus`
    (sorted): central warehouses stock everything, the others about two parts in three."""
    central = "中心仓" in name
    levels = []
    for p_index, sku in enumerate(skus):
        if not central and (p_index + w_index) % 3 == 0:
            continue
        on_hand = (p_index * 7 + w_index * 13) % 40 + (20 if central else 2)
        reserved = (p_index + w_index) % 3 if on_hand > 3 else 0
        levels.append(OpeningStock(code, sku, on_hand, reserved))
    return levels


def _price_table_key(row: dict[str, str]) -> tuple[str, str, datetime]:
    return row["region"], row["currency"], datetime.fromisoformat(row["valid_from"])


def _save_price_table(session: Session, row: dict[str, str]) -> None:
    region, currency, valid_from = _price_table_key(row)
    billing.save_price_table(
        session,
        scope_path=None,
        region=region,
        currency=currency,
        base_visit_fee=Decimal(row["base_visit_fee"]),
        per_km_surcharge=Decimal(row["per_km_surcharge"]),
        free_km=Decimal(row["free_km"]),
        valid_from=valid_from,
    )


def _load_price_tables(session: Session, summary: DemoSummary, report: Progress) -> None:
    regions = {unit.id: unit.code for unit in org.list_units(session, kind="region")}
    rows = _read_csv("price_tables.csv")
    summary.added["price_table"] = _add_missing(
        rows,
        key=_price_table_key,
        known={
            (regions.get(table.region_id), table.currency, table.valid_from)
            for table in _every(session, billing.page_price_tables)
        },
        save=lambda row: _save_price_table(session, row),
    )
    report("price tables", len(rows), len(rows))


def _load_customers(session: Session, summary: DemoSummary, report: Progress) -> None:
    rows = _read_csv("customers.csv")
    added = 0
    for row in rows:
        _, created = link_or_create_customer(
            session,
            name=row["name"],
            phone=row["phone"],
            address=row["address"],
            city=row["city"],
            lat=float(row["lat"]),
            lng=float(row["lng"]),
        )
        added += created
    summary.added["customer"] = added
    report("customers", len(rows), len(rows))


def login_lines(summary: DemoSummary) -> list[str]:
    """Human-readable demo logins, for `make run` and the CLI to print."""
    examples = [
        "hq_admin",
        "designer",
        "dispatcher_huabei",
        "region_mgr_huabei",
        "region_mgr_huanan",
        "care_huabei",
        "outlet_mgr_bj_001",
        "engineer_bj_01",
        "finance",
        "api_client",
    ]
    return [
        f"demo logins (password {summary.password}): {', '.join(examples)}",
        f"  ... {len(summary.usernames)} users in all: dispatcher_/region_mgr_/care_<region>, "
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
