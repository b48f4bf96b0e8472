"""Choosing an engineer for a job: pure functions, no database, no Temporal."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

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
_SKILL_ALIASES = {label: code for code, label in SKILL_LABELS.items()} | {
    "smart-lock": "smart_lock"
}


def normalize_skill(skill: str) -> str:
    """A skill code from a code, a hyphenated code or its Chinese label ("制冷")."""
    text = skill.strip()
    return _SKILL_ALIASES.get(text, _SKILL_ALIASES.get(text.lower(), text.lower()))


def skill_label(skill: str) -> str:
    code = normalize_skill(skill)
    return SKILL_LABELS.get(code, code)


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


@dataclass(frozen=True)
class Rejection:
    code: str
    why: str


@dataclass(frozen=True)
class Choice:
    candidate: Candidate
    distance_km: Decimal
    score: float
    reason: str
    considered: list[dict[str, object]] = field(default_factory=list)


Strategy = Literal["nearest", "least_loaded"]


def _km(value: float) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def filter_candidates(
    candidates: Iterable[Candidate],
    *,
    region: str,
    skills: Sequence[str],
    lat: float,
    lng: float,
    radius_km: Decimal | None,
    cross_region: bool,
) -> tuple[list[tuple[Candidate, float]], list[Rejection]]:
    """Keeps engineers in the region, holding every skill, available, with room, in range.

    Returns:
        The qualified candidates with their distance in km, and why each other was dropped.
    """
    required = {normalize_skill(s) for s in skills}
    kept: list[tuple[Candidate, float]] = []
    rejected: list[Rejection] = []
    for c in candidates:
        if not cross_region and c.region != region:
            rejected.append(Rejection(c.code, f"不在区域 {region}"))
            continue
        missing = required - {normalize_skill(s) for s in c.skills}
        if missing:
            labels = "、".join(sorted(skill_label(m) for m in missing))
            rejected.append(Rejection(c.code, f"缺少资质 {labels}"))
            continue
        if c.state != "available":
            rejected.append(Rejection(c.code, f"状态 {c.state}"))
            continue
        if c.current_load >= c.max_load:
            rejected.append(Rejection(c.code, f"已满负荷 {c.current_load}/{c.max_load}"))
            continue
        if c.lat is None or c.lng is None:
            rejected.append(Rejection(c.code, "没有位置"))
            continue
        distance = haversine_km(lat, lng, c.lat, c.lng)
        if radius_km is not None and Decimal(str(distance)) > radius_km:
            rejected.append(Rejection(c.code, f"距离 {_km(distance)} km 超过 {radius_km} km"))
            continue
        kept.append((c, distance))
    return kept, rejected


def choose_engineer(
    candidates: Iterable[Candidate],
    *,
    region: str,
    skills: Sequence[str],
    lat: float,
    lng: float,
    radius_km: Decimal | None = None,
    strategy: Strategy = "nearest",
    cross_region: bool = False,
) -> Choice | None:
    """Picks one engineer, or None when nobody qualifies.

    `nearest` ranks by distance, then load, then code; `least_loaded` by load ratio, then
    distance, then code. Ties always break the same way, so the choice is reproducible.
    """
    kept, rejected = filter_candidates(
        candidates,
        region=region,
        skills=skills,
        lat=lat,
        lng=lng,
        radius_km=radius_km,
        cross_region=cross_region,
    )
    if not kept:
        return None

    ordered = sorted(kept, key=lambda item: _rank(item, strategy))
    best, distance = ordered[0]
    reason, score = _reason(best, distance, strategy, skills)
    return Choice(
        candidate=best,
        distance_km=_km(distance),
        score=score,
        reason=reason,
        considered=_considered(ordered, rejected),
    )


def _rank(item: tuple[Candidate, float], strategy: Strategy) -> tuple[float, float, str]:
    c, distance = item
    ratio = c.current_load / c.max_load
    if strategy == "least_loaded":
        return (ratio, distance, c.code)
    return (distance, ratio, c.code)


def _reason(
    best: Candidate, distance: float, strategy: Strategy, skills: Sequence[str]
) -> tuple[str, float]:
    """Why `best` was chosen, in the dispatcher's words, and the score it was chosen by."""
    km = _km(distance)
    skill_text = "、".join(skill_label(s) for s in skills) if skills else "不限资质"
    if strategy == "least_loaded":
        reason = (
            f"负载最低的持证工程师 {best.name} ({skill_text}), "
            f"当前 {best.current_load}/{best.max_load} 单, {km} km"
        )
        return reason, best.current_load / best.max_load
    return f"最近的持证工程师 {best.name} ({skill_text}), {km} km", distance


def _considered(
    ordered: list[tuple[Candidate, float]], rejected: list[Rejection]
) -> list[dict[str, object]]:
    """The ten best candidates and up to twenty refused ones, for the decision's record."""
    return [
        {
            "code": c.code,
            "name": c.name,
            "distance_km": str(_km(d)),
            "load": c.current_load,
            "rank": i + 1,
        }
        for i, (c, d) in enumerate(ordered[:10])
    ] + [{"code": r.code, "rejected": r.why} for r in rejected[:20]]
