"""The dispatch step: route, walk the policy's ladder, offer, re-offer, queue, and record why.

The effect `dispatch` runs once per call of the dispatch activity. Its first call (no
answer) routes the report to a queue, then walks the ladder of the policy the node chose
and either assigns an engineer, offers the job to one (a handoff the engineer accepts or
declines within the policy's time), or, when no rung finds anyone, hands the order to a
dispatcher's queue with the ranked candidates and why each was excluded. Each later call
carries the person's answer (`handoff_answer`): an acceptance assigns, a decline or a
timeout offers to the next candidate (never one who declined), a dispatcher's pick
assigns the engineer they chose when that engineer lies in the dispatcher's scope.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from sqlalchemy.orm import Session

from servflow.customers import service as customers
from servflow.dispatch import nearby, repo
from servflow.dispatch.index import ANY_SKILL
from servflow.dispatch.models import DispatchDecision, Engineer
from servflow.dispatch.policies import QUEUE_RUNG, Policy, Rung, node_policy, parse_policy
from servflow.dispatch.rules import (
    SKILL_LABELS,
    Candidate,
    Certificate,
    Exclusion,
    Job,
    RungResult,
    Scored,
    Shift,
    candidates_listed,
    first_time_fix_rates,
    km,
    normalize_skill,
    rank_rung,
    reason_text,
)
from servflow.org import service as org
from servflow.platform.effects import OrderChanges, OrderFacts, StepOutcome
from servflow.platform.errors import BusinessRuleViolation
from servflow.platform.scope import in_scope, region_code
from workflows.contracts import HANDOFF_ANSWER, HANDOFF_OUTPUT, Handoff, StepInput, StepResult
from workflows.nodes.automatic import DispatchParams

FINAL = ("assigned", "accepted", "picked")
ENGINEER_QUEUE = "engineers"


@dataclass(frozen=True)
class Ladder:
    """The outcome of walking a ladder: the rung results, and the chosen one (if any)."""

    results: list[RungResult]
    chosen: Scored | None
    rung_index: int


def _date(value: Any) -> date | None:
    try:
        return date.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


def candidate_of(engineer: Engineer) -> Candidate:
    shift = engineer.shift or {}
    return Candidate(
        engineer_id=engineer.id,
        code=engineer.code,
        name=engineer.name,
        outlet_id=engineer.outlet_id,
        region=region_code(engineer.outlet.path),
        skills=frozenset(normalize_skill(s) for s in engineer.skills),
        lat=engineer.lat,
        lng=engineer.lng,
        state=engineer.state,
        current_load=engineer.current_load,
        max_load=engineer.max_load,
        user_id=engineer.user.username if engineer.user else "",
        certificates=tuple(
            Certificate(
                normalize_skill(str(c.get("skill", ""))),
                int(c.get("level", 1)),
                _date(c.get("expires")),
            )
            for c in engineer.certificates or []
        ),
        shift=Shift(
            days=frozenset(int(d) for d in shift.get("days", range(1, 8))),
            start=str(shift.get("start", "00:00")),
            end=str(shift.get("end", "24:00")),
        )
        if shift
        else None,
        leaves=tuple(
            (start, end)
            for leave in engineer.leaves or []
            if (start := _date(leave.get("from"))) and (end := _date(leave.get("to")))
        ),
    )


# ---- the policy ---------------------------------------------------------------------------


def policy_for(
    session: Session, params: DispatchParams, *, pipeline: str, region: str
) -> tuple[Policy, int]:
    """The policy a dispatch uses and its version (0: the node's own): the one the node
    names, else the pipeline's, else the region's, else the node's skills and radius. A
    stored policy's skills win over the node's (the node's count when it names none); the
    node's `accept_within` wins over the policy's."""
    stored = None
    if params.policy:
        stored = repo.latest_policy(session, key=params.policy)
    if stored is None:
        stored = repo.policy_for_scope(session, pipeline=pipeline, region=region)
    if stored is None:
        policy = node_policy(
            skills=params.skills,
            radius_km=params.radius_km,
            cross_region=params.cross_region,
            accept_within=params.accept_within,
        )
        if params.strategy == "least_loaded":
            weights = policy.weights.model_copy(update={"distance": 0.0, "load": 1.0})
            policy = policy.model_copy(update={"weights": weights})
        return policy, 0
    policy = parse_policy(stored.body)
    updates: dict[str, Any] = {}
    if params.skills and not policy.skills:
        updates["skills"] = params.skills
    if params.accept_within:
        updates["accept_within"] = params.accept_within
    return (policy.model_copy(update=updates) if updates else policy), stored.version


# ---- the job and the engineers ------------------------------------------------------------


def job_location(session: Session, step: StepInput, facts: OrderFacts) -> tuple[float, float]:
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


def _job(
    session: Session, step: StepInput, facts: OrderFacts, policy: Policy, now: datetime
) -> Job:
    wanted = facts.region or step.context.region
    region = org.find_region(session, code_or_name=wanted) if wanted else None
    lat, lng = job_location(session, step, facts)
    skills = tuple(dict.fromkeys(normalize_skill(s) for s in policy.skills))
    job_day = _date(step.variables.get("job_date"))
    at = (
        now
        if job_day is None
        else now.replace(year=job_day.year, month=job_day.month, day=job_day.day)
    )
    return Job(
        region=region.code if region else "",
        lat=lat,
        lng=lng,
        skills=skills,
        at=at,
        priority=step.context.priority,
        levels={code: 3 for code in SKILL_LABELS} | repo.skill_levels(session),
    )


def _regions(policy: Policy, job: Job, regions: str) -> frozenset[str] | None:
    if regions == "any":
        return None
    if regions == "neighbours":
        return frozenset(policy.neighbours.get(job.region, []))
    return frozenset([job.region])


def _outlets(session: Session, wanted: frozenset[str] | None) -> list[int] | None:
    """The org units of the regions `wanted` (None: every region)."""
    if wanted is None:
        return None
    outlet_ids: list[int] = []
    for code in sorted(wanted):
        unit = org.find_region(session, code_or_name=code)
        if unit is not None:
            outlet_ids += org.unit_ids_under(session, scope_path=unit.path)
    return outlet_ids


def _pool(session: Session, wanted: frozenset[str] | None) -> list[Candidate]:
    engineers = repo.list_engineers(session, outlet_ids=_outlets(session, wanted))
    return [candidate_of(e) for e in engineers]


def _near(
    session: Session, job: Job, rung: Rung, wanted: frozenset[str] | None
) -> tuple[list[Candidate], int]:
    """The engineers the spatial index finds within the rung's radius holding the job's
    first skill (reloaded as stored), and how many of the rung's regions it left out."""
    assert rung.radius_km is not None
    ids = nearby.index_for(session).near(
        job.lat, job.lng, float(rung.radius_km), job.skills[0] if job.skills else ANY_SKILL
    )
    found = [candidate_of(e) for e in repo.engineers_by_ids(session, ids=[int(i) for i in ids])]
    in_regions = sum(1 for c in found if wanted is None or c.region in wanted)
    total = repo.count_engineers(session, outlet_ids=_outlets(session, wanted))
    return found, max(0, total - in_regions)


def walk_ladder(
    session: Session,
    job: Job,
    policy: Policy,
    *,
    refused: dict[int, str],
    history: dict[int, float],
    take: bool,
) -> Ladder:
    """Ranks rung after rung until one has a qualified engineer; with `take`, that
    engineer's slot is taken (one UPDATE: a concurrent dispatch that filled it first makes
    the next candidate the choice)."""
    results: list[RungResult] = []
    pools: dict[frozenset[str] | None, list[Candidate]] = {}
    indexed = nearby.engineer_count(session) >= nearby.INDEX_FROM
    for index, rung in enumerate(policy.ladder):
        wanted = _regions(policy, job, rung.regions)
        beyond = 0
        if indexed and rung.radius_km is not None:
            pool, beyond = _near(session, job, rung, wanted)
        else:
            if wanted not in pools:
                pools[wanted] = _pool(session, wanted)
            pool = pools[wanted]
        result = rank_rung(
            pool,
            job,
            policy,
            rung,
            regions=wanted,
            refused=refused,
            first_time_fix=history,
        )
        if beyond:
            result = replace(result, beyond=beyond)
        results.append(result)
        for scored in result.ranked:
            engineer_id = scored.candidate.engineer_id
            if not take or repo.take_slot_if_free(session, engineer_id=engineer_id):
                return Ladder(results, scored, index)
            result.excluded.append(
                Exclusion(scored.candidate.code, "full", {"load": "?", "max": "?"})
            )
    return Ladder(results, None, len(policy.ladder))


def explanation(
    ladder: Ladder, policy: Policy, version: int, *, queue: str = "", declined: list[str]
) -> dict[str, Any]:
    """What a decision stores and shows: the rungs tried with counts per exclusion reason,
    the top candidates with their score parts, and the rung used."""
    last = (
        ladder.results[min(ladder.rung_index, len(ladder.results) - 1)] if ladder.results else None
    )
    rung = (
        policy.ladder[ladder.rung_index].name
        if ladder.chosen is not None
        else (f"queue:{queue}" if queue else QUEUE_RUNG)
    )
    return {
        "policy": {"key": policy.key, "version": version},
        "rung": rung,
        "queue": queue or ENGINEER_QUEUE,
        "rungs": [
            {
                "name": r.rung.name,
                "radius_km": str(r.rung.radius_km) if r.rung.radius_km is not None else None,
                "regions": r.rung.regions,
                "qualified": len(r.ranked),
                "excluded": r.counts(),
            }
            for r in ladder.results
        ],
        "candidates": candidates_listed(
            last.ranked if last else [], last.excluded if last else [], policy.top_n
        ),
        "declined": declined,
    }


# ---- the effect -----------------------------------------------------------------------------


def _chosen_output(session: Session, scored: Scored, reason: str, job: Job) -> dict[str, Any]:
    picked = scored.candidate
    outlet = org.get_unit(session, unit_id=picked.outlet_id)
    assert outlet is not None
    return {
        "engineer_id": picked.code,
        "engineer_user_id": picked.user_id,
        "engineer_name": picked.name,
        "outlet_id": outlet.code,
        "distance_km": str(km(scored.distance_km)),
        "reason": reason,
        "cross_region": bool(job.region) and picked.region != job.region,
    }


def _record(
    session: Session,
    step: StepInput,
    now: datetime,
    facts: OrderFacts,
    *,
    status: str,
    policy: Policy,
    version: int,
    explained: dict[str, Any],
    scored: Scored | None,
    reason: str,
) -> DispatchDecision:
    decision = DispatchDecision(
        order_id=step.order_id,
        node_id=step.node_id,
        visit=step.visit,
        engineer_id=scored.candidate.engineer_id if scored else None,
        outlet_id=scored.candidate.outlet_id if scored else None,
        strategy="policy" if version else "node",
        distance_km=km(scored.distance_km) if scored else None,
        score=scored.score if scored else 0.0,
        reason=reason[:500],
        candidates=explained["candidates"],
        status=status,
        rung=explained["rung"],
        policy_key=policy.key,
        policy_version=version,
        customer_id=facts.customer_id,
        fault=facts.fault[:64],
        explanation=explained,
        created_at=now,
    )
    session.add(decision)
    session.flush()
    return decision


def _release(session: Session, engineer_id: int | None) -> None:
    if engineer_id is not None:
        repo.change_load(session, engineer_id=engineer_id, delta=-1)


def _assign(
    session: Session, engineer_id: int, facts: OrderFacts, output: dict[str, Any], summary: str
) -> StepOutcome:
    """The job is the engineer's: the order follows them (the slot is taken already), and the
    slot it held before (an earlier visit's engineer) is given back."""
    _release(session, facts.engineer_id)
    engineer = repo.get_engineer(session, engineer_id=engineer_id)
    assert engineer is not None
    return StepOutcome(
        result=StepResult(output=output, summary=summary),
        changes=OrderChanges(
            engineer_id=engineer_id, outlet_id=engineer.outlet_id, org_path=engineer.outlet.path
        ),
    )


def _queued(
    session: Session,
    step: StepInput,
    now: datetime,
    facts: OrderFacts,
    policy: Policy,
    version: int,
    explained: dict[str, Any],
    note: str,
) -> StepOutcome:
    """No rung found anyone (or the report goes to another queue): a dispatcher decides."""
    queue = explained["queue"]
    reason = note or (
        f"派单阶梯 {len(policy.ladder)} 级均无可用工程师, 转派单员处理"
        if queue == ENGINEER_QUEUE
        else f"按渠道和类型转 {queue} 队列"
    )
    _record(
        session,
        step,
        now,
        facts,
        status="queued",
        policy=policy,
        version=version,
        explained=explained,
        scored=None,
        reason=reason,
    )
    handoff = Handoff(
        answers=["assign"],
        assignee_role=policy.dispatcher_role,
        name="派单员指派工程师 / dispatcher assigns an engineer",
    )
    output = {
        "queue": queue,
        "rung": explained["rung"],
        "reason": reason,
        "candidates": explained["candidates"],
        HANDOFF_OUTPUT: handoff.model_dump(mode="json"),
    }
    return StepOutcome(result=StepResult(output=output, summary=f"等待派单员: {reason}"))


def _offered_or_assigned(
    session: Session,
    step: StepInput,
    now: datetime,
    facts: OrderFacts,
    policy: Policy,
    version: int,
    ladder: Ladder,
    job: Job,
    declined: list[str],
) -> StepOutcome:
    assert ladder.chosen is not None
    scored = ladder.chosen
    explained = explanation(ladder, policy, version, declined=declined)
    reason = reason_text(scored, policy, ladder.rung_index, job.skills)
    output = {**_chosen_output(session, scored, reason, job), "rung": explained["rung"]}
    output["candidates"] = explained["candidates"]
    # Priced with the cross-region coefficient when the engineer comes from another region.
    explained["cross_region"] = output["cross_region"]
    picked = scored.candidate
    offered = bool(policy.accept_within and picked.user_id)
    _record(
        session,
        step,
        now,
        facts,
        status="offered" if offered else "assigned",
        policy=policy,
        version=version,
        explained=explained,
        scored=scored,
        reason=reason,
    )
    if offered:
        handoff = Handoff(
            answers=["accept", "decline"],
            assignee_user=picked.user_id,
            within=policy.accept_within,
            name="接单确认 / accept the job",
        )
        output[HANDOFF_OUTPUT] = handoff.model_dump(mode="json")
        return StepOutcome(
            result=StepResult(output=output, summary=f"等待 {picked.name} 接单: {reason}")
        )
    summary = f"派单给 {picked.name} ({output['outlet_id']}): {reason}"
    return _assign(session, picked.engineer_id, facts, output, summary)


def _refused(session: Session, step: StepInput) -> tuple[dict[int, str], list[str]]:
    """Engineers who declined or let this visit's offer lapse (never offered again)."""
    refused: dict[int, str] = {}
    codes: list[str] = []
    for d in repo.decisions_of(
        session, order_id=step.order_id, node_id=step.node_id, visit=step.visit
    ):
        if d.status in ("declined", "timeout") and d.engineer_id is not None:
            refused[d.engineer_id] = "declined" if d.status == "declined" else "timed_out"
            codes.append(d.engineer.code if d.engineer else str(d.engineer_id))
    return refused, codes


def _decide(
    session: Session,
    step: StepInput,
    now: datetime,
    facts: OrderFacts,
    policy: Policy,
    version: int,
    note: str = "",
) -> StepOutcome:
    job = _job(session, step, facts, policy, now)
    refused, declined = _refused(session, step)
    history = first_time_fix_rates(
        repo.final_dispatches_of_customer(
            session, customer_id=facts.customer_id, exclude_order_id=step.order_id
        )
    )
    ladder = walk_ladder(session, job, policy, refused=refused, history=history, take=True)
    if ladder.chosen is None:
        explained = explanation(ladder, policy, version, declined=declined)
        return _queued(session, step, now, facts, policy, version, explained, note)
    return _offered_or_assigned(session, step, now, facts, policy, version, ladder, job, declined)


def _route(session: Session, step: StepInput, facts: OrderFacts) -> str:
    channel = str(step.variables.get("channel", "") or "")
    service_type = str(step.variables.get("service_type", "") or facts.fault or "")
    return repo.route_queue(
        session, channel=channel, service_type=service_type, priority=step.context.priority
    )


def dispatch(session: Session, step: StepInput, now: datetime, facts: OrderFacts) -> StepOutcome:
    """The dispatch activity's effect (see the module's docstring)."""
    answer = step.params.get(HANDOFF_ANSWER)
    params = DispatchParams.model_validate(
        {k: v for k, v in step.params.items() if k != HANDOFF_ANSWER}
    )
    wanted = facts.region or step.context.region
    region = org.find_region(session, code_or_name=wanted) if wanted else None
    policy, version = policy_for(
        session, params, pipeline=step.definition_key, region=region.code if region else ""
    )
    if step.sandbox:
        return simulated(session, step, now, facts, policy, version)
    if isinstance(answer, dict):
        return _answered(session, step, now, facts, policy, version, answer)
    queue = _route(session, step, facts)
    if queue != ENGINEER_QUEUE:
        ladder = Ladder([], None, 0)
        explained = explanation(ladder, policy, version, queue=queue, declined=[])
        return _queued(session, step, now, facts, policy, version, explained, "")
    return _decide(session, step, now, facts, policy, version)


def _answered(
    session: Session,
    step: StepInput,
    now: datetime,
    facts: OrderFacts,
    policy: Policy,
    version: int,
    answer: dict[str, Any],
) -> StepOutcome:
    pending = repo.pending_decision(
        session, order_id=step.order_id, node_id=step.node_id, visit=step.visit
    )
    said = str(answer.get("answer", ""))
    if pending is None:
        return _decide(session, step, now, facts, policy, version)
    if pending.status == "offered":
        assert pending.engineer_id is not None and pending.engineer is not None
        engineer = pending.engineer
        if said == "accept":
            pending.status = "accepted"
            output = {
                "engineer_id": engineer.code,
                "engineer_user_id": engineer.user.username if engineer.user else "",
                "engineer_name": engineer.name,
                "outlet_id": engineer.outlet.code,
                "distance_km": str(pending.distance_km or 0),
                "reason": pending.reason,
                "rung": pending.rung,
                "cross_region": bool(pending.explanation.get("cross_region", False)),
                "candidates": pending.candidates,
            }
            summary = f"{engineer.name} 已接单: {pending.reason}"
            return _assign(session, engineer.id, facts, output, summary)
        pending.status = "declined" if said == "decline" else "timeout"
        pending.explanation = {**pending.explanation, "answer": _answer_note(answer)}
        _release(session, engineer.id)
        session.flush()
        return _decide(session, step, now, facts, policy, version)
    return _picked(session, step, now, facts, policy, version, pending, answer)


def _answer_note(answer: dict[str, Any]) -> dict[str, str]:
    return {
        "answer": str(answer.get("answer", ""))[:32],
        "reason": str(answer.get("reason", "") or "")[:500],
        "by": str(answer.get("by", ""))[:100],
    }


def _picked(
    session: Session,
    step: StepInput,
    now: datetime,
    facts: OrderFacts,
    policy: Policy,
    version: int,
    pending: DispatchDecision,
    answer: dict[str, Any],
) -> StepOutcome:
    """A dispatcher chose the engineer: assigned when known, in the dispatcher's scope and
    free; otherwise the order stays in the queue, saying why."""
    code = str(answer.get("choice", "") or "").strip()
    picker = org.get_user_by_username(session, username=str(answer.get("by", "")))
    engineer = repo.get_engineer_by_code(session, code=code) if code else None
    scope = picker.org_unit.path if picker is not None and picker.org_unit else ""
    if engineer is None or not in_scope(engineer.outlet.path, scope):
        note = f"派单员选择的工程师 '{code}' 不存在或不在其管辖范围, 仍待指派"
    elif not repo.take_slot_if_free(session, engineer_id=engineer.id):
        note = f"工程师 {engineer.name} 当前不可接单 (状态 {engineer.state} 或已满负荷), 仍待指派"
    else:
        pending.status = "picked"
        pending.engineer_id, pending.outlet_id = engineer.id, engineer.outlet_id
        pending.explanation = {**pending.explanation, "answer": _answer_note(answer)}
        reason = f"派单员 {answer.get('by', '')} 指派 {engineer.name}"
        pending.reason = reason
        session.flush()
        output = {
            "engineer_id": engineer.code,
            "engineer_user_id": engineer.user.username if engineer.user else "",
            "engineer_name": engineer.name,
            "outlet_id": engineer.outlet.code,
            "distance_km": "",
            "reason": reason,
            "rung": pending.rung,
            "cross_region": False,
            "candidates": pending.candidates,
        }
        return _assign(session, engineer.id, facts, output, reason)
    pending.status = "superseded"
    session.flush()
    explained = {**pending.explanation, "note": note}
    return _queued(session, step, now, facts, policy, version, explained, note)


def simulated(
    session: Session,
    step: StepInput,
    now: datetime,
    facts: OrderFacts,
    policy: Policy,
    version: int,
) -> StepOutcome:
    """A test run's dispatch: the ladder walked over the real engineers exactly as a real
    one, shown with its explanation, but no slot is taken, no decision recorded, no offer
    made and the order gets no engineer. The order moves to the engineer's outlet as a real
    one does, so the steps after it simulate what they would do."""
    job = _job(session, step, facts, policy, now)
    ladder = walk_ladder(session, job, policy, refused={}, history={}, take=False)
    explained = explanation(ladder, policy, version, declined=[])
    if ladder.chosen is None:
        reason = "没有可用工程师: 实际运行时等待派单员指派"
        output = {"sandbox": True, "reason": reason, "explanation": explained, **explained}
        return StepOutcome(result=StepResult(output=output, summary=f"模拟派单: {reason}"))
    reason = reason_text(ladder.chosen, policy, ladder.rung_index, job.skills)
    chosen = _chosen_output(session, ladder.chosen, reason, job)
    outlet = org.get_unit_by_code(session, code=chosen["outlet_id"])
    assert outlet is not None
    wait = f", 等待接单 {policy.accept_within}" if policy.accept_within else ""
    result = StepResult(
        output={
            **chosen,
            "sandbox": True,
            "rung": explained["rung"],
            "candidates": explained["candidates"],
            "explanation": explained,
        },
        summary=f"模拟派单: {chosen['engineer_name']} ({outlet.name}), 未指派{wait}: {reason}",
    )
    return StepOutcome(
        result=result, changes=OrderChanges(outlet_id=outlet.id, org_path=outlet.path)
    )
