"""Choosing an engineer for a job: pure functions, no database, no Temporal.

A rung of a policy's ladder (servflow.dispatch.policies) is ranked by `rank_rung`: each
engineer either fails a hard filter (an `Exclusion` with a reason code, explained in
Chinese and English by `explain`) or gets a score from its parts (distance, load, skill
level, first-time-fix history, urgency), each between 0 and 1, weighted by the policy.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal

from servflow.dispatch.policies import Policy, Rung
from servflow.platform.geo import haversine_km

SKILL_LABELS = {
    "refrigeration": "制冷",
    "electrical": "电工",
    "gas": "燃气",
    "smart_lock": "智能锁",
    "plumbing": "水暖",
    "kitchen": "厨房设备",
    "medical_imaging": "医疗影像",
    "elevator": "电梯",
}
SKILL_LABELS_EN = {
    "refrigeration": "Refrigeration",
    "electrical": "Electrical",
    "gas": "Gas",
    "smart_lock": "Smart lock",
    "plumbing": "Plumbing",
    "kitchen": "Kitchen equipment",
    "medical_imaging": "Medical imaging",
    "elevator": "Elevator",
}
_SKILL_ALIASES = {label: code for code, label in SKILL_LABELS.items()} | {
    "smart-lock": "smart_lock"
}
LOCAL_TIME = timezone(timedelta(hours=8), "CST")
"""Shifts are written in China Standard Time."""
UNBOUNDED_KM = 1000.0
"""The distance that scores 0 on a rung without a radius."""
MAX_PRIORITY = 5


def normalize_skill(skill: str) -> str:
    """A skill code from a code, a hyphenated code or its Chinese label ("制冷")."""
    text = skill.strip()
    return _SKILL_ALIASES.get(text, _SKILL_ALIASES.get(text.lower(), text.lower()))


def skill_label(skill: str) -> str:
    code = normalize_skill(skill)
    return SKILL_LABELS.get(code, code)


@dataclass(frozen=True)
class Certificate:
    skill: str
    level: int = 1
    expires: date | None = None


@dataclass(frozen=True)
class Shift:
    """Working days (1 Monday … 7 Sunday) and hours, local time; end before start: overnight."""

    days: frozenset[int]
    start: str = "00:00"
    end: str = "24:00"

    def covers(self, moment: datetime) -> bool:
        local = moment.astimezone(LOCAL_TIME)
        clock = local.strftime("%H:%M")
        if self.start <= self.end:
            return local.isoweekday() in self.days and self.start <= clock < self.end
        # Overnight: the evening belongs to today's shift, the early hours to yesterday's.
        if clock >= self.start:
            return local.isoweekday() in self.days
        yesterday = (local - timedelta(days=1)).isoweekday()
        return clock < self.end and yesterday in self.days


@dataclass(frozen=True)
class Candidate:
    """An engineer as dispatch sees them."""

    engineer_id: int
    code: str
    name: str
    outlet_id: int
    region: str
    skills: frozenset[str]
    lat: float | None
    lng: float | None
    state: str
    current_load: int
    max_load: int
    user_id: str = ""
    certificates: tuple[Certificate, ...] = ()
    shift: Shift | None = None
    leaves: tuple[tuple[date, date], ...] = ()

    def certificate(self, skill: str) -> Certificate | None:
        """The engineer's certificate in `skill` (the best level); a skill listed without a
        certificate counts as level 1 without expiry."""
        held = [c for c in self.certificates if normalize_skill(c.skill) == skill]
        if held:
            return max(held, key=lambda c: (c.level, c.expires or date.max))
        if skill in {normalize_skill(s) for s in self.skills}:
            return Certificate(skill)
        return None


@dataclass(frozen=True)
class Job:
    """What the order asks for: where, when, which skills, how urgent, for whom."""

    region: str
    lat: float
    lng: float
    skills: tuple[str, ...]
    at: datetime
    priority: int = 3
    levels: Mapping[str, int] = field(default_factory=dict)
    """The catalogue's number of levels per skill (missing: 1)."""

    @property
    def day(self) -> date:
        return self.at.astimezone(LOCAL_TIME).date()


@dataclass(frozen=True)
class Exclusion:
    code: str
    reason: str
    detail: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Scored:
    candidate: Candidate
    distance_km: float
    score: float
    parts: dict[str, float]


@dataclass(frozen=True)
class RungResult:
    """A rung's ranking: the qualified (best first) and the excluded with their reason."""

    rung: Rung
    ranked: list[Scored]
    excluded: list[Exclusion]
    beyond: int = 0
    """Engineers of the rung's regions the spatial index left out (too far, or without the
    skill), counted as too far without being looked at one by one."""

    def counts(self) -> dict[str, int]:
        counts = Counter(e.reason for e in self.excluded)
        if self.beyond:
            counts["too_far"] += self.beyond
        return dict(counts)


REASONS: dict[str, tuple[str, str]] = {
    "other_region": ("不在区域 {region}", "not in region {region}"),
    "declined": ("已拒绝本单", "declined this job"),
    "timed_out": ("未在时限内接单", "did not accept in time"),
    "no_certificate": ("缺少资质 {skills}", "no certificate in {skills_en}"),
    "certificate_expired": (
        "资质 {skill} 已于 {expires} 过期",
        "certificate in {skill_en} expired on {expires}",
    ),
    "level_too_low": (
        "资质 {skill} 等级 {level} 低于 {min_level}",
        "{skill_en} level {level} is below {min_level}",
    ),
    "state": ("状态 {state}", "state {state}"),
    "off_shift": ("不在班 ({start}-{end})", "off shift ({start}-{end})"),
    "on_leave": ("休假 {start} 至 {end}", "on leave {start} to {end}"),
    "full": ("已满负荷 {load}/{max}", "fully loaded {load}/{max}"),
    "no_position": ("没有位置", "no position"),
    "too_far": ("距离 {km} km 超过 {radius} km", "{km} km is beyond {radius} km"),
}


REASON_NAMES: dict[str, tuple[str, str]] = {
    "other_region": ("不在区域", "other region"),
    "declined": ("已拒单", "declined"),
    "timed_out": ("超时未接单", "did not accept in time"),
    "no_certificate": ("缺少资质", "no certificate"),
    "certificate_expired": ("资质过期", "certificate expired"),
    "level_too_low": ("资质等级不足", "level too low"),
    "state": ("状态不可用", "not available"),
    "off_shift": ("不在班", "off shift"),
    "on_leave": ("休假", "on leave"),
    "full": ("满负荷", "fully loaded"),
    "no_position": ("没有位置", "no position"),
    "too_far": ("超出半径", "beyond the radius"),
}


def reason_name(reason: str, lang: str = "zh") -> str:
    """A reason code's short name, for counts."""
    zh, en = REASON_NAMES.get(reason, (reason, reason))
    return en if lang == "en" else zh


def explain(reason: str, detail: Mapping[str, str], lang: str = "zh") -> str:
    """The words for an exclusion `reason` with its `detail`, in Chinese or English."""
    zh, en = REASONS.get(reason, (reason, reason))
    try:
        return (en if lang == "en" else zh).format(**detail)
    except (KeyError, IndexError):
        return reason


def km(value: float) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def _certificate_problem(c: Candidate, job: Job, min_level: int) -> Exclusion | None:
    missing: list[str] = []
    for skill in job.skills:
        cert = c.certificate(skill)
        if cert is None:
            missing.append(skill)
            continue
        names = {"skill": skill_label(skill), "skill_en": SKILL_LABELS_EN.get(skill, skill)}
        if cert.expires is not None and cert.expires < job.day:
            return Exclusion(
                c.code, "certificate_expired", {**names, "expires": cert.expires.isoformat()}
            )
        if cert.level < min_level:
            detail = {**names, "level": str(cert.level), "min_level": str(min_level)}
            return Exclusion(c.code, "level_too_low", detail)
    if missing:
        zh = "、".join(sorted(skill_label(m) for m in missing))
        en = ", ".join(sorted(SKILL_LABELS_EN.get(m, m) for m in missing))
        return Exclusion(c.code, "no_certificate", {"skills": zh, "skills_en": en})
    return None


def _availability_problem(c: Candidate, job: Job, policy: Policy) -> Exclusion | None:
    if c.state != "available":
        return Exclusion(c.code, "state", {"state": c.state})
    shift = c.shift
    if policy.filters.shift and shift is not None and not shift.covers(job.at):
        return Exclusion(c.code, "off_shift", {"start": shift.start, "end": shift.end})
    if policy.filters.leave:
        for start, end in c.leaves:
            if start <= job.day <= end:
                return Exclusion(
                    c.code, "on_leave", {"start": start.isoformat(), "end": end.isoformat()}
                )
    if policy.filters.capacity and c.current_load >= c.max_load:
        return Exclusion(c.code, "full", {"load": str(c.current_load), "max": str(c.max_load)})
    return None


def exclusion(
    c: Candidate,
    job: Job,
    policy: Policy,
    *,
    regions: frozenset[str] | None,
    radius_km: Decimal | None,
    refused: Mapping[int, str],
) -> tuple[Exclusion | None, float]:
    """Why `c` cannot take `job` on this rung (None: they can), and their distance in km."""
    if regions is not None and c.region not in regions:
        return Exclusion(c.code, "other_region", {"region": job.region}), 0.0
    if c.engineer_id in refused:
        return Exclusion(c.code, refused[c.engineer_id]), 0.0
    if policy.filters.certificate:
        problem = _certificate_problem(c, job, policy.min_level)
        if problem is not None:
            return problem, 0.0
    problem = _availability_problem(c, job, policy)
    if problem is not None:
        return problem, 0.0
    if c.lat is None or c.lng is None:
        return Exclusion(c.code, "no_position"), 0.0
    distance = haversine_km(job.lat, job.lng, c.lat, c.lng)
    if radius_km is not None and Decimal(str(distance)) > radius_km:
        detail = {"km": str(km(distance)), "radius": str(radius_km)}
        return Exclusion(c.code, "too_far", detail), distance
    return None, distance


def score_parts(
    c: Candidate, distance: float, job: Job, reach_km: float, first_time_fix: float
) -> dict[str, float]:
    """Each part of the score, between 0 (worst) and 1 (best)."""
    near = max(0.0, 1.0 - distance / reach_km)
    urgency = min(max(job.priority, 1), MAX_PRIORITY)
    levels = [
        (cert.level if (cert := c.certificate(s)) else 0) / max(1, job.levels.get(s, 1))
        for s in job.skills
    ]
    return {
        "distance": round(near, 4),
        "load": round(1.0 - min(1.0, c.current_load / c.max_load), 4),
        "skill_level": round(min(1.0, sum(levels) / len(levels)) if levels else 1.0, 4),
        "first_time_fix": round(first_time_fix, 4),
        # Priority 1 is the most urgent: an urgent job weighs nearness more.
        "urgency": round(near * (MAX_PRIORITY + 1 - urgency) / MAX_PRIORITY, 4),
    }


def rank_rung(
    candidates: Iterable[Candidate],
    job: Job,
    policy: Policy,
    rung: Rung,
    *,
    regions: frozenset[str] | None,
    refused: Mapping[int, str] | None = None,
    first_time_fix: Mapping[int, float] | None = None,
) -> RungResult:
    """Ranks the engineers of one rung: the qualified best first (score, then distance,
    then load, then code, so the choice is reproducible) and the excluded with why.

    Args:
        regions: the region codes this rung looks in (None: any).
        refused: engineers who declined or let the offer lapse, with that reason.
        first_time_fix: each engineer's first-time-fix rate with this customer.
    """
    refused = refused or {}
    history = first_time_fix or {}
    reach = float(rung.radius_km) if rung.radius_km is not None else UNBOUNDED_KM
    weights = policy.weights.model_dump()
    ranked: list[Scored] = []
    excluded: list[Exclusion] = []
    for c in candidates:
        problem, distance = exclusion(
            c, job, policy, regions=regions, radius_km=rung.radius_km, refused=refused
        )
        if problem is not None:
            excluded.append(problem)
            continue
        parts = score_parts(c, distance, job, reach, history.get(c.engineer_id, 0.0))
        score = round(sum(weights[k] * v for k, v in parts.items()), 4)
        ranked.append(Scored(c, distance, score, parts))
    ranked.sort(
        key=lambda s: (
            -s.score,
            s.distance_km,
            s.candidate.current_load / s.candidate.max_load,
            s.candidate.code,
        )
    )
    return RungResult(rung=rung, ranked=ranked, excluded=excluded)


def first_time_fix_rates(history: Sequence[tuple[str, int]]) -> dict[int, float]:
    """Each engineer's first-time-fix rate from the customer's past final dispatches, given
    as (order id, engineer id) in dispatch order: an order fixed first time had one."""
    by_order: dict[str, list[int]] = {}
    for order_id, engineer_id in history:
        by_order.setdefault(order_id, []).append(engineer_id)
    served: Counter[int] = Counter()
    fixed: Counter[int] = Counter()
    for engineers in by_order.values():
        served[engineers[0]] += 1
        if len(engineers) == 1:
            fixed[engineers[0]] += 1
    return {engineer: fixed[engineer] / count for engineer, count in served.items()}


def reason_text(best: Scored, policy: Policy, rung_index: int, skills: Sequence[str]) -> str:
    """Why `best` was chosen, in the dispatcher's words."""
    c, distance = best.candidate, km(best.distance_km)
    skill_text = "、".join(skill_label(s) for s in skills) if skills else "不限资质"
    w = policy.weights
    others = w.skill_level + w.first_time_fix + w.urgency
    if w.load > 0 and w.distance == 0 and others == 0:
        text = (
            f"负载最低的持证工程师 {c.name} ({skill_text}), "
            f"当前 {c.current_load}/{c.max_load} 单, {distance} km"
        )
    elif others == 0 and w.load == 0:
        text = f"最近的持证工程师 {c.name} ({skill_text}), {distance} km"
    else:
        text = f"得分最高的持证工程师 {c.name} ({skill_text}), {distance} km, 得分 {best.score}"
    if rung_index > 0:
        text += f" (第 {rung_index + 1} 级: {policy.ladder[rung_index].name})"
    return text


def candidates_listed(
    ranked: Sequence[Scored], excluded: Sequence[Exclusion], top_n: int
) -> list[dict[str, object]]:
    """The best `top_n` with their score parts and up to twenty excluded with the reason."""
    return [
        {
            "code": s.candidate.code,
            "name": s.candidate.name,
            "distance_km": str(km(s.distance_km)),
            "load": s.candidate.current_load,
            "score": s.score,
            "parts": s.parts,
            "rank": i + 1,
        }
        for i, s in enumerate(ranked[:top_n])
    ] + [
        {
            "code": e.code,
            "reason": e.reason,
            "detail": e.detail,
            "rejected": explain(e.reason, e.detail),
        }
        for e in excluded[:20]
    ]
