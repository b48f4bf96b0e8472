"""Org use cases: units, users, API keys, who the caller is and whom a message reaches."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Select
from sqlalchemy.orm import Session

from servflow.org import repo
from servflow.org.models import ApiKey, AppUser, OrgUnit
from servflow.org.rules import PARENT_KIND, ROLES, Principal, check_parent, unit_path
from servflow.platform.errors import Forbidden, Invalid
from servflow.platform.geo import haversine_km
from servflow.platform.scope import in_scope
from servflow.platform.security import hash_api_key, hash_password, new_api_key, verify_password

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
    """The active user with this username and password, or None."""
    user = repo.get_user_by_username(session, username=username)
    if user is None or not user.is_active or not verify_password(password, user.password_hash):
        return None
    return user


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


def check_in_scope(path: str, scope_path: str | None, *, field: str) -> None:
    """Raises Forbidden naming `field` unless the unit at `path` lies within `scope_path`."""
    if not visible(path, scope_path):
        message = f"is outside your scope ({scope_path})"
        raise Forbidden(f"{field}: {message}", errors={field: message})


def path_of_unit(session: Session, *, unit_id: int) -> str:
    """The path of the unit `unit_id` ("" when there is none)."""
    unit = repo.get_unit(session, unit_id=unit_id)
    return unit.path if unit else ""


def unit_ids_in_scope(*, scope_path: str | None) -> Select[tuple[int]] | None:
    """SQL for the ids of the units within `scope_path`, for another domain to filter its rows
    with `column.in_(...)`; None when there is nothing to filter (HQ)."""
    return None if scope_path is None else repo.unit_ids_query(scope_path=scope_path)


def _refuse(field: str, message: str) -> Invalid:
    return Invalid(f"{field}: {message}", errors={field: message})


def region_in_scope(session: Session, *, code_or_name: str, scope_path: str | None) -> OrgUnit:
    """The region named by code or name, which must lie within `scope_path`.

    Raises:
        Invalid: no such region (field `region`).
        Forbidden: the region is outside the scope.
    """
    region = repo.find_region(session, code_or_name=code_or_name)
    if region is None:
        raise _refuse("region", f"no region '{code_or_name}'")
    check_in_scope(region.path, scope_path, field="region")
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
        Forbidden: the parent is outside `scope_path`.
    """
    if kind not in OUTLET_KINDS:
        raise _refuse("kind", f"must be one of {', '.join(OUTLET_KINDS)}")
    above = repo.get_unit_by_code(session, code=parent)
    if above is None:
        raise _refuse("parent", f"no org unit '{parent}'")
    expected = PARENT_KIND[kind]
    if above.kind != expected:
        raise _refuse("parent", f"a {kind} must sit under a {expected}, not a {above.kind}")
    check_in_scope(above.path, scope_path, field="parent")
    unit = repo.get_unit_by_code(session, code=code)
    if unit is None:
        return create_unit(
            session, kind=kind, code=code, name=name, parent=above, city=city, lat=lat, lng=lng
        )
    if unit.kind != kind or unit.parent_id != above.id:
        raise _refuse("code", f"'{code}' exists already as a {unit.kind} elsewhere")
    unit.name, unit.city, unit.lat, unit.lng = name, city, lat, lng
    session.flush()
    return unit
