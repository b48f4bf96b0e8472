"""Dispatch use cases: choose the engineer for a job, and keep every engineer's open-job
count (this module is the one writer of `engineer.current_load`)."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from servflow.dispatch import areas, decide, repo
from servflow.dispatch.models import (
    DispatchDecision,
    DispatchPolicy,
    Engineer,
    RoutingRule,
    ServiceArea,
    Skill,
)
from servflow.dispatch.policies import parse_policy
from servflow.dispatch.rules import (
    SKILL_LABELS,
    SKILL_LABELS_EN,
    explain,
    normalize_skill,
    reason_name,
)
from servflow.org import service as org
from servflow.org.service import Units
from servflow.platform.base import utcnow
from servflow.platform.errors import invalid_field
from servflow.platform.scope import region_code

if TYPE_CHECKING:
    from servflow.org.models import OrgUnit

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


dispatch = decide.dispatch


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


def _leave(leave: dict[str, Any]) -> dict[str, str]:
    start, end = leave.get("from", leave.get("start")), leave.get("to", leave.get("end"))
    return {"from": str(start), "to": str(end)}


def _outlet_in_scope(session: Session, *, outlet: str, scope_path: str | None) -> OrgUnit:
    """The outlet `outlet`; Invalid on `outlet` when unknown, no outlet or out of scope."""
    unit = org.get_unit_by_code(session, code=outlet)
    if unit is None or unit.kind != "outlet":
        raise invalid_field("outlet", f"no outlet '{outlet}'")
    org.check_in_scope(unit.path, scope_path, field="outlet", unknown=f"no outlet '{outlet}'")
    return unit


def _engineer_to_save(session: Session, *, code: str, scope_path: str | None) -> Engineer:
    """The engineer `code` (checked in scope), or a new one with no open jobs, added."""
    engineer = repo.get_engineer_by_code(session, code=code)
    if engineer is None:
        engineer = Engineer(code=code, current_load=0)
        session.add(engineer)
    else:
        org.check_in_scope(
            engineer.outlet.path, scope_path, field="code", unknown=f"no engineer '{code}'"
        )
    return engineer


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
    certificates: list[dict[str, Any]] | None = None,
    shift: dict[str, Any] | None = None,
    leaves: list[dict[str, Any]] | None = None,
) -> Engineer:
    """Creates the engineer `code` (with no open jobs) or updates them; `username` links
    their login, when given.

    Raises:
        Invalid: naming the field: an unknown outlet, or a login that is no engineer's or
            another engineer's.
        Invalid: the outlet, or the engineer's current outlet, is outside `scope_path`
            (answered as if unknown).
    """
    unit = _outlet_in_scope(session, outlet=outlet, scope_path=scope_path)
    skill_codes, checked = check_certificates(
        session, skills=skills, certificates=certificates or []
    )
    user_id = _login_of(session, username=username, code=code)
    engineer = _engineer_to_save(session, code=code, scope_path=scope_path)
    if user_id is not None:
        engineer.user_id = user_id
    engineer.name, engineer.phone, engineer.outlet_id = name, phone, unit.id
    engineer.skills, engineer.lat, engineer.lng = skill_codes, lat, lng
    engineer.state, engineer.max_load = state, max_load
    engineer.certificates, engineer.shift = checked, dict(shift or {})
    engineer.leaves = [_leave(leave) for leave in leaves or []]
    engineer.updated_at = utcnow()
    session.flush()
    return engineer


# ---- policies, explanations, the engineer list for dispatchers ------------------------------


def save_policy(session: Session, *, body: dict[str, Any], user: str) -> DispatchPolicy:
    """Stores `body` as the next version of its policy key.

    Raises:
        Invalid: naming each wrong field (`body.<path>`).
    """
    policy = parse_policy(body)
    stored = DispatchPolicy(
        key=policy.key,
        version=repo.next_policy_version(session, key=policy.key),
        region=policy.region,
        pipeline=policy.pipeline,
        body=policy.model_dump(mode="json"),
        created_by=user,
    )
    session.add(stored)
    session.flush()
    return stored


list_policies = repo.list_policies


def explained(decision: DispatchDecision, lang: str) -> dict[str, Any]:
    """A decision as the API shows it: its rung, status, the top candidates with score parts
    and the excluded with the reason in `lang` (zh or en), counts per reason per rung."""
    body = decision.explanation or {}
    candidates = [
        {**c, "rejected": explain(str(c["reason"]), c.get("detail") or {}, lang)}
        if "reason" in c
        else c
        for c in body.get("candidates", decision.candidates)
    ]
    rungs = [
        {
            **r,
            "excluded_text": {
                reason_name(reason, lang): n for reason, n in (r.get("excluded") or {}).items()
            },
        }
        for r in body.get("rungs", [])
    ]
    return {
        "node_id": decision.node_id,
        "visit": decision.visit,
        "status": decision.status,
        "rung": decision.rung,
        "policy": body.get(
            "policy", {"key": decision.policy_key, "version": decision.policy_version}
        ),
        "engineer": decision.engineer.code if decision.engineer else None,
        "distance_km": str(decision.distance_km) if decision.distance_km is not None else None,
        "score": decision.score,
        "reason": decision.reason,
        "cross_region": bool(body.get("cross_region", False)),
        "queue": body.get("queue", "engineers"),
        "rungs": rungs,
        "candidates": candidates,
        "declined": body.get("declined", []),
        "answer": body.get("answer"),
        "created_at": decision.created_at,
    }


def decisions_explained(session: Session, *, order_id: str, lang: str) -> list[dict[str, Any]]:
    return [explained(d, lang) for d in repo.decisions_of(session, order_id=order_id)]


def engineers_for_dispatch(
    session: Session,
    *,
    scope_path: str | None,
    state: str | None,
    skill: str | None,
    limit: int,
    offset: int,
) -> tuple[list[dict[str, Any]], int]:
    """Engineers in scope with their load, position, state and certificates."""
    rows, count = repo.page_engineers_with(
        session,
        outlet_ids=org.unit_ids_in_scope(scope_path=scope_path),
        state=state,
        skill=normalize_skill(skill) if skill else None,
        limit=limit,
        offset=offset,
    )
    return [
        {
            "code": e.code,
            "name": e.name,
            "outlet": e.outlet.code,
            "region": region_code(e.outlet.path),
            "state": e.state,
            "current_load": e.current_load,
            "max_load": e.max_load,
            "lat": e.lat,
            "lng": e.lng,
            "skills": list(e.skills),
            "certificates": list(e.certificates or []),
            "username": e.user.username if e.user else "",
        }
        for e in rows
    ], count


# ---- the skill catalogue -----------------------------------------------------------------------


BUILT_IN_LEVELS = 3
"""Levels of a built-in skill (初级, 中级, 高级) until the catalogue stores it otherwise."""


def skill_catalogue(session: Session) -> dict[str, tuple[str, str, int]]:
    """Skill code → (name zh, name en, levels): the built-in skills and the stored ones."""
    built_in = {
        code: (SKILL_LABELS[code], SKILL_LABELS_EN.get(code, code), BUILT_IN_LEVELS)
        for code in SKILL_LABELS
    }
    stored = {s.code: (s.name_zh, s.name_en, s.levels) for s in repo.list_skills(session)}
    return built_in | stored


def save_skill(
    session: Session,
    *,
    code: str,
    name_zh: str,
    name_en: str,
    levels: int = 1,
    validity_days: int | None = None,
) -> Skill:
    skill = repo.get_skill(session, code=code)
    if skill is None:
        skill = Skill(code=code)
        session.add(skill)
    skill.name_zh, skill.name_en, skill.levels = name_zh, name_en, levels
    skill.validity_days = validity_days
    session.flush()
    return skill


def check_certificates(
    session: Session, *, skills: list[str], certificates: list[dict[str, Any]]
) -> tuple[list[str], list[dict[str, Any]]]:
    """The engineer's skills and certificates checked against the catalogue (codes known,
    levels within the skill's, expiry a date), normalised.

    Raises:
        Invalid: naming the field (`skills`, `certificates[i].skill|level|expires`).
    """
    catalogue = skill_catalogue(session)
    codes = []
    for s in skills:
        code = normalize_skill(s)
        if code not in catalogue:
            raise invalid_field("skills", f"no skill '{s}' in the skill catalogue")
        codes.append(code)
    checked = []
    for i, cert in enumerate(certificates):
        code = normalize_skill(str(cert.get("skill", "")))
        if code not in catalogue:
            raise invalid_field(f"certificates[{i}].skill", f"no skill '{cert.get('skill')}'")
        level = cert.get("level", 1)
        if not isinstance(level, int) or not 1 <= level <= catalogue[code][2]:
            raise invalid_field(
                f"certificates[{i}].level", f"level must be 1 to {catalogue[code][2]}"
            )
        expires = cert.get("expires")
        if expires not in (None, ""):
            try:
                expires = date.fromisoformat(str(expires)).isoformat()
            except ValueError:
                raise invalid_field(
                    f"certificates[{i}].expires", "not a date (YYYY-MM-DD)"
                ) from None
        checked.append({"skill": code, "level": level, "expires": expires or None})
    return codes, checked


# ---- service areas (geofences) ------------------------------------------------------------


def outlet_for(session: Session, *, lat: float, lng: float) -> Units:
    """The outlet whose service area holds the point, else the nearest outlet."""
    inside = areas.containing(
        [(a.outlet_id, a.geometry) for a in repo.service_areas(session)], lat, lng
    )
    if inside is not None:
        outlet = org.get_unit(session, unit_id=inside)
        if outlet is not None:
            return Units(region=org.region_of(session, unit=outlet), outlet=outlet)
    return org.nearest_outlet(session, lat=lat, lng=lng)


def export_areas(session: Session, *, scope_path: str | None) -> dict[str, Any]:
    """The service areas in scope as a GeoJSON FeatureCollection (`properties.outlet`)."""
    return areas.feature_collection(
        [
            (a.outlet.code, a.outlet.name, a.geometry)
            for a in repo.service_areas(session)
            if org.visible(a.outlet.path, scope_path)
        ]
    )


def import_areas(session: Session, *, collection: Any, scope_path: str | None) -> int:
    """Sets the outlets' service areas from a GeoJSON FeatureCollection, all or nothing.

    Raises:
        Invalid: naming the feature (`features[i].geometry`, `features[i].properties.outlet`).
    """
    features = areas.parse_features(collection)
    for i, (code, geometry) in enumerate(features):
        unit = org.get_unit_by_code(session, code=code)
        if unit is None or unit.kind != "outlet":
            raise invalid_field(f"features[{i}].properties.outlet", f"no outlet '{code}'")
        org.check_in_scope(
            unit.path,
            scope_path,
            field=f"features[{i}].properties.outlet",
            unknown=f"no outlet '{code}'",
        )
        area = repo.service_area_of(session, outlet_id=unit.id)
        if area is None:
            session.add(ServiceArea(outlet_id=unit.id, geometry=geometry))
        else:
            area.geometry, area.updated_at = geometry, utcnow()
    session.flush()
    return len(features)


# ---- routing rules: which queue a report goes to ------------------------------------------------

QUEUES = ("engineers", "logistics", "customer_care")


def routing_rules(session: Session) -> list[RoutingRule]:
    return repo.list_rules(session)


def set_routing_rules(session: Session, *, rules: list[dict[str, Any]]) -> list[RoutingRule]:
    """Replaces the routing rules (first match wins, in the order given).

    Raises:
        Invalid: naming the rule's field (`rules[i].queue`).
    """
    for i, rule in enumerate(rules):
        if rule.get("queue") not in QUEUES:
            raise invalid_field(f"rules[{i}].queue", f"one of {', '.join(QUEUES)}")
    repo.delete_rules(session)
    stored = [
        RoutingRule(
            position=i,
            channel=str(rule.get("channel", "")),
            service_type=str(rule.get("service_type", "")),
            up_to_priority=int(rule.get("up_to_priority", 0)),
            queue=str(rule["queue"]),
            active=True,
        )
        for i, rule in enumerate(rules)
    ]
    session.add_all(stored)
    session.flush()
    return stored
