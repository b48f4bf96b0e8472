"""Dispatch use cases: choose the engineer for a job, and keep every engineer's open-job
count (this module is the one writer of `engineer.current_load`)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from servflow.dispatch import decide, repo
from servflow.dispatch.models import Engineer
from servflow.org import service as org
from servflow.platform.errors import invalid_field

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
