"""Users, roles, scope and API keys."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from servflow.org.models import ROLES, ApiKey, AppUser, OrgUnit
from servflow.platform.security import hash_api_key, hash_password, new_api_key, verify_password


def get_user(session: Session, *, user_id: int) -> AppUser | None:
    return session.get(AppUser, user_id, options=[joinedload(AppUser.org_unit)])


def get_user_by_username(session: Session, *, username: str) -> AppUser | None:
    return session.scalar(
        select(AppUser).options(joinedload(AppUser.org_unit)).where(AppUser.username == username)
    )


def authenticate(session: Session, *, username: str, password: str) -> AppUser | None:
    """The active user with this username and password, or None."""
    user = get_user_by_username(session, username=username)
    if user is None or not user.is_active or not verify_password(password, user.password_hash):
        return None
    return user


def user_by_api_key(session: Session, *, key: str) -> AppUser | None:
    """The active user owning the unrevoked API key `key`, or None."""
    api_key = session.scalar(
        select(ApiKey)
        .options(joinedload(ApiKey.user).joinedload(AppUser.org_unit))
        .where(ApiKey.key_hash == hash_api_key(key), ApiKey.revoked_at.is_(None))
    )
    if api_key is None or not api_key.user.is_active:
        return None
    return api_key.user


def scope_path(user: AppUser) -> str:
    """The org path a user may see ("" when the user has no scope)."""
    return user.org_unit.path if user.org_unit is not None else ""


def create_user(
    session: Session,
    *,
    username: str,
    password: str | None = None,
    password_hash: str | None = None,
    display_name: str = "",
    roles: list[str],
    org_unit: OrgUnit | None = None,
) -> AppUser:
    """Adds a user; give `password` or an already computed `password_hash`.

    Raises:
        ValueError: an unknown role or no password.
    """
    unknown = sorted(set(roles) - set(ROLES))
    if unknown:
        raise ValueError(f"unknown roles: {', '.join(unknown)}")
    if password_hash is None:
        if not password:
            raise ValueError("a user needs a password")
        password_hash = hash_password(password)
    user = AppUser(
        username=username,
        password_hash=password_hash,
        display_name=display_name or username,
        roles=list(roles),
        org_unit=org_unit,
    )
    session.add(user)
    session.flush()
    return user


def create_api_key(
    session: Session, *, user: AppUser, name: str = "", key: str | None = None
) -> tuple[ApiKey, str]:
    """Issues an API key for `user`.

    Returns:
        The stored row and the plaintext key (shown once; only its hash is kept).
    """
    key = key or new_api_key()
    row = ApiKey(user=user, name=name, prefix=key[:12], key_hash=hash_api_key(key))
    session.add(row)
    session.flush()
    return row, key
