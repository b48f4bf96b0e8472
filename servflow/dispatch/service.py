"""Dispatch use cases: choose the engineer for a job, and keep every engineer's open-job
count (this module is the one writer of `engineer.current_load`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from servflow.customers import service as customers
from servflow.dispatch import repo
from servflow.dispatch.models import DispatchDecision, Engineer
from servflow.dispatch.rules import Candidate, Choice, choose_engineer, skill_label
from servflow.org import service as org
from servflow.platform.effects import OrderChanges, OrderFacts, StepOutcome
from servflow.platform.errors import BusinessRuleViolation, invalid_field
from servflow.platform.scope import region_code
from workflows.contracts import StepInput, StepResult
from workflows.nodes.automatic import DispatchParams

visits_and_last_distance = repo.visits_and_last_distance


def engineer_id_of(session: Session, *, user_id: int) -> int | None:
    """The engineer record of a user account, if the user is an engineer."""
    engineer = repo.get_engineer_by_user(session, user_id=user_id)
    return engineer.id if engineer else None


def engineer_of(session: Session, *, engineer_id: int | None) -> Engineer | None:
    return repo.get_engineer(session, engineer_id=engineer_id) if engineer_id else None


def release_slot(session: Session, *, engineer_id: int | None) -> None:
    """The job is over for this engineer: their open-job count goes back down."""
    if engineer_id is not None:
        repo.change_load(session, engineer_id=engineer_id, delta=-1)


def move_slot(session: Session, *, from_id: int | None, to_id: int) -> None:
    """A job changes hands: the slot moves with it (nothing when it stays)."""
    if from_id == to_id:
        return
    release_slot(session, engineer_id=from_id)
    repo.change_load(session, engineer_id=to_id, delta=1)


def _job_location(session: Session, step: StepInput, facts: OrderFacts) -> tuple[float, float]:
    if facts.customer_id is not None:
        located = customers.location(session, customer_id=facts.customer_id)
        if located is not None:
            return located
    ctx = step.context.customer
    if ctx.get("lat") not in (None, "") and ctx.get("lng") not in (None, ""):
        return float(ctx["lat"]), float(ctx["lng"])
    outlet = org.get_unit(session, unit_id=facts.outlet_id) if facts.outlet_id else None
    if outlet is not None and outlet.lat is not None and outlet.lng is not None:
        return outlet.lat, outlet.lng
    raise BusinessRuleViolation(f"order {step.order_id} has no location: no customer coordinates")


def _candidate(engineer: Engineer) -> Candidate:
    return Candidate(
        engineer_id=engineer.id,
        code=engineer.code,
        name=engineer.name,
        outlet_id=engineer.outlet_id,
        region=region_code(engineer.outlet.path),
        skills=frozenset(engineer.skills),
        lat=engineer.lat,
        lng=engineer.lng,
        state=engineer.state,
        current_load=engineer.current_load,
        max_load=engineer.max_load,
        user_id=engineer.user.username if engineer.user else "",
    )


def _pool(
    session: Session, step: StepInput, facts: OrderFacts, params: DispatchParams
) -> tuple[str, str, list[Candidate]]:
    """The region (code, name) and the engineers dispatch chooses among."""
    wanted = facts.region or step.context.region
    region = org.find_region(session, code_or_name=wanted) if wanted else None
    if params.cross_region:
        engineers = repo.list_engineers(session)
    elif region is None:
        raise BusinessRuleViolation(f"order {step.order_id} has no known region ({wanted!r})")
    else:
        outlets = org.unit_ids_under(session, scope_path=region.path)
        engineers = repo.list_engineers(session, outlet_ids=outlets)
    code, name = (region.code, region.name) if region else ("", "")
    return code, name, [_candidate(e) for e in engineers]


def _best(
    candidates: list[Candidate],
    job: tuple[str, str, float, float],
    params: DispatchParams,
) -> Choice:
    """The best qualified engineer among `candidates` for the job at (region code, region
    name, lat, lng), or a BusinessRuleViolation saying why there is none."""
    region, region_name, lat, lng = job
    choice = choose_engineer(
        candidates,
        region=region,
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
        raise BusinessRuleViolation(
            f"no qualified engineer: 区域 {region_name or '全部'} {radius}"
            f"没有可用的持证工程师 (资质: {skills}); {len(candidates)} considered"
        )
    return choice


def _job(
    session: Session, step: StepInput, facts: OrderFacts, params: DispatchParams
) -> tuple[tuple[str, str, float, float], list[Candidate]]:
    region, region_name, candidates = _pool(session, step, facts, params)
    lat, lng = _job_location(session, step, facts)
    return (region, region_name, lat, lng), candidates


def _take_best(
    session: Session, step: StepInput, facts: OrderFacts, params: DispatchParams
) -> Choice:
    """The best qualified engineer whose slot this transaction could take."""
    job, candidates = _job(session, step, facts, params)
    excluded: set[int] = set()
    while True:
        left = [c for c in candidates if c.engineer_id not in excluded]
        choice = _best(left, job, params)
        # A concurrent dispatch may have filled the slot since we read: choose again.
        if repo.take_slot_if_free(session, engineer_id=choice.candidate.engineer_id):
            return choice
        excluded.add(choice.candidate.engineer_id)


def _chosen(choice: Choice, outlet_code: str) -> dict[str, object]:
    picked = choice.candidate
    return {
        "engineer_id": picked.code,
        "engineer_user_id": picked.user_id,
        "engineer_name": picked.name,
        "outlet_id": outlet_code,
        "distance_km": str(choice.distance_km),
        "reason": choice.reason,
    }


def dispatch(session: Session, step: StepInput, now: datetime, facts: OrderFacts) -> StepOutcome:
    """Chooses by the node's strategy among qualified engineers, takes a slot of their load
    (giving back the previous engineer's), and records why; a test run's is simulated."""
    params = DispatchParams.model_validate(step.params)
    if step.sandbox:
        return _simulated(session, step, facts, params)
    choice = _take_best(session, step, facts, params)
    picked = choice.candidate
    # The slot just taken is the job's; the one it held before is given back.
    release_slot(session, engineer_id=facts.engineer_id)
    outlet = org.get_unit(session, unit_id=picked.outlet_id)
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
    session.flush()
    result = StepResult(
        output=_chosen(choice, outlet.code),
        summary=f"派单给 {picked.name} ({outlet.name}): {choice.reason}",
    )
    changes = OrderChanges(
        engineer_id=picked.engineer_id, outlet_id=picked.outlet_id, org_path=outlet.path
    )
    return StepOutcome(result=result, changes=changes)


def _simulated(
    session: Session, step: StepInput, facts: OrderFacts, params: DispatchParams
) -> StepOutcome:
    """A test run's dispatch: chosen among the real engineers exactly as a real one, shown
    with the ranked candidates, but no slot is taken, no decision recorded, and the order
    gets no engineer, so the job shows in no one's tasks. The order moves to the engineer's
    outlet as a real one does, so the steps after it simulate what they would do."""
    job, candidates = _job(session, step, facts, params)
    choice = _best(candidates, job, params)
    outlet = org.get_unit(session, unit_id=choice.candidate.outlet_id)
    assert outlet is not None
    result = StepResult(
        output={**_chosen(choice, outlet.code), "sandbox": True, "candidates": choice.considered},
        summary=f"模拟派单: {choice.candidate.name} ({outlet.name}), 未指派: {choice.reason}",
    )
    return StepOutcome(
        result=result, changes=OrderChanges(outlet_id=outlet.id, org_path=outlet.path)
    )


# ---- master data: engineers -------------------------------------------------------------------


def find_engineer(session: Session, *, code: str, scope_path: str | None) -> Engineer | None:
    """The engineer `code`, when their outlet lies within `scope_path` (None: anywhere)."""
    engineer = repo.get_engineer_by_code(session, code=code)
    if engineer is None or not org.visible(engineer.outlet.path, scope_path):
        return None
    return engineer


def page_engineers(
    session: Session, *, scope_path: str | None, limit: int, offset: int
) -> tuple[list[Engineer], int]:
    """Engineers of the outlets within `scope_path`, by code, and their count."""
    outlet_ids = org.unit_ids_in_scope(scope_path=scope_path)
    return repo.page_engineers(session, outlet_ids=outlet_ids, limit=limit, offset=offset)


def _login_of(session: Session, *, username: str, code: str) -> int | None:
    """The id of the engineer user `username` (None when not given), unless another
    engineer has that login already."""
    if not username:
        return None
    user = org.get_user_by_username(session, username=username)
    if user is None or "engineer" not in user.roles:
        raise invalid_field("username", f"'{username}' is not an engineer user")
    other = repo.get_engineer_by_user(session, user_id=user.id)
    if other is not None and other.code != code:
        raise invalid_field("username", f"'{username}' is engineer '{other.code}' already")
    return user.id


def save_engineer(
    session: Session,
    *,
    scope_path: str | None,
    code: str,
    name: str,
    outlet: str,
    skills: list[str],
    phone: str = "",
    lat: float | None = None,
    lng: float | None = None,
    state: str = "available",
    max_load: int = 3,
    username: str = "",
) -> Engineer:
    """Creates the engineer `code` (with no open jobs) or updates them; `username` links
    their login, when given.

    Raises:
        Invalid: naming the field: an unknown outlet, or a login that is no engineer's or
            another engineer's.
        Invalid: the outlet, or the engineer's current outlet, is outside `scope_path`
            (answered as if unknown).
    """
    unit = org.get_unit_by_code(session, code=outlet)
    if unit is None or unit.kind != "outlet":
        raise invalid_field("outlet", f"no outlet '{outlet}'")
    org.check_in_scope(unit.path, scope_path, field="outlet", unknown=f"no outlet '{outlet}'")
    user_id = _login_of(session, username=username, code=code)
    engineer = repo.get_engineer_by_code(session, code=code)
    if engineer is None:
        engineer = Engineer(code=code, current_load=0)
        session.add(engineer)
    else:
        org.check_in_scope(
            engineer.outlet.path, scope_path, field="code", unknown=f"no engineer '{code}'"
        )
    if user_id is not None:
        engineer.user_id = user_id
    engineer.name, engineer.phone, engineer.outlet_id = name, phone, unit.id
    engineer.skills, engineer.lat, engineer.lng = list(skills), lat, lng
    engineer.state, engineer.max_load = state, max_load
    session.flush()
    return engineer
