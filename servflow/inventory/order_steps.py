"""The order's steps: the parts node sources a job's parts, the consume node takes them out
of stock, a cancelled order gives its reservations back."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from servflow.inventory import repo, rules
from servflow.inventory.catalogue import known_part
from servflow.inventory.consumption import consume_parts
from servflow.inventory.models import Warehouse
from servflow.inventory.reservations import release_order, reserve
from servflow.inventory.sourcing import Location, plan_lines
from servflow.inventory.transfers import open_transfer
from servflow.org import service as org
from servflow.platform.effects import OrderFacts, StepOutcome
from workflows.contracts import StepInput, StepResult, TransferInput


def _job_location(step: StepInput) -> Location:
    customer = step.context.customer or {}
    lat, lng = customer.get("lat"), customer.get("lng")
    ok = isinstance(lat, int | float) and isinstance(lng, int | float)
    return Location(float(lat), float(lng)) if ok else Location(None, None)  # type: ignore[arg-type]


def _engineer(step: StepInput) -> str:
    """The engineer the order's latest dispatch chose (its output's `engineer_id`)."""
    engineer = ""
    for value in step.variables.values():
        if isinstance(value, dict) and isinstance(value.get("engineer_id"), str):
            engineer = str(value["engineer_id"])
    return engineer


def _nearest_store(session: Session, *, region: str, at: Location) -> Warehouse | None:
    unit = org.find_region(session, code_or_name=region) if region else None
    region_ids = org.unit_ids_in_scope(scope_path=unit.path) if unit is not None else None
    stores = [
        w
        for w in repo.page_warehouses(session, region_ids=region_ids, limit=10_000, offset=0)[0]
        if w.kind != "van"
    ]
    if not stores:
        return None
    ranked = rules.rank(
        [rules.Candidate(w.code, w.kind, w.lat, w.lng, 1, 0) for w in stores],
        lat=at.lat,
        lng=at.lng,
    )
    return next(w for w in stores if w.code == ranked[0].code)


def source_for_order(
    session: Session, step: StepInput, now: datetime, facts: OrderFacts
) -> StepOutcome:
    """The parts node's effect: sources the parts the step named (`params.parts_from`) for
    the job: a line the engineer's van or the job's nearest store (the destination) can
    fill is reserved there for the order; any other is reserved at the warehouse sourcing
    chooses and becomes a transfer to the destination (`transfers` in the output: the node
    runs one transfer workflow each and waits). Lines nothing can fill are `shortfall`."""
    sources = [str(s) for s in step.params.get("parts_from", [])]
    lines = rules.parts_lines(step.variables, sources)
    at = _job_location(step)
    engineer = _engineer(step)
    dest = _nearest_store(session, region=facts.region or step.context.region, at=at)
    if dest is not None and at.lat is None:
        at = Location(dest.lat, dest.lng)
    plans = plan_lines(session, lines=lines, lat=at.lat, lng=at.lng, engineer=engineer)
    reserved: list[dict[str, Any]] = []
    transfers: list[dict[str, Any]] = []
    for plan in plans:
        for index, pick in enumerate(plan.picks):
            # The visit in the keys: a loop back to the node sources again, not the same.
            line_key = f"{step.order_id}/{plan.sku}/{index}/{step.visit}"
            store = repo.get_warehouse_by_code(session, code=pick.warehouse)
            assert store is not None
            if pick.van or dest is None or store.id == dest.id:
                reserved.append(
                    _reserve_pick(session, step, plan.sku, pick.qty, store, line_key, now=now)
                )
                continue
            code = f"{step.order_id}.{plan.sku}.{index}.{step.visit}"
            transfers.append(
                _transfer_pick(
                    session, step, plan.sku, pick.qty, (store, dest), code, line_key, now
                )
            )
    return _sourced(plans, dest=dest, reserved=reserved, transfers=transfers)


def _reserve_pick(
    session: Session,
    step: StepInput,
    sku: str,
    qty: int,
    store: Warehouse,
    line_key: str,
    *,
    now: datetime,
) -> dict[str, Any]:
    """Reserves a pick where it is (the van or the destination) for the order line."""
    reserve(
        session,
        key=line_key,
        order_id=step.order_id,
        warehouse=store,
        part=known_part(session, sku),
        qty=qty,
        now=now,
        ttl=None,
    )
    return {"sku": sku, "qty": qty, "warehouse": store.code}


def _transfer_pick(
    session: Session,
    step: StepInput,
    sku: str,
    qty: int,
    ends: tuple[Warehouse, Warehouse],
    code: str,
    line_key: str,
    now: datetime,
) -> dict[str, Any]:
    """Opens the transfer `code` of a pick from its store to the destination (`ends`) and
    answers the transfer workflow's input."""
    source, destination = ends
    transfer = TransferInput(
        code=code,
        order_id=step.order_id,
        line_key=line_key,
        sku=sku,
        qty=qty,
        source=source.code,
        destination=destination.code,
    )
    open_transfer(session, now=now, **transfer.model_dump())
    return transfer.model_dump(mode="json")


def _sourced(
    plans: list[rules.Plan],
    *,
    dest: Warehouse | None,
    reserved: list[dict[str, Any]],
    transfers: list[dict[str, Any]],
) -> StepOutcome:
    """The parts node's output: the destination, what was reserved, the transfers, what
    is short and each plan's reason."""
    shortfall = [{"sku": plan.sku, "qty": plan.shortfall} for plan in plans if plan.shortfall]
    output = {
        "destination": dest.code if dest is not None else "",
        "reserved": reserved,
        "transfers": transfers,
        "shortfall": shortfall,
        "reason": "; ".join(f"{plan.sku}: {plan.reason}" for plan in plans)[:2000],
    }
    summary = f"{len(reserved)} reserved, {len(transfers)} transfers, {len(shortfall)} short"
    return StepOutcome(result=StepResult(output=output, summary=summary))


def consume_for_step(
    session: Session, step: StepInput, now: datetime, facts: OrderFacts
) -> StepOutcome:
    """The consume node's effect: the parts the step reported used (`params.parts_from`)
    leave stock once (`consume_parts`, keyed by the step's idempotency key)."""
    sources = [str(s) for s in step.params.get("parts_from", [])]
    lines = rules.parts_lines(step.variables, sources)
    done = consume_parts(
        session,
        order_id=step.order_id,
        key=step.idempotency_key,
        lines=lines,
        engineer=_engineer(step),
        now=now,
    )
    output = {"consumed": [c._asdict() for c in done]}
    summary = ", ".join(f"{c.sku} x{c.qty} @ {c.warehouse or '-'}" for c in done)
    return StepOutcome(result=StepResult(output=output, summary=summary[:500]))


def cancel_order_parts(session: Session, *, order_id: str, now: datetime, reason: str) -> int:
    """An order cancelled: its reservations are released (transfers compensate in their
    own workflow)."""
    return release_order(session, order_id=order_id, now=now, reason=reason)
