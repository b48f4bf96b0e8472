"""Request and response bodies of the API (the OpenAPI schema is generated from these)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from workflows.contracts import ActiveNode, OrderState
from workflows.validate import Problem

T = TypeVar("T")


def _nul_path(value: Any, path: str = "") -> str | None:
    if isinstance(value, str):
        return path if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            if "\x00" in str(key):
                return where
            found = _nul_path(item, where)
            if found is not None:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = _nul_path(item, f"{path}[{index}]")
            if found is not None:
                return found
    return None


class NoNul(BaseModel):
    """Refuses NUL characters anywhere in the body: PostgreSQL cannot store them, and an
    order carrying one would fail in its activities long after the API accepted it."""

    @model_validator(mode="before")
    @classmethod
    def _refuse_nul(cls, data: Any) -> Any:
        where = _nul_path(data)
        if where is not None:
            raise ValueError(f"{where or 'body'} contains a NUL character")
        return data


class Page(BaseModel, Generic[T]):
    data: list[T]
    count: int


def page_of(found: tuple[Iterable[Any], int], public: Callable[[Any], T]) -> Page[T]:
    """A page of a service's listing, its `(rows, count)`, with each row made public (the
    count is of every row that matches, not only those on the page)."""
    rows, count = found
    return Page(data=[public(row) for row in rows], count=count)


class DataList(BaseModel, Generic[T]):
    data: list[T]


class ErrorBody(BaseModel):
    detail: str
    errors: dict[str, str] | None = None
    problems: list[Problem] | None = None


# ---- auth ----------------------------------------------------------------------------


# The error answers every route may give, for OpenAPI.
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody} for code in (401, 403, 404, 409, 422)
}


class LoginRequest(NoNul):
    username: str = Field(min_length=1, max_length=100)
    password: str = Field(min_length=1, max_length=200)


class UserPublic(BaseModel):
    id: int
    username: str
    display_name: str
    roles: list[str]
    scope_path: str


class Token(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105
    user: UserPublic
    expires_in: int = Field(description="seconds the access token is valid")
    refresh_token: str = Field(description="for POST /api/auth/refresh; usable once")


# ---- palette and schema -------------------------------------------------------------------


class NodeTypePublic(BaseModel):
    type: str
    kind: str
    human: bool
    label_zh: str
    label_en: str
    outputs: list[str]
    schema_: dict[str, Any] = Field(alias="schema", serialization_alias="schema")

    model_config = ConfigDict(populate_by_name=True)


# ---- definitions ----------------------------------------------------------------------------


class DefinitionWrite(NoNul):
    definition: dict[str, Any] = Field(description="the definition as drawn; may be invalid")
    layout: dict[str, Any] | None = Field(
        default=None, description="node positions for the designer; never part of what runs"
    )


class DefinitionValidate(NoNul):
    definition: dict[str, Any]


class DefinitionSummary(BaseModel):
    key: str
    name: str
    latest_version: int | None
    has_draft: bool
    updated_at: datetime


class VersionSummary(BaseModel):
    version: int
    published_at: datetime
    published_by: str


class DefinitionDetail(BaseModel):
    key: str
    name: str
    draft: dict[str, Any]
    layout: dict[str, Any]
    versions: list[VersionSummary]
    problems: list[Problem]


class DraftSaved(BaseModel):
    key: str
    problems: list[Problem]


class ValidationResult(BaseModel):
    ok: bool
    problems: list[Problem]


class Published(BaseModel):
    key: str
    version: int


class VersionDetail(BaseModel):
    key: str
    version: int
    definition: dict[str, Any]
    layout: dict[str, Any]
    published_at: datetime
    published_by: str


class NodeChange(BaseModel):
    node_id: str
    fields: list[str]


class DefinitionDiff(BaseModel):
    base: str
    target: str
    added: list[str]
    removed: list[str]
    changed: list[NodeChange]
    header: list[str]


# ---- orders -------------------------------------------------------------------------------


class CustomerIn(NoNul):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(default="", max_length=200)
    phone: str = Field(default="", max_length=32)
    address: str = Field(default="", max_length=400)
    city: str = Field(default="", max_length=100)
    lat: float | None = Field(default=None, ge=-90, le=90)
    lng: float | None = Field(default=None, ge=-180, le=180)


class OrderCreate(NoNul):
    model_config = ConfigDict(extra="forbid")

    definition_key: str = Field(min_length=1, max_length=100)
    version: int | None = Field(
        default=None, ge=1, le=2_147_483_647, description="default: the latest version"
    )
    variables: dict[str, Any] = Field(default_factory=dict)
    customer: CustomerIn
    region: str | None = Field(default=None, max_length=64, description="region code or name")
    outlet: str | None = Field(default=None, max_length=64, description="outlet code")
    priority: int = Field(default=3, ge=1, le=5)
    merge_into_open: bool = Field(
        default=False,
        description="a duplicate (same customer and fault, still open) is merged into the"
        " open order's timeline (200, `merged`) instead of refused (409)",
    )


class OrderStarted(BaseModel):
    order_id: str
    status: str
    definition_key: str
    definition_version: int
    test: bool = False
    merged: bool = False


class TestRunCreate(NoNul):
    model_config = ConfigDict(extra="forbid")

    definition: dict[str, Any] | None = Field(default=None, description="a raw draft to run")
    definition_key: str | None = Field(default=None, max_length=100)
    version: int | None = Field(default=None, ge=1, le=2_147_483_647)
    variables: dict[str, Any] = Field(default_factory=dict)
    customer: CustomerIn | None = None
    region: str | None = Field(default=None, max_length=64)
    outlet: str | None = Field(default=None, max_length=64)


class OrderPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    order_id: str
    order_no: str | None
    definition_key: str
    definition_version: int
    region: str
    org_path: str
    fault: str
    status: str
    current_node: str
    priority: int
    started_by: str
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None


class StepPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    node_id: str
    visit: int
    node_type: str
    actor: str
    outcome: str
    data: dict[str, Any]
    started_at: datetime
    completed_at: datetime | None = Field(description="null while a human step waits")
    assignee: str = Field(default="", description="whom a human step waits (or waited) for")
    sla_deadline: datetime | None = None


class PayoutPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    payee_kind: str
    payee_id: str
    amount: Decimal
    currency: str


class SettlementPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    order_id: str
    milestone: str
    share: Decimal
    job_amount: Decimal
    amount: Decimal
    currency: str
    breakdown: dict[str, Any]
    created_at: datetime
    status: str = Field(
        description="paid: payouts written; held: waiting for finance's approval (job above"
        " the ceiling, or parts the catalogue cannot price; `breakdown.hold` says why)"
    )
    approved_by: str = ""
    approved_at: datetime | None = None
    payouts: list[PayoutPublic]


class OrderDetail(BaseModel):
    order_id: str
    order: OrderPublic | None
    steps: list[StepPublic]
    settlements: list[SettlementPublic]
    state: OrderState | None


class WaitingSteps(BaseModel):
    """The order's human steps waiting for input, per the read model."""

    order_id: str
    status: str
    closed: bool
    steps: list[StepPublic]


class OrderOutcome(BaseModel):
    """How an order ended, or that it is still running when the wait ran out."""

    order_id: str
    closed: bool
    status: str = Field(
        description="completed, cancelled, failed or terminated once closed; while running, "
        "the status in the order list (read model)"
    )


class StepSubmit(NoNul):
    model_config = ConfigDict(extra="forbid")

    data: dict[str, Any] = Field(default_factory=dict)
    outcome: str = Field(default="done", min_length=1, max_length=64)


class StepDone(BaseModel):
    """The accepted step, and the order as it stands once it took the step: its status and
    the nodes now active (a human one with its assignee, e.g. the same engineer's next
    step), so a field app need not ask again."""

    node_id: str
    visit: int
    completed_at: datetime
    status: str = ""
    active: list[ActiveNode] = Field(default_factory=list)


class CancelRequest(NoNul):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=500)


class ReassignRequest(NoNul):
    model_config = ConfigDict(extra="forbid")

    node_id: str = Field(min_length=1, max_length=64)
    user_id: str = Field(min_length=1, max_length=100, description="the engineer's username")
    reason: str = Field(default="", max_length=500)


class Accepted(BaseModel):
    order_id: str
    accepted: bool = True


class TaskPublic(BaseModel):
    order_id: str
    order_no: str | None
    definition_key: str
    region: str
    node_id: str
    node_type: str
    name: str
    visit: int
    since: datetime
    assignee: str
    sla_deadline: datetime | None


# ---- accounts, tokens ----------------------------------------------------------------------

Username = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.@-]+$")
Password = Field(min_length=1, max_length=200)


class MePublic(UserPublic):
    demo: bool = Field(description="signed in with the published demo credentials")


class RefreshRequest(NoNul):
    refresh_token: str = Field(min_length=1, max_length=200)


class LogoutRequest(NoNul):
    refresh_token: str = Field(default="", max_length=200)


class PasswordChange(NoNul):
    model_config = ConfigDict(extra="forbid")

    old_password: str = Password
    new_password: str = Password


class AccountPublic(BaseModel):
    id: int
    username: str
    display_name: str
    roles: list[str]
    org_unit: str | None = Field(description="the unit's code")
    scope_path: str
    is_active: bool
    created_at: datetime


class AccountCreate(NoNul):
    model_config = ConfigDict(extra="forbid")

    username: str = Username
    display_name: str = Field(default="", max_length=200)
    roles: list[str] = Field(min_length=1, max_length=8)
    org_unit: str = Field(min_length=1, max_length=64, description="the unit's code")
    password: str | None = Field(
        default=None, min_length=1, max_length=200, description="omit to have one generated"
    )


class AccountUpdate(NoNul):
    model_config = ConfigDict(extra="forbid")

    display_name: str | None = Field(default=None, max_length=200)
    roles: list[str] | None = Field(default=None, min_length=1, max_length=8)
    org_unit: str | None = Field(default=None, min_length=1, max_length=64)


class AccountCreated(BaseModel):
    user: AccountPublic
    password: str | None = Field(description="the generated password, shown this once")


class PasswordReset(BaseModel):
    user: AccountPublic
    password: str = Field(description="the new password, shown this once")


class ApiKeyCreate(NoNul):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(default="", max_length=100)


class ApiKeyPublic(BaseModel):
    id: int
    user_id: int
    name: str
    prefix: str
    created_at: datetime
    revoked_at: datetime | None


class ApiKeyCreated(BaseModel):
    api_key: ApiKeyPublic
    key: str = Field(description="the key, shown this once (header X-API-Key)")
