"""The org's pure rules: unit kinds, roles, and who the caller is."""

from __future__ import annotations

from dataclasses import dataclass

from servflow.platform.scope import in_scope

KINDS = ("hq", "region", "branch", "outlet")
PARENT_KIND = {"region": "hq", "branch": "region", "outlet": "branch"}

ROLES = (
    "designer",
    "dispatcher",
    "engineer",
    "outlet_manager",
    "region_manager",
    "finance",
    "hq_admin",
    "api_client",
)
DESIGN_ROLES = ("designer", "hq_admin")
START_ROLES = ("api_client", "dispatcher", "hq_admin", "region_manager", "outlet_manager")
MANAGE_ROLES = ("dispatcher", "region_manager", "outlet_manager", "hq_admin")
MONEY_ROLES = ("finance", "hq_admin", "region_manager")
MASTER_DATA_ROLES = ("hq_admin", "region_manager")
# Roles that see every order in their scope; an engineer without one sees only their own.
SCOPE_WIDE_ROLES = tuple(role for role in ROLES if role != "engineer")


@dataclass(frozen=True)
class Principal:
    """The authenticated caller; roles and scope always come from the store, never the body."""

    id: int
    username: str
    display_name: str
    roles: tuple[str, ...]
    scope_path: str
    via_api_key: bool = False
    org_unit_id: int | None = None

    def has(self, *roles: str) -> bool:
        return any(role in self.roles for role in roles)

    def sees(self, path: str) -> bool:
        """True when the org unit at `path` lies within this caller's scope."""
        return in_scope(path, self.scope_path)

    @property
    def engineer_only(self) -> bool:
        """Engineers see the orders assigned to them, not everything in their outlet."""
        return self.has("engineer") and not self.has(*SCOPE_WIDE_ROLES)


def unit_path(parent_path: str | None, code: str) -> str:
    """A new unit's path: its parent's path plus its code."""
    return f"{parent_path or ''}/{code}"


def check_parent(kind: str, parent_kind: str | None) -> None:
    """Raises ValueError unless a unit of `kind` may sit under a unit of `parent_kind`."""
    if kind not in KINDS:
        raise ValueError(f"unknown org unit kind {kind!r}")
    expected = PARENT_KIND.get(kind)
    if parent_kind != expected:
        where = f"under a unit of kind {expected}" if expected else "at the root"
        raise ValueError(f"a unit of kind {kind} must sit {where}")
