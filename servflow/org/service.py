"""Org use cases: units, users, API keys, who the caller is and whom a message reaches."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Select
from sqlalchemy.orm import Session

from servflow.org import repo
from servflow.org.models import ApiKey, AppUser, OrgUnit, RefreshToken, RevokedToken
from servflow.org.rules import (
    PARENT_KIND,
    ROLES,
    Principal,
    account_scope,
    check_grant,
    check_parent,
    check_password,
    is_demo_api_key,
    is_demo_password,
    new_password,
    unit_path,
)
from servflow.platform.base import utcnow
from servflow.platform.errors import (
    Conflict,
    Forbidden,
    NotFound,
    Unauthorized,
    invalid_field,
)
from servflow.platform.geo import haversine_km
from servflow.platform.scope import in_scope
from servflow.platform.security import hash_api_key, hash_password, new_api_key, verify_password

# A bcrypt hash (cost 12, as hash_password's) of a password nobody has.
DUMMY_HASH = "$2b$12$sJ1Vlt2WbO1tbY7YCXdcVOKcU5omteYyaqYynOO3H8YCRT2iGAtFO"

# Re-exported reads other domains and the API use as they are.
get_unit = repo.get_unit
get_unit_by_code = repo.get_unit_by_code
find_region = repo.find_region
region_of = repo.region_of
list_units = repo.list_units
get_user = repo.get_user
get_user_by_username = repo.get_user_by_username


@dataclass(frozen=True)
class Units:
    """An order's region and outlet units (either may be unknown)."""

    region: OrgUnit | None = None
    outlet: OrgUnit | None = None

    @property
    def unit(self) -> OrgUnit | None:
        return self.outlet or self.region


def principal_of(user: AppUser, *, via_api_key: bool = False) -> Principal:
    return Principal(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        roles=tuple(user.roles),
        scope_path=user.org_unit.path if user.org_unit is not None else "",
        via_api_key=via_api_key,
        org_unit_id=user.org_unit_id,
    )


def authenticate(session: Session, *, username: str, password: str) -> AppUser | None:
    """The active user with this username and password, or None.

    An unknown or disabled user costs the same bcrypt check as a known one (against
    DUMMY_HASH), so the answer's timing does not tell which usernames exist.
    """
    user = repo.get_user_by_username(session, username=username)
    if user is None or not user.is_active:
        verify_password(password, DUMMY_HASH)
        return None
    return user if verify_password(password, user.password_hash) else None


def user_by_api_key(session: Session, *, key: str) -> AppUser | None:
    """The active user owning the unrevoked API key `key`, or None."""
    api_key = repo.get_api_key(session, key_hash=hash_api_key(key))
    if api_key is None or not api_key.user.is_active:
        return None
    return api_key.user


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


def create_unit(
    session: Session,
    *,
    kind: str,
    code: str,
    name: str,
    parent: OrgUnit | None = None,
    city: str = "",
    lat: float | None = None,
    lng: float | None = None,
) -> OrgUnit:
    """Adds a unit under `parent`; its path is the parent's path plus its code.

    Raises:
        ValueError: unknown kind, or a parent of the wrong kind.
    """
    check_parent(kind, parent.kind if parent else None)
    unit = OrgUnit(
        kind=kind,
        code=code,
        name=name,
        parent=parent,
        path=unit_path(parent.path if parent else None, code),
        city=city,
        lat=lat,
        lng=lng,
    )
    session.add(unit)
    session.flush()
    return unit


def units_of(session: Session, *, region: str, outlet: str) -> Units:
    """The units an order's context names (region by code or name, outlet by code)."""
    outlet_unit = repo.get_unit_by_code(session, code=outlet) if outlet else None
    region_unit = repo.find_region(session, code_or_name=region) if region else None
    if region_unit is None and outlet_unit is not None:
        region_unit = repo.region_of(session, unit=outlet_unit)
    return Units(region=region_unit, outlet=outlet_unit)


def path_of_context(session: Session, *, region: str, outlet: str) -> str:
    """The org path of an order known only from its workflow context (HQ's when unknown)."""
    unit = Units(
        outlet=repo.get_unit_by_code(session, code=outlet) if outlet else None,
        region=repo.find_region(session, code_or_name=region) if region else None,
    ).unit
    if unit is not None:
        return unit.path
    hq = repo.get_hq(session)
    return hq.path if hq else "/"


def nearest_outlet(session: Session, *, lat: float, lng: float) -> Units:
    """The outlet nearest to a point (and its region), or no units when none is located."""
    outlet = min(
        repo.located_outlets(session),
        key=lambda o: (haversine_km(lat, lng, o.lat or 0.0, o.lng or 0.0), o.code),
        default=None,
    )
    if outlet is None:
        return Units()
    return Units(region=repo.region_of(session, unit=outlet), outlet=outlet)


def usernames_with_roles(session: Session, *, roles: Iterable[str], scope_path: str) -> list[str]:
    """Active users holding one of `roles` whose scope covers the unit at `scope_path`."""
    wanted = set(roles)
    return sorted(
        user.username
        for user in repo.active_users(session)
        if wanted & set(user.roles)
        and user.org_unit is not None
        and in_scope(scope_path, user.org_unit.path)
    )


def unit_ids_under(session: Session, *, scope_path: str) -> list[int]:
    """Ids of the units at or under `scope_path`."""
    return [unit.id for unit in repo.list_units(session, under_path=scope_path)]


# ---- master data: outlets, and the scope checks of every master-data kind ------------------

OUTLET_KINDS = ("branch", "outlet")


def visible(path: str, scope_path: str | None) -> bool:
    """True when the unit at `path` lies within `scope_path` (None: HQ, everything)."""
    return scope_path is None or in_scope(path, scope_path)


def check_in_scope(path: str, scope_path: str | None, *, field: str, unknown: str) -> None:
    """Unless the unit at `path` lies within `scope_path`, raises exactly what a caller gets
    for a code that does not exist (`unknown`, naming `field`): what lies outside your scope
    is not yours to learn about, not even that it exists."""
    if not visible(path, scope_path):
        raise invalid_field(field, unknown)


def path_of_unit(session: Session, *, unit_id: int) -> str:
    """The path of the unit `unit_id` ("" when there is none)."""
    unit = repo.get_unit(session, unit_id=unit_id)
    return unit.path if unit else ""


def unit_ids_in_scope(*, scope_path: str | None) -> Select[tuple[int]] | None:
    """SQL for the ids of the units within `scope_path`, for another domain to filter its rows
    with `column.in_(...)`; None when there is nothing to filter (HQ)."""
    return None if scope_path is None else repo.unit_ids_query(scope_path=scope_path)


def region_in_scope(session: Session, *, code_or_name: str, scope_path: str | None) -> OrgUnit:
    """The region named by code or name, which must lie within `scope_path`.

    Raises:
        Invalid: no such region (field `region`).
        Invalid: the region is outside the scope (answered as if unknown).
    """
    region = repo.find_region(session, code_or_name=code_or_name)
    if region is None:
        raise invalid_field("region", f"no region '{code_or_name}'")
    check_in_scope(region.path, scope_path, field="region", unknown=f"no region '{code_or_name}'")
    return region


def find_outlet(session: Session, *, code: str, scope_path: str | None) -> OrgUnit | None:
    """The branch or outlet `code`, when it lies within `scope_path`."""
    unit = repo.get_unit_by_code(session, code=code)
    if unit is None or unit.kind not in OUTLET_KINDS or not visible(unit.path, scope_path):
        return None
    return unit


def page_outlets(
    session: Session, *, scope_path: str | None, limit: int, offset: int
) -> tuple[list[OrgUnit], int]:
    """Branches and outlets within `scope_path`, by path, and their count."""
    return repo.page_units(
        session, kinds=OUTLET_KINDS, scope_path=scope_path, limit=limit, offset=offset
    )


def save_outlet(
    session: Session,
    *,
    scope_path: str | None,
    kind: str,
    code: str,
    name: str,
    parent: str,
    city: str = "",
    lat: float | None = None,
    lng: float | None = None,
) -> OrgUnit:
    """Creates the branch or outlet `code` under the unit coded `parent`, or updates its name,
    city and location.

    Raises:
        Invalid: naming the field: a wrong kind, an unknown or unfit parent, or a code taken
            by a unit of another kind or place.
    """
    if kind not in OUTLET_KINDS:
        raise invalid_field("kind", f"must be one of {', '.join(OUTLET_KINDS)}")
    above = repo.get_unit_by_code(session, code=parent)
    if above is None:
        raise invalid_field("parent", f"no org unit '{parent}'")
    check_in_scope(above.path, scope_path, field="parent", unknown=f"no org unit '{parent}'")
    expected = PARENT_KIND[kind]
    if above.kind != expected:
        raise invalid_field("parent", f"a {kind} must sit under a {expected}, not a {above.kind}")
    unit = repo.get_unit_by_code(session, code=code)
    if unit is None:
        return create_unit(
            session, kind=kind, code=code, name=name, parent=above, city=city, lat=lat, lng=lng
        )
    if unit.kind != kind or unit.parent_id != above.id:
        raise invalid_field("code", f"'{code}' exists already as a {unit.kind} elsewhere")
    unit.name, unit.city, unit.lat, unit.lng = name, city, lat, lng
    session.flush()
    return unit


# ---- sign-in: passwords, API keys, refresh tokens, logout ----------------------------------

REFRESH_TTL = timedelta(days=14)
REFRESH_PREFIX = "sfr_"


def login(session: Session, *, username: str, password: str, demo: bool) -> AppUser:
    """The user signing in with `username` and `password`.

    Raises:
        Unauthorized: wrong credentials, or the published demo password outside the demo
            (refused for every username alike, so it tells nothing about who exists).
    """
    if not demo and is_demo_password(password):
        raise Unauthorized(
            "demo credentials work only in the demo (`make run`); ask an administrator for"
            " an account"
        )
    user = authenticate(session, username=username, password=password)
    if user is None:
        raise Unauthorized("wrong username or password")
    return user


def api_key_user(session: Session, *, key: str, demo: bool) -> AppUser:
    """The active owner of the live API key `key`.

    Raises:
        Unauthorized: an unknown or revoked key, or the published demo key outside the demo.
    """
    if not demo and is_demo_api_key(key):
        raise Unauthorized("demo credentials work only in the demo: the demo API key is refused")
    user = user_by_api_key(session, key=key)
    if user is None:
        raise Unauthorized("invalid or revoked API key (X-API-Key)")
    return user


def issue_refresh_token(session: Session, *, user_id: int, ttl: timedelta = REFRESH_TTL) -> str:
    """A new refresh token for the user (shown once; only its SHA-256 is kept)."""
    token = REFRESH_PREFIX + secrets.token_urlsafe(32)
    session.add(
        RefreshToken(user_id=user_id, token_hash=hash_api_key(token), expires_at=utcnow() + ttl)
    )
    session.flush()
    return token


@dataclass(frozen=True)
class Refreshed:
    """What a refresh token bought: the user and the next refresh token, or why not."""

    user: AppUser | None
    token: str = ""
    reason: str = ""


def rotate_refresh_token(session: Session, *, token: str) -> Refreshed:
    """Uses `token` once: revokes it and issues the next one. A revoked token presented
    again was copied, so every refresh token of its user is revoked (the caller commits
    that before refusing)."""
    row = repo.get_refresh_token(session, token_hash=hash_api_key(token))
    now = utcnow()
    if row is None or row.expires_at <= now:
        return Refreshed(None, reason="invalid or expired refresh token")
    if row.revoked_at is not None:
        repo.revoke_refresh_tokens(session, user_id=row.user_id, at=now)
        return Refreshed(
            None, reason="refresh token used twice: every session of this user is signed out"
        )
    user = repo.get_user(session, user_id=row.user_id)
    if user is None or not user.is_active:
        return Refreshed(None, reason="the token's user no longer exists or is disabled")
    row.revoked_at = now
    return Refreshed(user, issue_refresh_token(session, user_id=user.id))


def logout(
    session: Session, *, user_id: int, jti: str, expires_at: datetime, refresh_token: str = ""
) -> None:
    """Refuses the access token `jti` until it expires, and revokes the user's
    `refresh_token` when given."""
    now = utcnow()
    repo.purge_revoked_tokens(session, before=now)
    if not repo.is_token_revoked(session, jti=jti):
        session.add(RevokedToken(jti=jti, expires_at=expires_at))
    if refresh_token:
        row = repo.get_refresh_token(session, token_hash=hash_api_key(refresh_token))
        if row is not None and row.user_id == user_id and row.revoked_at is None:
            row.revoked_at = now
    session.flush()


token_revoked = repo.is_token_revoked


def _sign_out_everywhere(session: Session, user: AppUser) -> None:
    """Every token issued to `user` until now stops working."""
    now = utcnow()
    user.password_changed_at = now
    repo.revoke_refresh_tokens(session, user_id=user.id, at=now)
    session.flush()


def _set_password(session: Session, user: AppUser, password: str) -> None:
    user.password_hash = hash_password(password)
    _sign_out_everywhere(session, user)


# ---- accounts: who may manage whom is in rules (account_scope, check_grant) ---------------


def _unit_in(session: Session, *, code: str, scope: str | None) -> OrgUnit:
    unit = repo.get_unit_by_code(session, code=code)
    if unit is None:
        raise invalid_field("org_unit", f"no org unit '{code}'")
    check_in_scope(unit.path, scope, field="org_unit", unknown=f"no org unit '{code}'")
    return unit


def _managed_user(session: Session, *, actor: Principal, user_id: int) -> AppUser:
    """The user `actor` may manage.

    Raises:
        NotFound: no such user within the actor's scope (others' existence is not told).
        Forbidden: the user holds a role the actor may not manage.
    """
    scope = account_scope(actor)
    user = repo.get_user(session, user_id=user_id)
    if user is None or not visible(user.org_unit.path if user.org_unit else "", scope):
        raise NotFound(f"no user {user_id} within your scope")
    check_grant(actor, user.roles)
    return user


def _check_roles(actor: Principal, roles: list[str]) -> None:
    if not roles:
        raise invalid_field("roles", "give at least one role")
    check_grant(actor, roles)


def page_accounts(
    session: Session, *, actor: Principal, limit: int, offset: int
) -> tuple[list[AppUser], int]:
    """The users `actor` manages, by username, and their count."""
    return repo.page_users(session, scope_path=account_scope(actor), limit=limit, offset=offset)


def add_account(
    session: Session,
    *,
    actor: Principal,
    username: str,
    roles: list[str],
    org_unit: str,
    display_name: str = "",
    password: str | None = None,
) -> tuple[AppUser, str]:
    """Creates a user in the unit coded `org_unit`.

    Returns:
        The user, and the generated password when none was given ("" otherwise).

    Raises:
        Invalid, Forbidden, Conflict: naming the field (a role or unit beyond the actor,
            a weak password, a taken username).
    """
    scope = account_scope(actor)
    _check_roles(actor, roles)
    unit = _unit_in(session, code=org_unit, scope=scope)
    if repo.get_user_by_username(session, username=username) is not None:
        raise Conflict(f"username: '{username}' is taken", errors={"username": "is taken"})
    if password:
        check_password(password)
    generated = "" if password else new_password()
    user = create_user(
        session,
        username=username,
        password=password or generated,
        display_name=display_name,
        roles=roles,
        org_unit=unit,
    )
    return user, generated


def update_account(
    session: Session,
    *,
    actor: Principal,
    user_id: int,
    display_name: str | None = None,
    roles: list[str] | None = None,
    org_unit: str | None = None,
) -> AppUser:
    """Changes what is given of a user's display name, roles and unit."""
    user = _managed_user(session, actor=actor, user_id=user_id)
    if roles is not None:
        _check_roles(actor, roles)
        user.roles = list(roles)
    if org_unit is not None:
        user.org_unit = _unit_in(session, code=org_unit, scope=account_scope(actor))
    if display_name is not None:
        user.display_name = display_name
    session.flush()
    return user


def set_account_active(
    session: Session, *, actor: Principal, user_id: int, active: bool
) -> AppUser:
    """Disables (signing the user out everywhere) or enables a user; never oneself."""
    user = _managed_user(session, actor=actor, user_id=user_id)
    if user.id == actor.id:
        raise Conflict("you cannot disable or enable your own account")
    user.is_active = active
    if not active:
        _sign_out_everywhere(session, user)
    session.flush()
    return user


def reset_password(session: Session, *, actor: Principal, user_id: int) -> tuple[AppUser, str]:
    """Gives the user a new random password (returned, to show once) and signs them out."""
    user = _managed_user(session, actor=actor, user_id=user_id)
    password = new_password()
    _set_password(session, user, password)
    return user, password


def change_own_password(
    session: Session, *, user_id: int, old_password: str, new_password: str
) -> AppUser:
    """Sets the caller's password after checking the old one; every earlier token ends.

    Raises:
        Forbidden: the old password is wrong (field `old_password`).
        Invalid: the new one is weak (field `password`).
    """
    user = repo.get_user(session, user_id=user_id)
    if user is None or not user.is_active:
        raise Unauthorized("the user no longer exists or is disabled")
    if not verify_password(old_password, user.password_hash):
        raise Forbidden("old_password: is wrong", errors={"old_password": "is wrong"})
    check_password(new_password)
    _set_password(session, user, new_password)
    return user


def add_api_key(
    session: Session, *, actor: Principal, user_id: int, name: str = ""
) -> tuple[ApiKey, str]:
    """Issues a key for an api_client user; returns the row and the key (shown once)."""
    user = _managed_user(session, actor=actor, user_id=user_id)
    if "api_client" not in user.roles:
        raise invalid_field("user_id", "API keys are for users with the role api_client")
    return create_api_key(session, user=user, name=name)


def api_keys_of(session: Session, *, actor: Principal, user_id: int) -> list[ApiKey]:
    """The keys (live and revoked) of a user `actor` manages."""
    _managed_user(session, actor=actor, user_id=user_id)
    return repo.api_keys_of(session, user_id=user_id)


def revoke_api_key(session: Session, *, actor: Principal, key_id: int) -> ApiKey:
    """Revokes the key at once (it stays listed, with when it was revoked)."""
    row = repo.get_api_key_by_id(session, key_id=key_id)
    if row is None:
        raise NotFound(f"no API key {key_id}")
    _managed_user(session, actor=actor, user_id=row.user_id)
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        session.flush()
    return row


def api_key_issued(session: Session, *, user: AppUser, key: str) -> bool:
    """True when `key` was issued to `user`, whether revoked since or not (a revoked key
    still holds its hash, so it cannot be issued again)."""
    key_hash = hash_api_key(key)
    return any(row.key_hash == key_hash for row in repo.api_keys_of(session, user_id=user.id))


def users_by_username(session: Session) -> dict[str, AppUser]:
    """Every user (active or not) by username, read at once: loaders adding many users
    look them up here rather than one query per name."""
    _, total = repo.page_users(session, scope_path=None, limit=0, offset=0)
    users, _ = repo.page_users(session, scope_path=None, limit=total, offset=0)
    return {user.username: user for user in users}
