"""The demo's money: price rules (regional rates per job type, the cross-region
coefficient, surcharges, tax, fx, deductions) and revenue-share agreements, from
servflow/demo/data/money.json. Idempotent: a rule or agreement code already present is
left as it is."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from servflow.billing import pricing, repo, service
from servflow.billing.models import PriceRule, ShareAgreement
from servflow.org import service as org
from workflows.contracts import OrderContext, StepInput

DATA = Path(__file__).resolve().parents[1] / "demo" / "data" / "money.json"


def load_money_demo(
    session: Session, *, path: Path = DATA, settle_orders: bool = False
) -> dict[str, int]:
    """Adds the demo price rules and agreements that are missing, and with
    `settle_orders` the settled demo orders (`servflow ledger demo-orders`; not in the
    shared demo load, whose orders tests count); the caller commits."""
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
    session.flush()
    if settle_orders:
        added["settled_demo_milestones"] = settle_demo_orders(session)
    return added


def _all(session: Session, model: Any) -> list[Any]:
    return repo.page_rules(session, model, visible=model.id > 0, code=None, limit=10_000, offset=0)[
        0
    ]


def _path(session: Session, unit: str | None) -> str:
    return pricing.ancestors(pricing.unit_path(session, unit, None))[-1]


DEMO_ORDERS = (
    # order id, customer, phone, milestones (name, share, mode)
    ("demo-money-1", "周敏", "13700000001", (("commissioning", "0.6", "realtime"),)),
    (
        "demo-money-2",
        "吴磊",
        "13700000002",
        (("commissioning", "0.6", "realtime"), ("signoff", "0.4", "realtime")),
    ),
    ("demo-money-3", "郑洁", "13700000003", (("completion", "1", "periodic"),)),
)
DEMO_SETTLED_AT = datetime(2026, 11, 24, 4, 0, tzinfo=UTC)  # a Tuesday, noon in China


def settle_demo_orders(session: Session) -> int:
    """A few settled demo orders in 华南 (outlet gz-001, repair visits): split HQ/branch/
    agent by the demo agreement, with their ledger entries. Runs each step through the
    step runner in the caller's transaction (a session joined to its connection), so the
    once-only keys make a second load add nothing. Returns the milestones settled now."""
    from servflow.orders import service as orders
    from servflow.orders import steps

    if org.get_unit_by_code(session, code="gz-001") is None:
        return 0
    factory = sessionmaker(bind=session.connection(), join_transaction_mode="create_savepoint")
    settled = 0
    clock = lambda: DEMO_SETTLED_AT  # noqa: E731
    for order_id, name, phone, milestones in DEMO_ORDERS:
        context = OrderContext(
            region="huanan", outlet="gz-001", customer={"name": name, "phone": phone}
        )
        report = _step(order_id, context, "report", {})
        steps.run_step(factory, report, activity="report", effect=orders.report, clock=clock)
        for milestone, share, mode in milestones:
            params = {"milestone": milestone, "share": share, "job_type": "repair_visit"}
            settle = _step(order_id, context, milestone, {**params, "mode": mode})
            _, applied = steps.run_step(
                factory,
                settle,
                activity="settlement",
                effect=service.settle,
                clock=clock,
                lock_order=True,
            )
            settled += int(applied)
    return settled


def _step(order_id: str, context: OrderContext, node: str, params: dict[str, Any]) -> StepInput:
    return StepInput(
        order_id=order_id,
        node_id=node,
        node_type="report" if node == "report" else "settlement",
        visit=1,
        idempotency_key=f"{order_id}/{node}/1",
        params=params,
        variables={"fault": "repair_visit"},
        context=context,
        definition_key="demo-money",
        definition_version=1,
    )
