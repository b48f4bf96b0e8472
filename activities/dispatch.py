"""dispatch: pick the engineer for the job, take a slot of their load, record why."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import Session

from activities.common import ActivityDeps, business_error, run_step
from servflow.customers.repo import get_customer
from servflow.dispatch.models import DispatchDecision, Engineer
from servflow.dispatch.repo import add_load, list_engineers
from servflow.dispatch.rules import Candidate, choose_engineer, skill_label
from servflow.orders.models import WorkOrder
from servflow.org import repo as org
from servflow.org.models import OrgUnit
from workflows.contracts import StepInput, StepResult
from workflows.nodes.automatic import DispatchParams


def _job_location(session: Session, step: StepInput, order: WorkOrder) -> tuple[float, float]:
    if order.customer_id is not None:
        customer = get_customer(session, customer_id=order.customer_id)
        located = [a for a in (customer.addresses if customer else []) if a.lat is not None]
        if located:
            return located[-1].lat or 0.0, located[-1].lng or 0.0
    ctx = step.context.customer
    if ctx.get("lat") not in (None, "") and ctx.get("lng") not in (None, ""):
        return float(ctx["lat"]), float(ctx["lng"])
    if order.outlet_id is not None:
        outlet = session.get(OrgUnit, order.outlet_id)
        if outlet is not None and outlet.lat is not None and outlet.lng is not None:
            return outlet.lat, outlet.lng
    raise business_error(f"order {step.order_id} has no location: no customer coordinates")


def _candidate(engineer: Engineer) -> Candidate:
    parts = engineer.outlet.path.strip("/").split("/")
    return Candidate(
        engineer_id=engineer.id,
        code=engineer.code,
        name=engineer.name,
        outlet_id=engineer.outlet_id,
        region=parts[1] if len(parts) > 1 else "",
        skills=frozenset(engineer.skills),
        lat=engineer.lat,
        lng=engineer.lng,
        state=engineer.state,
        current_load=engineer.current_load,
        max_load=engineer.max_load,
        user_id=engineer.user.username if engineer.user else "",
    )


def dispatch_effect(
    session: Session, step: StepInput, now: datetime, order: WorkOrder
) -> StepResult:
    """Chooses by the node's strategy among qualified engineers; records the decision."""
    params = DispatchParams.model_validate(step.params)
    region_code = order.region or step.context.region
    region = org.find_region(session, code_or_name=region_code) if region_code else None
    if region is None and not params.cross_region:
        raise business_error(f"order {step.order_id} has no known region ({region_code!r})")
    lat, lng = _job_location(session, step, order)
    pool = list_engineers(session, under_path=None if params.cross_region else region.path)  # type: ignore[union-attr]
    candidates = [_candidate(e) for e in pool]
    excluded: set[int] = set()
    while True:
        choice = choose_engineer(
            [c for c in candidates if c.engineer_id not in excluded],
            region=region.code if region else "",
            skills=params.skills,
            lat=lat,
            lng=lng,
            radius_km=params.radius_km,
            strategy=params.strategy,
            cross_region=params.cross_region,
        )
        if choice is None:
            skills = "、".join(skill_label(s) for s in params.skills) or "任意"
            radius = f"{params.radius_km} km 内" if params.radius_km else ""
            raise business_error(
                f"no qualified engineer: 区域 {region.name if region else '全部'} {radius}"
                f"没有可用的持证工程师 (资质: {skills}); {len(candidates)} considered"
            )
        # Take the slot only while the engineer still has room (a concurrent dispatch may
        # have filled it since we read); otherwise choose again without them.
        taken = session.execute(
            update(Engineer)
            .where(
                Engineer.id == choice.candidate.engineer_id,
                Engineer.current_load < Engineer.max_load,
                Engineer.state == "available",
            )
            .values(current_load=Engineer.current_load + 1)
        )
        if taken.rowcount == 1:  # type: ignore[attr-defined]
            break
        excluded.add(choice.candidate.engineer_id)
    picked = choice.candidate
    if order.current_engineer_id is not None and order.current_engineer_id != picked.engineer_id:
        add_load(session, engineer_id=order.current_engineer_id, delta=-1)
    elif order.current_engineer_id == picked.engineer_id:
        add_load(session, engineer_id=picked.engineer_id, delta=-1)  # re-dispatch to the same one
    outlet = session.get(OrgUnit, picked.outlet_id)
    assert outlet is not None
    session.add(
        DispatchDecision(
            order_id=step.order_id,
            node_id=step.node_id,
            visit=step.visit,
            engineer_id=picked.engineer_id,
            outlet_id=picked.outlet_id,
            strategy=params.strategy,
            distance_km=choice.distance_km,
            score=choice.score,
            reason=choice.reason,
            candidates=choice.considered,
            created_at=now,
        )
    )
    order.current_engineer_id = picked.engineer_id
    order.outlet_id = picked.outlet_id
    order.org_path = outlet.path
    session.flush()
    return StepResult(
        output={
            "engineer_id": picked.code,
            "engineer_user_id": picked.user_id,
            "engineer_name": picked.name,
            "outlet_id": outlet.code,
            "distance_km": str(choice.distance_km),
            "reason": choice.reason,
        },
        summary=f"派单给 {picked.name} ({outlet.name}): {choice.reason}",
    )


def dispatch(deps: ActivityDeps, step: StepInput) -> StepResult:
    return run_step(deps, step, activity="dispatch", effect=dispatch_effect, lock_order=True)[0]
