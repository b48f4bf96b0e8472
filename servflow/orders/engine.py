"""The Temporal side of orders: start an order's workflow, ask it where it stands, hand it
a step, cancel or reassign it, wait for how it ended. No database here; refusals come back
as servflow.platform.errors."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from temporalio.client import (
    Client,
    WorkflowExecutionDescription,
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowQueryFailedError,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDReusePolicy
from temporalio.exceptions import (
    ApplicationError,
    CancelledError,
    TerminatedError,
    WorkflowAlreadyStartedError,
)
from temporalio.service import RPCError, RPCStatusCode

from servflow.orders.service import Placement
from servflow.platform.errors import AppError, Conflict, Forbidden, Invalid, NotTakenInTime
from workflows import constants as c
from workflows import trust
from workflows.contracts import (
    Cancellation,
    Note,
    OrderContext,
    OrderResult,
    OrderState,
    Reassignment,
    SlaHold,
    StartOrderInput,
    StepAccepted,
    StepRefusal,
    StepSubmission,
)
from workflows.definition import Definition

QUERY_TIMEOUT = timedelta(seconds=10)
# How long a step submission waits for the order to take it (a worker must run it).
SUBMIT_WAIT = timedelta(seconds=20)


@dataclass(frozen=True)
class Started:
    """An order's workflow as started (or found, for a retried request)."""

    order_id: str
    status: str
    definition_key: str
    definition_version: int
    created: bool = True


@dataclass(frozen=True)
class Outcome:
    """How an order ended, or that it has not yet."""

    closed: bool
    status: str


@dataclass(frozen=True)
class NewOrder:
    """Everything a workflow start needs."""

    order_id: str
    definition: Definition
    subdefinitions: dict[str, Definition]
    variables: dict[str, Any]
    context: OrderContext
    placement: Placement
    fingerprint: str = ""
    sandbox: bool = False
    """A designer's test run: its effects are simulated, never written or sent."""


async def live_state(client: Client, order_id: str) -> OrderState | None:
    """The workflow's `state` query, or None when the workflow is gone or unreachable."""
    try:
        return await client.get_workflow_handle(order_id).query(
            c.QUERY_STATE, result_type=OrderState, rpc_timeout=QUERY_TIMEOUT
        )
    except (RPCError, WorkflowQueryFailedError):
        return None


def _search_attributes(order: NewOrder) -> TypedSearchAttributes:
    pairs: list[tuple[Any, Any]] = [
        (c.SA_REGION, order.placement.region_label),
        (c.SA_OUTLET, order.placement.outlet),
        (c.SA_DEFINITION_KEY, order.definition.key),
        (c.SA_DEFINITION_VERSION, order.definition.version),
        (c.SA_STATUS, "running"),
        (c.SA_CURRENT_NODE, ""),
        (c.SA_PRIORITY, order.context.priority),
    ]
    return TypedSearchAttributes([SearchAttributePair(key, value) for key, value in pairs])


async def start(client: Client, task_queue: str, order: NewOrder) -> Started:
    """Starts the order's workflow; a retry of the same request finds the order it started
    (`created` False), a different request under the same id is a Conflict."""
    definition = order.definition
    try:
        await client.start_workflow(
            c.INTERPRETER_WORKFLOW,
            StartOrderInput(
                order_id=order.order_id,
                definition=definition,
                subdefinitions=order.subdefinitions,
                variables=order.variables,
                context=order.context,
                sandbox=order.sandbox,
            ),
            id=order.order_id,
            task_queue=task_queue,
            result_type=OrderResult,
            # A closed order keeps its id: a late retry finds it instead of starting a twin.
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            search_attributes=_search_attributes(order),
            memo={
                "request": order.fingerprint,
                "definition_key": definition.key,
                "definition_version": definition.version,
            },
        )
    except WorkflowAlreadyStartedError:
        return await _existing(client, order.order_id, order.fingerprint)
    return Started(order.order_id, "running", definition.key, definition.version)


async def _existing(client: Client, order_id: str, request_fingerprint: str) -> Started:
    description = await client.get_workflow_handle(order_id).describe()
    memo = await description.memo()
    if memo.get("request") != request_fingerprint:
        raise Conflict(
            "Idempotency-Key: this key was used for a different request; "
            f"it started order '{order_id}'",
            order_id=order_id,
        )
    status = description.typed_search_attributes.get(c.SA_STATUS) or "running"
    return Started(
        order_id=order_id,
        status=str(status),
        definition_key=str(memo.get("definition_key", "")),
        definition_version=int(memo.get("definition_version", 0)),
        created=False,
    )


async def outcome(client: Client, order_id: str, *, wait: float) -> Outcome | None:
    """How the order ended; with `wait`, as soon as it closes. None: Temporal no longer
    knows the order (past retention), so the read model must tell."""
    handle = client.get_workflow_handle(order_id, result_type=OrderResult)
    try:
        if wait == 0 and (await handle.describe()).status == WorkflowExecutionStatus.RUNNING:
            return Outcome(closed=False, status="running")
        async with asyncio.timeout(wait or None):
            # Temporal long-polls for the close event: no worker is asked until it comes.
            result = await handle.result()
    except TimeoutError:
        return Outcome(closed=False, status="running")
    except WorkflowFailureError as err:
        cause = err.cause
        if isinstance(cause, CancelledError):
            return Outcome(closed=True, status="cancelled")
        return Outcome(
            closed=True, status="terminated" if isinstance(cause, TerminatedError) else "failed"
        )
    except RPCError as err:
        if err.status != RPCStatusCode.NOT_FOUND:
            raise
        return None
    return Outcome(closed=True, status=result.status)


def _refusal(order_id: str, node_id: str, err: WorkflowUpdateFailedError) -> AppError:
    cause = err.cause
    if not isinstance(cause, ApplicationError):
        return Conflict(f"step '{node_id}' of order '{order_id}' was not accepted: {err}")
    message = cause.message
    if cause.type == StepRefusal.NOT_ACTIVE:
        return Conflict(message, node_id=node_id)
    if cause.type in (StepRefusal.ACTOR_NOT_ALLOWED, StepRefusal.NOT_PROVEN):
        return Forbidden(message, node_id=node_id)
    if cause.type == StepRefusal.FORM_INVALID:
        details = cause.details[0] if cause.details else {}
        errors = {f"data.{k}": str(v) for k, v in dict(details or {}).items()}
        return Invalid(message, errors=errors, node_id=node_id)
    return Invalid(message, node_id=node_id)


def _closed(order_id: str, err: RPCError) -> AppError:
    return Conflict(f"order '{order_id}' is no longer running ({err.message})")


async def submit(
    client: Client,
    order_id: str,
    submission: StepSubmission,
    *,
    actor_key: str,
    update_id: str | None = None,
    wait: timedelta = SUBMIT_WAIT,
) -> StepAccepted:
    """Hands a human step to the order (Update `submit_step`), signed with `actor_key` so
    the order knows the actor was authenticated here; the order's validator's refusal
    becomes a Conflict (not waiting), Forbidden (not yours, or not proven) or Invalid.

    `update_id` makes a retry safe: Temporal answers an Update it already took with that
    id by its first result. No answer within `wait` (no worker) is NotTakenInTime.
    """
    handle = client.get_workflow_handle(order_id)
    proven = trust.prove(actor_key, order_id, submission, datetime.now(UTC))
    try:
        async with asyncio.timeout(wait.total_seconds()):
            return await handle.execute_update(
                c.UPDATE_SUBMIT_STEP, proven, id=update_id, result_type=StepAccepted
            )
    except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError) as err:
        # The SDK reports the wait running out as its own error, or as ours when it is
        # cancelled by asyncio.timeout: either way the order did not take the step yet.
        raise NotTakenInTime(
            f"order '{order_id}' did not take step '{submission.node_id}' within "
            f"{wait.total_seconds():g} s; retry (with the same Idempotency-Key)",
            node_id=submission.node_id,
        ) from err
    except WorkflowUpdateFailedError as err:
        raise _refusal(order_id, submission.node_id, err) from err
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            raise _closed(order_id, err) from err
        raise


async def cancel(client: Client, order_id: str, cancellation: Cancellation) -> None:
    """Asks the order to cancel (Signal); compensation runs in the workflow."""
    await _signal(client, order_id, c.SIGNAL_CANCEL, cancellation)


async def reassign(client: Client, order_id: str, reassignment: Reassignment) -> None:
    """Gives a waiting step to someone else (Signal)."""
    await _signal(client, order_id, c.SIGNAL_REASSIGN, reassignment)


async def add_note(client: Client, order_id: str, note: Note) -> None:
    """Adds `note` to the order's timeline (Signal), e.g. a duplicate report merged in."""
    await _signal(client, order_id, c.SIGNAL_ADD_NOTE, note)


async def hold_sla(client: Client, order_id: str, hold: SlaHold, *, resume: bool) -> None:
    """Pauses (or resumes) the SLA clock of a waiting step (Signal `sla_pause`/`sla_resume`)."""
    await _signal(client, order_id, c.SIGNAL_SLA_RESUME if resume else c.SIGNAL_SLA_PAUSE, hold)


async def _signal(client: Client, order_id: str, name: str, arg: Any) -> None:
    """Signals the order within QUERY_TIMEOUT. Only "no such order" means it is closed;
    Temporal being unreachable or slow propagates (the API answers 503, retry later)."""
    try:
        await client.get_workflow_handle(order_id).signal(name, arg, rpc_timeout=QUERY_TIMEOUT)
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            raise _closed(order_id, err) from err
        raise


FIRST_TASK_EVENTS = 2
"""A started workflow's history before any worker took its first task (started, task
scheduled): a `state` query would wait for a worker until it times out."""


async def _describe(client: Client, order_id: str) -> WorkflowExecutionDescription | None:
    try:
        return await client.get_workflow_handle(order_id).describe(rpc_timeout=QUERY_TIMEOUT)
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return None
        raise


async def described(client: Client, order_id: str) -> OrderState | None:
    """What Temporal itself knows of an order when no worker answers its `state` query
    (none running yet, or all busy): its status, definition and placement from the search
    attributes and memo, nothing active. None when Temporal knows no such order."""
    description = await _describe(client, order_id)
    return None if description is None else await _state_from(order_id, description)


async def first_state(client: Client, order_id: str) -> OrderState | None:
    """The state of an order the read model does not know yet: Temporal's description while
    no worker has taken its first task (asking the workflow would only wait the query's
    timeout), else the live state, else the description. None when there is no such order."""
    description = await _describe(client, order_id)
    if description is None:
        return None
    if description.history_length > FIRST_TASK_EVENTS:
        state = await live_state(client, order_id)
        if state is not None:
            return state
    return await _state_from(order_id, description)


async def _state_from(order_id: str, description: WorkflowExecutionDescription) -> OrderState:
    found = description.typed_search_attributes
    memo = await description.memo()
    return OrderState(
        order_id=order_id,
        definition_key=str(memo.get("definition_key") or found.get(c.SA_DEFINITION_KEY) or ""),
        definition_version=int(memo.get("definition_version") or 0),
        status=_status_of(description.status, str(found.get(c.SA_STATUS) or "running")),
        context=OrderContext(
            region=str(found.get(c.SA_REGION) or ""),
            outlet=str(found.get(c.SA_OUTLET) or ""),
            priority=int(found.get(c.SA_PRIORITY) or 3),
        ),
        active=[],
        variables={},
        timeline=[],
        breaches=[],
    )


def _status_of(execution: WorkflowExecutionStatus | None, listed: str) -> Any:
    """The order's status as a `state` query would say it, from Temporal's own."""
    if execution == WorkflowExecutionStatus.CANCELED:
        return "cancelled"
    if execution in (WorkflowExecutionStatus.FAILED, WorkflowExecutionStatus.TERMINATED):
        return "failed"
    return listed
