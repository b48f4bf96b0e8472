"""The channels' demo data: the marketplace installation pipeline, and a few demo
customers known on other channels (WeCom, Douyin, Tmall) with a product under warranty."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from sqlalchemy.orm import Session

from servflow.customers import service as customers
from servflow.definitions import service as definitions

INSTALLATION = Path(__file__).resolve().parent / "data" / "installation.json"
# phone (from servflow/demo/data/customers.csv) -> identities and an installed product
KNOWN = {
    "13800010001": [("wecom", "wmDemoCustomer001"), ("douyin", "dy-demo-buyer-001")],
    "13900020002": [("tmall", "tb-demo-buyer-002")],
}
PRODUCT = ("智能门锁 X3", "X3-DEMO-0001", date(2026, 6, 1), date(2028, 6, 1))


def load_channels_demo(session: Session) -> dict[str, int]:
    """Adds what is missing (idempotent); returns how many rows of each kind it added."""
    raw = json.loads(INSTALLATION.read_text(encoding="utf-8"))
    published = definitions.publish(
        session, key=raw["key"], raw=raw, user="demo", unless_unchanged=True
    )
    added = {"channels_definitions": int(published.fresh), "channels_identities": 0}
    added["channels_assets"] = 0
    for phone, identities in KNOWN.items():
        customer = customers.find_by_phone(session, phone=phone)
        if customer is None:
            continue
        for kind, value in identities:
            if not customers.has_identity(session, kind=kind, value=value):
                customers.link_identity(
                    session, customer=customer, kind=kind, value=value, by="demo"
                )
                added["channels_identities"] += 1
        product, serial, installed, warranty = PRODUCT
        if not customers.has_asset(session, customer_id=customer.id, serial_no=serial):
            customers.add_asset(
                session,
                customer_id=customer.id,
                product=product,
                serial_no=serial,
                installed_on=installed,
                warranty_until=warranty,
            )
            added["channels_assets"] += 1
    return added
