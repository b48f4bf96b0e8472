"""The org's pure rules: unit kinds, roles, and who the caller is."""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass

from servflow.platform.errors import Forbidden, Invalid
from servflow.platform.keys import KNOWN_WEAK
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
    "customer_care",
)
DESIGN_ROLES = ("designer", "hq_admin")
START_ROLES = ("api_client", "dispatcher", "hq_admin", "region_manager", "outlet_manager")
MANAGE_ROLES = ("dispatcher", "region_manager", "outlet_manager", "hq_admin")
MONEY_ROLES = ("finance", "hq_admin", "region_manager")
MASTER_DATA_ROLES = ("hq_admin", "region_manager")
# Customer care (客服), scoped like a dispatcher (a region or an outlet): reads the orders
# and customers of its scope (every non-engineer role does), works the tasks assigned to
# role customer_care (the NPS follow-up's call back), reads NPS and the low scores'
# follow-ups; starts, cancels and reassigns nothing, sees no money.
SURVEY_ROLES = ("customer_care", *MANAGE_ROLES)
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
    # Signed in with the published demo password or key (possible in the demo only).
    demo: bool = False

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


# ---- accounts ------------------------------------------------------------------------------

# The demo loader's published credentials (servflow.demo.loader): they open the demo only.
DEMO_PASSWORD = "demo1234"  # noqa: S105
DEMO_API_KEY = "sfk_demo_api_client_0000000000000000"
ACCOUNT_ROLES = ("hq_admin", "region_manager")
# What a region manager may grant: nothing that reaches beyond their region (hq_admin),
# touches money (finance) or changes what every order runs (designer).
REGION_GRANTABLE = (
    "dispatcher",
    "engineer",
    "outlet_manager",
    "region_manager",
    "api_client",
    "customer_care",
)
MIN_PASSWORD = 10
MAX_PASSWORD_BYTES = 72  # bcrypt reads no further
# The operator at the machine (CLI): may do what an HQ admin may.
OPERATOR = Principal(
    id=0, username="operator", display_name="operator (CLI)", roles=("hq_admin",), scope_path=""
)


def is_demo_password(password: str) -> bool:
    return hmac.compare_digest(password.encode(), DEMO_PASSWORD.encode())


def is_demo_api_key(key: str) -> bool:
    return hmac.compare_digest(key.encode(), DEMO_API_KEY.encode())


def new_password() -> str:
    """A random password to show once (about 96 bits)."""
    return secrets.token_urlsafe(12)


def check_password(password: str) -> None:
    """Raises Invalid (field `password`) for a short, over-long or published password."""
    problem = ""
    if len(password) < MIN_PASSWORD:
        problem = f"must be at least {MIN_PASSWORD} characters"
    elif len(password.encode()) > MAX_PASSWORD_BYTES:
        problem = f"must be at most {MAX_PASSWORD_BYTES} bytes"
    elif password.strip().lower() in KNOWN_WEAK or is_demo_password(password):
        problem = "is a published password"
    if problem:
        raise Invalid(f"password: {problem}", errors={"password": problem})


def account_scope(actor: Principal) -> str | None:
    """Where `actor` manages accounts: None (everywhere) for HQ admins, their own unit's
    subtree for region managers.

    Raises:
        Forbidden: anyone else.
    """
    if actor.has("hq_admin"):
        return None
    if actor.has("region_manager") and actor.scope_path:
        return actor.scope_path
    raise Forbidden("managing accounts needs one of the roles: hq_admin, region_manager")


def check_grant(actor: Principal, roles: list[str] | tuple[str, ...]) -> None:
    """Raises Invalid for an unknown role, Forbidden for a role `actor` may not grant (or
    manage: a region manager cannot take over an HQ admin's account by resetting it)."""
    unknown = sorted(set(roles) - set(ROLES))
    if unknown:
        message = f"unknown roles: {', '.join(unknown)}"
        raise Invalid(f"roles: {message}", errors={"roles": message})
    if actor.has("hq_admin"):
        return
    beyond = sorted(set(roles) - set(REGION_GRANTABLE))
    if beyond:
        message = f"a region manager may not grant or manage {', '.join(beyond)}"
        raise Forbidden(f"roles: {message}", errors={"roles": message})
