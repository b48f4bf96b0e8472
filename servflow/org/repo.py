"""Queries of the org tree, users and API keys."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import Select, delete, func, or_, select, update
from sqlalchemy.orm import Session, joinedload

from servflow.org.models import ApiKey, AppUser, OrgUnit, RefreshToken, RevokedToken
from servflow.platform.scope import region_code, region_path, under


def get_unit(session: Session, *, unit_id: int) -> OrgUnit | None:
    return session.get(OrgUnit, unit_id)


def get_unit_by_code(session: Session, *, code: str) -> OrgUnit | None:
    return session.scalar(select(OrgUnit).where(OrgUnit.code == code))


def get_unit_by_path(session: Session, *, path: str) -> OrgUnit | None:
    return session.scalar(select(OrgUnit).where(OrgUnit.path == path))


def get_hq(session: Session) -> OrgUnit | None:
    return session.scalar(select(OrgUnit).where(OrgUnit.kind == "hq"))


def find_region(session: Session, *, code_or_name: str) -> OrgUnit | None:
    """A region by its code ("huabei") or its name ("华北")."""
    return session.scalar(
        select(OrgUnit).where(
            OrgUnit.kind == "region",
            or_(OrgUnit.code == code_or_name, OrgUnit.name == code_or_name),
        )
    )


def region_of(session: Session, *, unit: OrgUnit) -> OrgUnit | None:
    """The region above (or at) `unit`, read from its path."""
    if not region_code(unit.path):
        return None  # HQ: no region above it
    return get_unit_by_path(session, path=region_path(unit.path))


def list_units(
    session: Session, *, kind: str | None = None, under_path: str | None = None
) -> list[OrgUnit]:
    query = select(OrgUnit).order_by(OrgUnit.path)
    if kind:
        query = query.where(OrgUnit.kind == kind)
    if under_path:
        query = query.where(under(OrgUnit.path, under_path))
    return list(session.scalars(query))


def located_outlets(session: Session) -> list[OrgUnit]:
    """Outlets with coordinates."""
    return list(
        session.scalars(select(OrgUnit).where(OrgUnit.kind == "outlet", OrgUnit.lat.is_not(None)))
    )


def get_user(session: Session, *, user_id: int) -> AppUser | None:
    return session.get(AppUser, user_id, options=[joinedload(AppUser.org_unit)])


def get_user_by_username(session: Session, *, username: str) -> AppUser | None:
    return session.scalar(
        select(AppUser).options(joinedload(AppUser.org_unit)).where(AppUser.username == username)
    )


def active_users(session: Session) -> list[AppUser]:
    """Active users with their org unit loaded."""
    return list(
        session.scalars(
            select(AppUser).options(joinedload(AppUser.org_unit)).where(AppUser.is_active)
        )
    )


def get_api_key(session: Session, *, key_hash: str) -> ApiKey | None:
    """The unrevoked API key with this hash, with its user and their unit loaded."""
    return session.scalar(
        select(ApiKey)
        .options(joinedload(ApiKey.user).joinedload(AppUser.org_unit))
        .where(ApiKey.key_hash == key_hash, ApiKey.revoked_at.is_(None))
    )


def unit_ids_query(*, scope_path: str) -> Select[tuple[int]]:
    """SQL: the ids of the units at or under `scope_path`, for `column.in_(...)` elsewhere."""
    return select(OrgUnit.id).where(under(OrgUnit.path, scope_path))


def page_units(
    session: Session, *, kinds: Collection[str], scope_path: str | None, limit: int, offset: int
) -> tuple[list[OrgUnit], int]:
    """Units of `kinds` at or under `scope_path` (all when None) by path, and their count."""
    query = select(OrgUnit).where(OrgUnit.kind.in_(list(kinds))).order_by(OrgUnit.path)
    if scope_path is not None:
        query = query.where(under(OrgUnit.path, scope_path))
    count = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    return list(session.scalars(query.limit(limit).offset(offset))), count


# ---- accounts and tokens -------------------------------------------------------------------


def page_users(
    session: Session, *, scope_path: str | None, limit: int, offset: int
) -> tuple[list[AppUser], int]:
    """Users whose unit lies within `scope_path` (all when None) by username, and their
    count; a user without a unit is within HQ's scope only."""
    query = select(AppUser).options(joinedload(AppUser.org_unit)).order_by(AppUser.username)
    if scope_path is not None:
        query = query.join(AppUser.org_unit).where(under(OrgUnit.path, scope_path))
    count = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    return list(session.scalars(query.limit(limit).offset(offset))), count


def api_keys_of(session: Session, *, user_id: int) -> list[ApiKey]:
    return list(
        session.scalars(select(ApiKey).where(ApiKey.user_id == user_id).order_by(ApiKey.id))
    )


def get_api_key_by_id(session: Session, *, key_id: int) -> ApiKey | None:
    return session.get(
        ApiKey, key_id, options=[joinedload(ApiKey.user).joinedload(AppUser.org_unit)]
    )


def get_refresh_token(session: Session, *, token_hash: str) -> RefreshToken | None:
    return session.scalar(select(RefreshToken).where(RefreshToken.token_hash == token_hash))


def revoke_refresh_tokens(session: Session, *, user_id: int, at: datetime) -> None:
    """Revokes every live refresh token of the user."""
    session.execute(
        update(RefreshToken)
        .where(RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=at)
    )


def is_token_revoked(session: Session, *, jti: str) -> bool:
    return session.get(RevokedToken, jti) is not None


def purge_revoked_tokens(session: Session, *, before: datetime) -> None:
    """Forgets logged-out tokens that have expired anyway."""
    session.execute(delete(RevokedToken).where(RevokedToken.expires_at < before))
