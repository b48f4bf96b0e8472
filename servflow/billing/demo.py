"""The demo's money: price rules (regional rates per job type, the cross-region
coefficient, surcharges, tax, fx, deductions) and revenue-share agreements, from
servflow/demo/data/money.json. Idempotent: a rule or agreement code already present is
left as it is."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from servflow.billing import pricing, repo
from servflow.billing.models import PriceRule, ShareAgreement

DATA = Path(__file__).resolve().parents[1] / "demo" / "data" / "money.json"


def load_money_demo(session: Session, *, path: Path = DATA) -> dict[str, int]:
    """Adds the demo price rules and agreements that are missing; the caller commits."""
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    start = datetime.fromisoformat(data["valid_from"])
    added = {"price_rule": 0, "share_agreement": 0}
    seen = {(r.code, r.scope_path) for r in _all(session, PriceRule)}
    for rule in data["price_rules"]:
        if (rule["code"], _path(session, rule["unit"])) in seen:
            continue
        pricing.save_rule(
            session,
            scope_path=None,
            by="demo",
            code=rule["code"],
            kind=rule["kind"],
            unit=rule["unit"],
            job_type=rule.get("job_type", "*"),
            condition=rule.get("condition", ""),
            body=rule["body"],
            currency=rule.get("currency", "CNY"),
            valid_from=start,
            valid_to=None,
        )
        added["price_rule"] += 1
    agreed = {a.code for a in _all(session, ShareAgreement)}
    for agreement in data["agreements"]:
        if agreement["code"] in agreed:
            continue
        pricing.save_agreement(
            session,
            scope_path=None,
            by="demo",
            code=agreement["code"],
            unit=agreement["unit"],
            job_type=agreement.get("job_type", "*"),
            condition=agreement.get("condition", ""),
            parties=agreement["parties"],
            tiers=agreement.get("tiers", []),
            valid_from=start,
            valid_to=None,
        )
        added["share_agreement"] += 1
    return added


def _all(session: Session, model: Any) -> list[Any]:
    return repo.page_rules(session, model, visible=model.id > 0, code=None, limit=10_000, offset=0)[
        0
    ]


def _path(session: Session, unit: str | None) -> str:
    return pricing.ancestors(pricing.unit_path(session, unit, None))[-1]
