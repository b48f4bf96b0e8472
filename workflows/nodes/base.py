"""What every node type shares, and the registry the format, palette and schema come from."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any, ClassVar, Literal, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from workflows.durations import parse_duration
from workflows.forms import FormField

NODE_ID = r"^[A-Za-z][A-Za-z0-9_]{0,63}$"

NotifyChannel = Literal["wecom", "sms", "email", "log"]
DEFAULT_CHANNEL: NotifyChannel = "wecom"
"""The channel a message goes by when nothing names one (notify nodes, SLA breaches)."""


class AssigneeRule(BaseModel):
    """Who may complete a step.

    kind:
      - `dispatched_engineer`: the engineer the latest dispatch node chose;
      - `role`: anyone holding the role in `value` (scope is checked by the API);
      - `user`: the user whose id is `value`;
      - `expression`: the user id an expression over the order's variables gives.
    """

    model_config = ConfigDict(extra="forbid")

    kind: Literal["dispatched_engineer", "role", "user", "expression"]
    value: str = ""

    @field_validator("value")
    @classmethod
    def _strip(cls, value: str) -> str:
        return value.strip()


class Sla(BaseModel):
    """How long a step may take, and what happens when it takes longer.

    The step stays active after a breach: the breach is recorded and `on_breach` runs
    (`notify` the roles in `notify`, `escalate` to `escalate_to`, or `reassign` the step to
    the user `reassign_to`).
    """

    model_config = ConfigDict(extra="forbid")

    within: str = Field(description="ISO-8601 duration, e.g. PT4H or P2D")
    on_breach: Literal["notify", "escalate", "reassign"] = "notify"
    notify: list[str] = Field(default_factory=list, description="roles told of a breach")
    escalate_to: str = Field(default="", description="role that takes over on escalate")
    reassign_to: str = Field(default="", description="user id that takes over on reassign")
    clock: Literal["wall", "business"] = Field(
        default="wall",
        description="business: counted in the working hours of the order's calendar "
        "(servflow.sla), may pause, escalates by a ladder",
    )
    policy: str = Field(
        default="",
        pattern=r"^$|^[a-z][a-z0-9_-]{1,63}$",
        description="SLA policy key: target and escalation ladder by priority, customer "
        "tier and channel (business time); `within` applies when no rule matches",
    )

    # Not a setting of the format (yet): every breach message goes by the default channel.
    breach_channel: ClassVar[NotifyChannel] = DEFAULT_CHANNEL

    @field_validator("within")
    @classmethod
    def _duration(cls, value: str) -> str:
        parse_duration(value)
        return value

    @property
    def duration(self) -> timedelta:
        return parse_duration(self.within)

    @property
    def business(self) -> bool:
        """Counted in business time by a clock of servflow.sla (not a plain timer)."""
        return self.clock == "business" or bool(self.policy)

    def breach_notice(self, message: str) -> dict[str, Any] | None:
        """The notify activity's params telling of a breach, or None when nobody is told.

        Told are the roles in `notify` and, on `escalate`, the role that takes over.
        """
        roles = list(self.notify)
        if self.on_breach == "escalate":
            roles.append(self.escalate_to)
        if not roles:
            return None
        return {
            "channel": self.breach_channel,
            "to_roles": roles,
            "message": message,
            "to_assignee": False,
        }


class Runtime(Protocol):
    """What a node may ask of the interpreter while it runs (all deterministic)."""

    async def run_activity(self, node: BaseNode) -> dict[str, Any]: ...

    async def wait_for_step(self, node: BaseNode) -> dict[str, Any]: ...

    async def sleep(self, duration: timedelta) -> None: ...

    async def run_branches(self, starts: list[str], join: str) -> None: ...

    async def run_child(
        self, node: BaseNode, key: str, inputs: dict[str, Any]
    ) -> dict[str, Any]: ...

    def evaluate(self, source: str) -> Any: ...


class BaseNode(BaseModel):
    """Fields every node has. Subclasses add `type`, `params` and their semantics."""

    model_config = ConfigDict(extra="forbid")

    kind: ClassVar[str] = "flow"  # palette group: pipeline | human | flow
    human: ClassVar[bool] = False
    activity: ClassVar[str | None] = None
    status_on_complete: ClassVar[str | None] = None
    outputs: ClassVar[tuple[str, ...]] = ()
    label_zh: ClassVar[str] = ""
    label_en: ClassVar[str] = ""
    # What the interpreter asks of a node type instead of knowing types by name.
    # `transient`: routes control without waiting itself (its branches may), so it is never
    # shown as the order's current node nor recorded as a step in the read model.
    # `assigns_engineer`: its output names the engineer that `dispatched_engineer` steps go
    # to (see `engineer_in`). `places_order`: its output names the order's region and outlet.
    # `customer_completes`: the customer (an actor holding CUSTOMER_ROLE, which the API
    # vouches for through a one-time link) may complete it besides its assignee.
    transient: ClassVar[bool] = False
    assigns_engineer: ClassVar[bool] = False
    places_order: ClassVar[bool] = False
    customer_completes: ClassVar[bool] = False

    id: str = Field(pattern=NODE_ID, description="unique within the definition")
    type: str
    name: str = Field(default="", max_length=200, description="label shown to people")
    description: str = Field(default="", max_length=2000)
    next: str | None = None
    sla: Sla | None = None
    assignee: AssigneeRule | None = None

    def successors(self) -> Iterator[tuple[str, str]]:
        """The nodes control can move to, as (JSON path suffix, node id)."""
        if self.next is not None:
            yield "next", self.next

    def expressions(self) -> Iterator[tuple[str, str]]:
        """The expressions this node holds, as (JSON path suffix, source)."""
        if self.assignee is not None and self.assignee.kind == "expression":
            yield "assignee.value", self.assignee.value

    def form_fields(self) -> list[FormField]:
        return []

    def engineer_in(self, output: dict[str, Any]) -> str | None:
        """The engineer this node's output names (asked only where `assigns_engineer`)."""
        return None

    def needs_next(self) -> bool:
        return True

    def problems(self) -> Iterator[tuple[str, str, str]]:
        """Checks of this node alone, as (code, JSON path suffix, message)."""
        rule = self.assignee
        if rule is not None and rule.kind != "dispatched_engineer" and not rule.value:
            message = f"assignee kind '{rule.kind}' needs a value"
            yield "assignee_incomplete", "assignee.value", message
        if self.sla is not None:
            action, sla = self.sla.on_breach, self.sla
            if action == "escalate" and not sla.escalate_to:
                yield "sla_incomplete", "sla.escalate_to", "escalate needs the role to escalate to"
            if action == "reassign" and not sla.reassign_to:
                yield "sla_incomplete", "sla.reassign_to", "reassign needs the user to reassign to"
            if action == "notify" and not sla.notify:
                yield "sla_incomplete", "sla.notify", "notify needs at least one role to tell"

    async def execute(self, rt: Runtime) -> str | None:
        """Do this node's work; return the id of the node to go to next."""
        raise NotImplementedError


NODE_TYPES: dict[str, type[BaseNode]] = {}
N = TypeVar("N", bound=type[BaseNode])


def node_type(tag: str) -> Callable[[N], N]:
    """Register a node class under its `type` tag (the palette and schema read this)."""

    def register(cls: N) -> N:
        if tag in NODE_TYPES:
            raise ValueError(f"node type {tag!r} registered twice")
        NODE_TYPES[tag] = cls
        return cls

    return register
