"""Inputs and results that cross the workflow boundary.

Everything here travels through Temporal's pydantic data converter, so the API, the worker,
the activities and the tests share one set of models.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from workflows.definition import Definition

OrderStatus = Literal[
    "running",
    "reported",
    "dispatched",
    "serviced",
    "signed_off",
    "settled",
    "completed",
    "cancelled",
    "failed",
]

ROLE_PREFIX = "role:"
"""Marks an assignee that is a role rather than a user id: `role:region_manager`."""


def role_assignee(role: str) -> str:
    """The assignee that stands for everyone holding `role`."""
    return f"{ROLE_PREFIX}{role}"


def assignee_role(assignee: str) -> str | None:
    """The role an assignee stands for, or None when it names a user."""
    return assignee.removeprefix(ROLE_PREFIX) if assignee.startswith(ROLE_PREFIX) else None


class StepRefusal(StrEnum):
    """Why the `submit_step` Update refused a submission (its `ApplicationError.type`)."""

    NOT_ACTIVE = "StepNotActive"
    ACTOR_NOT_ALLOWED = "ActorNotAllowed"
    FORM_INVALID = "FormInvalid"
    NOT_PROVEN = "ActorNotProven"


MANAGING_ROLES = ("dispatcher", "region_manager", "hq_admin")
"""Who may complete a human step that has no assignee rule: the order's managers."""

CUSTOMER_ROLE = "customer"
"""The role of a customer acting through their one-time sign-off link: no user holds it
(it is not an org role); a node that `customer_completes` admits it."""

SANDBOX_STARTER_PREFIX = "test-run:"
"""`OrderContext.started_by` of a sandbox run: `test-run:<username>` of the designer."""


def sandbox_starter(started_by: str) -> str | None:
    """The username that started a sandbox run, from its `started_by`; else None."""
    if not started_by.startswith(SANDBOX_STARTER_PREFIX):
        return None
    return started_by.removeprefix(SANDBOX_STARTER_PREFIX) or None


class Actor(BaseModel):
    """Who submits a human step; the API fills it from the authenticated caller."""

    model_config = ConfigDict(frozen=True)

    user_id: str
    roles: list[str] = Field(default_factory=list)
    display_name: str = ""


class OrderContext(BaseModel):
    """Facts about the order fixed at start: where it belongs and who asked for it."""

    region: str = ""
    outlet: str = ""
    priority: int = 3
    customer: dict[str, Any] = Field(default_factory=dict)
    started_by: str = ""


class StartOrderInput(BaseModel):
    """Starts one work order on a definition snapshot.

    `subdefinitions` holds the snapshots of every pipeline the definition calls as a
    sub-pipeline, so a running order never reads a definition again.
    """

    order_id: str
    definition: Definition
    subdefinitions: dict[str, Definition] = Field(default_factory=dict)
    variables: dict[str, Any] = Field(default_factory=dict)
    context: OrderContext = Field(default_factory=OrderContext)
    resume: ResumeState | None = None
    continue_as_new_after_events: int = 0  # 0: Temporal's own suggestion decides
    sandbox: bool = False
    """A designer's test run: every effect is simulated (shown, never written or sent)."""


class TimelineEntry(BaseModel):
    """One node visit: who did it, when, with what outcome."""

    node_id: str
    node_type: str
    visit: int
    started_at: datetime
    completed_at: datetime | None = None
    actor: str = ""
    outcome: str = ""
    data: dict[str, Any] = Field(default_factory=dict)


class SlaBreach(BaseModel):
    node_id: str
    visit: int
    deadline: datetime
    breached_at: datetime
    action: str
    detail: str = ""
    level: int = 0
    """The escalation-ladder level (1, 2, …) of a business-time SLA; 0 for a plain one."""


class ActiveNode(BaseModel):
    node_id: str
    node_type: str
    name: str
    visit: int
    since: datetime
    human: bool
    assignee: str = ""
    sla_deadline: datetime | None = None
    child_workflow_id: str = ""


class ResumeState(BaseModel):
    """What a continued-as-new run carries over from the run before it."""

    node_id: str
    variables: dict[str, Any]
    timeline: list[TimelineEntry]
    breaches: list[SlaBreach]
    visits: dict[str, int]
    assignments: dict[str, str]
    status: OrderStatus
    runs: int
    recorded_steps: int = 0


class OrderState(BaseModel):
    """What the `state` query returns."""

    order_id: str
    definition_key: str
    definition_version: int
    status: OrderStatus
    context: OrderContext
    active: list[ActiveNode]
    variables: dict[str, Any]
    timeline: list[TimelineEntry]
    breaches: list[SlaBreach]
    runs: int = 1


class StepInput(BaseModel):
    """What an automatic node's activity receives.

    `idempotency_key` is `<order_id>/<node_id>/<visit>`: the same on every retry of the
    activity, different when a loop visits the node again. `unrecorded_steps` are the
    timeline entries the read model has not seen yet; the activity writes them in the same
    transaction as its own effect, so human steps cost no extra activity.
    """

    order_id: str
    node_id: str
    node_type: str
    visit: int
    idempotency_key: str
    params: dict[str, Any] = Field(default_factory=dict)
    variables: dict[str, Any] = Field(default_factory=dict)
    context: OrderContext = Field(default_factory=OrderContext)
    definition_key: str = ""
    definition_version: int = 0
    status: OrderStatus = "running"
    unrecorded_steps: list[TimelineEntry] = Field(default_factory=list)
    final: bool = False
    """True when the order ends after this step: the activity marks it completed too."""
    sandbox: bool = False
    """The order is a test run: simulate the effect, write and send nothing real."""


class WaitingStep(BaseModel):
    """A human step that started waiting (or changed hands), for the read model
    (local activity `record_waiting`); carries the steps it has not seen yet."""

    order_id: str
    node_id: str
    node_type: str
    visit: int
    assignee: str
    since: datetime
    sla_deadline: datetime | None = None
    status: OrderStatus = "running"
    context: OrderContext = Field(default_factory=OrderContext)
    definition_key: str = ""
    definition_version: int = 0
    unrecorded_steps: list[TimelineEntry] = Field(default_factory=list)
    sandbox: bool = False
    """The order is a test run (see StartOrderInput.sandbox)."""


class StepResult(BaseModel):
    """An automatic node's output, stored as `variables[<node_id>]`."""

    output: dict[str, Any] = Field(default_factory=dict)
    summary: str = ""


class StepSubmission(BaseModel):
    """A field app's submission of a human step (the `submit_step` Update)."""

    node_id: str
    actor: Actor
    data: dict[str, Any] = Field(default_factory=dict)
    outcome: str = "done"
    issued_at: datetime | None = None
    proof: str = ""
    """The API's HMAC over order, node, actor and `issued_at`: proves the actor was
    authenticated by the API, not claimed by whoever reaches Temporal."""


class StepAccepted(BaseModel):
    """The Update's answer: the step as recorded, so the caller can write its read model
    without asking the order again, and the nodes active once the order took the step
    (`status` and `active` as the `state` query would show them then)."""

    node_id: str
    visit: int
    completed_at: datetime
    step: TimelineEntry | None = None
    status: OrderStatus = "running"
    definition_key: str = ""
    definition_version: int = 0
    context: OrderContext = Field(default_factory=OrderContext)
    active: list[ActiveNode] = Field(default_factory=list)


class SlaClockParams(BaseModel):
    """The `sla_clock` activity's params (StepInput.params): a step's business-time clock
    starts, pauses or resumes `at` (workflow time), for the node's `sla`."""

    event: Literal["start", "pause", "resume"]
    at: datetime
    within: str
    policy: str = ""
    node_name: str = ""
    assignee: str = ""
    on_breach: str = "notify"
    notify: list[str] = Field(default_factory=list)
    escalate_to: str = ""
    reassign_to: str = ""
    reason: str = ""


class SlaLevelPlan(BaseModel):
    """One escalation-ladder level of a clock and when it fires (None while paused)."""

    index: int
    at: datetime | None = None
    percent: int
    after: str = ""
    action: Literal["notify", "reassign", "raise_priority"]
    to_roles: list[str] = Field(default_factory=list)
    to_assignee: bool = False
    reassign_to: str = ""
    escalate_to: str = ""
    priority: int = 0


class SlaPlan(BaseModel):
    """What `sla_clock` answers: the clock's moments now, its ladder in firing order."""

    deadline: datetime | None = None
    at_risk_at: datetime | None = None
    paused: bool = False
    levels: list[SlaLevelPlan] = Field(default_factory=list)
    policy_key: str = ""
    policy_version: int = 0
    calendar_key: str = ""


class SlaHold(BaseModel):
    """Pauses (signal `sla_pause`) or resumes (`sla_resume`) a step's SLA clock."""

    node_id: str
    reason: str = ""
    by: str = ""


class Reassignment(BaseModel):
    node_id: str
    user_id: str
    by: str = ""
    reason: str = ""


class Cancellation(BaseModel):
    reason: str
    by: str = ""


class OrderResult(BaseModel):
    order_id: str
    status: OrderStatus
    variables: dict[str, Any]
    timeline: list[TimelineEntry]
    breaches: list[SlaBreach]


NOTE_NODE = ".note"
"""Timeline entries added by the `add_note` signal use this node id (no drawn node has a dot)."""


class Note(BaseModel):
    """Something added to an order's timeline from outside its steps (a merged duplicate
    report with its contact and photos, say); it changes nothing the order does."""

    model_config = ConfigDict(extra="forbid")

    by: str = Field(max_length=100)
    summary: str = Field(max_length=500)
    data: dict[str, Any] = Field(default_factory=dict)


HANDOFF_OUTPUT = "handoff"
"""The key of an automatic step's output that asks a person before the step completes."""
HANDOFF_ANSWER = "handoff_answer"
"""The param under which the person's answer (or the timeout) goes back to the activity."""


class Handoff(BaseModel):
    """What an automatic step asks of a person before it completes (a confirmation, a
    choice, or a fallback step for someone to decide).

    The step waits, as the human step `<node id>.handoff`, for `assignee_user` (or anyone
    holding `assignee_role`) to answer one of `answers`, with an optional `reason` and
    `choice`; after `within` (ISO-8601 duration) without an answer, `on_timeout` stands as
    the answer. The answer goes back to the step's activity (param `handoff_answer`), which
    completes the step or hands off again.
    """

    model_config = ConfigDict(extra="forbid")

    answers: list[str] = Field(min_length=1, max_length=10)
    assignee_user: str = ""
    assignee_role: str = ""
    within: str | None = None
    on_timeout: str = "timeout"
    name: str = Field(default="", max_length=200)

    @property
    def assignee(self) -> str:
        return self.assignee_user or role_assignee(self.assignee_role)


StartOrderInput.model_rebuild()


# ---- inventory: the transfer saga (workflows/transfer.py) and the parts node ----------------

TransferStatus = Literal[
    "requested", "reserved", "shipped", "received", "consumed", "cancelled", "failed"
]


class TransferInput(BaseModel):
    """Moves `qty` of `sku` from warehouse `source` to `destination` for an order line
    (`line_key`, the reservation the destination then holds). `code` is the workflow id."""

    code: str
    order_id: str = ""
    line_key: str = ""
    sku: str
    qty: int = Field(gt=0)
    source: str
    destination: str


class TransferStep(BaseModel):
    """The `inventory_transfer` activity's input: one step of the saga, or a compensation."""

    code: str
    action: Literal["open", "ship", "receive", "cancel"]
    transfer: TransferInput
    carrier: str = ""
    tracking_no: str = ""
    actor: str = ""
    reason: str = ""


class TransferShipment(BaseModel):
    """The Update `ship`: entered by the source warehouse."""

    carrier: str = Field(min_length=1, max_length=64)
    tracking_no: str = Field(min_length=1, max_length=64)
    actor: str = ""


class TransferReceipt(BaseModel):
    """The Update `receive`: entered by the destination warehouse."""

    actor: str = ""


class TransferState(BaseModel):
    """The transfer's state (the `transfer` query, the activity's answer, the result)."""

    code: str
    status: TransferStatus
    source: str = ""
    destination: str = ""
    sku: str = ""
    qty: int = 0
    carrier: str = ""
    tracking_no: str = ""
    order_id: str = ""
    error: str = ""
    steps: list[str] = Field(default_factory=list)
