"""The org tree: HQ → region → branch → outlet, and scope checks by path prefix."""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from servflow.org.models import OrgUnit

KINDS = ("hq", "region", "branch", "outlet")
_PARENT_KIND = {"region": "hq", "branch": "region", "outlet": "branch"}


def in_scope(path: str, scope_path: str) -> bool:
    """True when the unit at `path` lies at or under the unit at `scope_path`."""
    if not scope_path:
        return False
    return path == scope_path or path.startswith(scope_path.rstrip("/") + "/")


def get_unit(session: Session, *, unit_id: int) -> OrgUnit | None:
    return session.get(OrgUnit, unit_id)


def get_unit_by_code(session: Session, *, code: str) -> OrgUnit | None:
    return session.scalar(select(OrgUnit).where(OrgUnit.code == code))


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
    parts = unit.path.strip("/").split("/")
    if len(parts) < 2:
        return None
    return session.scalar(select(OrgUnit).where(OrgUnit.path == "/" + "/".join(parts[:2])))


def list_units(
    session: Session, *, kind: str | None = None, under_path: str | None = None
) -> list[OrgUnit]:
    query = select(OrgUnit).order_by(OrgUnit.path)
    if kind:
        query = query.where(OrgUnit.kind == kind)
    if under_path:
        prefix = under_path.rstrip("/")
        query = query.where(or_(OrgUnit.path == prefix, OrgUnit.path.startswith(prefix + "/")))
    return list(session.scalars(query))


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
    if kind not in KINDS:
        raise ValueError(f"unknown org unit kind {kind!r}")
    expected = _PARENT_KIND.get(kind)
    if (parent.kind if parent else None) != expected:
        where = f"under a unit of kind {expected}" if expected else "at the root"
        raise ValueError(f"a unit of kind {kind} must sit {where}")
    path = f"{parent.path if parent else ''}/{code}"
    unit = OrgUnit(
        kind=kind, code=code, name=name, parent=parent, path=path, city=city, lat=lat, lng=lng
    )
    session.add(unit)
    session.flush()
    return unit
