"""Work orders over HTTP: start, list, follow, submit steps, cancel, reassign, my tasks."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Header, Query, Response
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import select, update
from sqlalchemy.exc import SQLAlchemyError
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowHandle,
    WorkflowQueryFailedError,
    WorkflowUpdateFailedError,
)
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import (
    ApplicationError,
    CancelledError,
    TerminatedError,
    WorkflowAlreadyStartedError,
)
from temporalio.service import RPCError, RPCStatusCode

from api.deps import (
    MONEY_ROLES,
    AppContext,
    CtxDep,
    CurrentUser,
    Designer,
    Manager,
    MoneyReader,
    Principal,
    Starter,
    TemporalDep,
)
from api.schemas import (
    ERRORS,
    Accepted,
    CancelRequest,
    DataList,
    OrderCreate,
    OrderDetail,
    OrderOutcome,
    OrderPublic,
    OrderStarted,
    Page,
    ReassignRequest,
    SettlementPublic,
    StepDone,
    StepPublic,
    StepSubmit,
    TaskPublic,
    TestRunCreate,
    WaitingSteps,
)
from servflow.definitions.service import validate_raw
from servflow.dispatch.repo import add_load, get_engineer_by_user
from servflow.orders import repo as order_repo
from servflow.orders import service as svc
from servflow.orders.models import CLOSED_STATUSES, WorkOrder, WorkOrderStep
from servflow.org.repo import find_region
from servflow.org.users import get_user_by_username
from servflow.platform.base import utcnow
from servflow.platform.errors import AppError, Conflict, Forbidden, Invalid, NotFound
from workflows import constants as c
from workflows.contracts import (
    Actor,
    Cancellation,
    OrderContext,
    OrderResult,
    OrderState,
    Reassignment,
    StartOrderInput,
    StepAccepted,
    StepSubmission,
)
from workflows.definition import Definition

router = APIRouter(prefix="/api", tags=["orders"])
log = logging.getLogger(__name__)

QUERY_TIMEOUT = timedelta(seconds=10)


# ---- helpers ------------------------------------------------------------------------------


async def db(ctx: AppContext, fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Runs `fn(session, *args, **kwargs)` in a fresh session on a worker thread."""

    def call() -> Any:
        with ctx.session_factory() as session:
            return fn(session, *args, **kwargs)

    return await run_in_threadpool(call)


async def live_state(client: Client, order_id: str) -> OrderState | None:
    """The workflow's `state` query, or None when the workflow is gone or unreachable."""
    try:
        return await client.get_workflow_handle(order_id).query(
            "state", result_type=OrderState, rpc_timeout=QUERY_TIMEOUT
        )
    except (RPCError, WorkflowQueryFailedError):
        return None


def _read_row(session: Any, order_id: str) -> WorkOrder | None:
    return order_repo.get_order(session, order_id=order_id)


async def visible_order(
    ctx: AppContext, client: Client, user: Principal, order_id: str, *, want_state: bool = True
) -> tuple[WorkOrder | None, OrderState | None]:
    """The order's read-model row and live state, or NotFound when the caller may not see it.

    An order out of scope is reported exactly like a missing one, so ids leak nothing.
    """
    row = await db(ctx, _read_row, order_id)
    state = None
    if want_state or row is None or not row.org_path:
        state = await live_state(client, order_id)
    visible = await db(ctx, lambda s: svc.may_see(s, user, row=row, state=state))
    if not visible and state is None and svc.is_engineer_only(user):
        # The read model may lag a reassignment: ask the order itself before refusing.
        state = await live_state(client, order_id)
        visible = await db(ctx, lambda s: svc.may_see(s, user, row=row, state=state))
    if (row is None and state is None) or not visible:
        raise NotFound(f"no order '{order_id}'")
    return row, state


def _search_attributes(
    definition: Definition, placement: svc.Placement, priority: int
) -> TypedSearchAttributes:
    pairs: list[tuple[Any, Any]] = [
        (c.SA_REGION, placement.region_label),
        (c.SA_OUTLET, placement.outlet),
        (c.SA_DEFINITION_KEY, definition.key),
        (c.SA_DEFINITION_VERSION, definition.version),
        (c.SA_STATUS, "running"),
        (c.SA_CURRENT_NODE, ""),
        (c.SA_PRIORITY, priority),
    ]
    return TypedSearchAttributes([SearchAttributePair(key, value) for key, value in pairs])


async def _start(
    ctx: AppContext,
    client: Client,
    *,
    order_id: str,
    definition: Definition,
    subdefinitions: dict[str, Definition],
    variables: dict[str, Any],
    context: OrderContext,
    placement: svc.Placement,
    request_fingerprint: str,
) -> WorkflowHandle[Any, OrderResult]:
    return await client.start_workflow(
        c.INTERPRETER_WORKFLOW,
        StartOrderInput(
            order_id=order_id,
            definition=definition,
            subdefinitions=subdefinitions,
            variables=variables,
            context=context,
        ),
        id=order_id,
        task_queue=ctx.task_queue,
        result_type=OrderResult,
        # A closed order keeps its id: a late retry finds it instead of starting a twin.
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        search_attributes=_search_attributes(definition, placement, context.priority),
        memo={
            "request": request_fingerprint,
            "definition_key": definition.key,
            "definition_version": definition.version,
        },
    )


async def _existing(client: Client, order_id: str, request_fingerprint: str) -> OrderStarted:
    description = await client.get_workflow_handle(order_id).describe()
    memo = await description.memo()
    if memo.get("request") != request_fingerprint:
        raise Conflict(
            "Idempotency-Key: this key was used for a different request; "
            f"it started order '{order_id}'",
            order_id=order_id,
        )
    status = description.typed_search_attributes.get(c.SA_STATUS) or "running"
    return OrderStarted(
        order_id=order_id,
        status=str(status),
        definition_key=str(memo.get("definition_key", "")),
        definition_version=int(memo.get("definition_version", 0)),
    )


# ---- start ------------------------------------------------------------------------------


@router.post("/orders", status_code=201, response_model=OrderStarted, responses=ERRORS)
async def create_order(
    body: OrderCreate,
    response: Response,
    user: Starter,
    ctx: CtxDep,
    client: TemporalDep,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            max_length=200,
            description="required for API clients; a retry with the same key returns the order",
        ),
    ] = None,
) -> OrderStarted:
    """Starts a work order on the published definition (201), or returns the order a retry
    with the same Idempotency-Key started (200)."""
    if user.has("api_client") and not idempotency_key:
        raise Invalid(
            "Idempotency-Key header is required for API clients",
            errors={"Idempotency-Key": "is required"},
        )
    order_id = svc.order_id_for(user.username, idempotency_key)
    request_fingerprint = svc.fingerprint(body.model_dump(mode="json"))

    def prepare(session: Any) -> tuple[svc.Placement, Definition, dict[str, Definition]]:
        placement = svc.resolve_placement(session, user, region=body.region, outlet=body.outlet)
        definition, subs = svc.load_snapshot(session, key=body.definition_key, version=body.version)
        return placement, definition, subs

    placement, definition, subs = await db(ctx, prepare)
    errors = svc.check_variables(definition, body.variables)
    if errors:
        raise Invalid(f"variables: {next(iter(errors.values()))}", errors=errors)
    context = OrderContext(
        region=placement.region_label,
        outlet=placement.outlet,
        priority=body.priority,
        customer=body.customer.model_dump(mode="json", exclude_none=True),
        started_by=user.username,
    )
    try:
        await _start(
            ctx,
            client,
            order_id=order_id,
            definition=definition,
            subdefinitions=subs,
            variables=body.variables,
            context=context,
            placement=placement,
            request_fingerprint=request_fingerprint,
        )
    except WorkflowAlreadyStartedError:
        response.status_code = 200
        return await _existing(client, order_id, request_fingerprint)
    return OrderStarted(
        order_id=order_id,
        status="running",
        definition_key=definition.key,
        definition_version=definition.version,
    )


@router.post("/orders/test-run", status_code=201, response_model=OrderStarted, responses=ERRORS)
async def create_test_run(
    body: TestRunCreate, user: Designer, ctx: CtxDep, client: TemporalDep
) -> OrderStarted:
    """Runs a draft (or a published version) as a test order.

    The definition key gets the suffix `-test` and `started_by` is `test-run:<user>`, so
    test orders are easy to tell apart and filter out.
    """

    def prepare(session: Any) -> tuple[svc.Placement, Definition, dict[str, Definition]]:
        placement = svc.resolve_placement(session, user, region=body.region, outlet=body.outlet)
        if body.definition is not None:
            report = validate_raw(session, body.definition)
            if report.definition is None:
                raise Invalid(
                    f"the definition has {len(report.problems)} problem(s)",
                    problems=[p.model_dump() for p in report.problems],
                )
            return placement, report.definition, svc.load_subdefinitions(session, report.definition)
        if not body.definition_key:
            raise Invalid(
                "give a definition or a definition_key",
                errors={"definition": "a definition or a definition_key is required"},
            )
        definition, subs = svc.load_snapshot(session, key=body.definition_key, version=body.version)
        return placement, definition, subs

    placement, definition, subs = await db(ctx, prepare)
    errors = svc.check_variables(definition, body.variables)
    if errors:
        raise Invalid(f"variables: {next(iter(errors.values()))}", errors=errors)
    test_key = definition.key[: 64 - len(svc.TEST_SUFFIX)] + svc.TEST_SUFFIX
    definition = definition.model_copy(update={"key": test_key})
    customer = body.customer.model_dump(mode="json", exclude_none=True) if body.customer else {}
    context = OrderContext(
        region=placement.region_label,
        outlet=placement.outlet,
        customer=customer or {"name": f"test run by {user.username}"},
        started_by=f"test-run:{user.username}",
    )
    order_id = f"test-{svc.order_id_for(user.username, None)}"
    await _start(
        ctx,
        client,
        order_id=order_id,
        definition=definition,
        subdefinitions=subs,
        variables=body.variables,
        context=context,
        placement=placement,
        request_fingerprint="",
    )
    return OrderStarted(
        order_id=order_id,
        status="running",
        definition_key=test_key,
        definition_version=definition.version,
        test=True,
    )


# ---- read -------------------------------------------------------------------------------


@router.get("/orders", response_model=Page[OrderPublic], responses=ERRORS)
async def read_orders(
    user: CurrentUser,
    ctx: CtxDep,
    status: Annotated[str | None, Query(max_length=32)] = None,
    region: Annotated[str | None, Query(max_length=64)] = None,
    definition_key: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> Page[OrderPublic]:
    """Orders the caller may see, newest first, from the read model."""

    def query(session: Any) -> Page[OrderPublic]:
        engineer_id = None
        scope: str | None = user.scope_path
        if svc.is_engineer_only(user):
            engineer_id = svc.engineer_id_of(session, user)
            if engineer_id is None:
                return Page(data=[], count=0)
            scope = None
        elif not scope:
            return Page(data=[], count=0)
        region_code = region
        if region:
            unit = find_region(session, code_or_name=region)
            region_code = unit.code if unit else region
        rows, count = order_repo.list_orders(
            session,
            scope_path=scope,
            status=status,
            region=region_code,
            definition_key=definition_key,
            engineer_id=engineer_id,
            limit=limit,
            offset=offset,
        )
        return Page(data=[OrderPublic.model_validate(r) for r in rows], count=count)

    return await db(ctx, query)  # type: ignore[no-any-return]


def _details(session: Any, order_id: str, money: bool) -> tuple[list[Any], list[Any]]:
    steps = [
        StepPublic.model_validate(s) for s in order_repo.list_steps(session, order_id=order_id)
    ]
    settlements = (
        [
            SettlementPublic.model_validate(s)
            for s in order_repo.list_settlements(session, order_id=order_id)
        ]
        if money
        else []
    )
    return steps, settlements


@router.get("/orders/{order_id}", response_model=OrderDetail, responses=ERRORS)
async def read_order(
    order_id: str,
    user: CurrentUser,
    ctx: CtxDep,
    client: TemporalDep,
    live: Annotated[
        bool,
        Query(
            description="false: answer from the read model alone, without asking the running "
            "order (cheaper for clients that poll; waiting human steps are the `steps` "
            "without `completed_at`); `state` is then null once the read model has the order"
        ),
    ] = True,
) -> OrderDetail:
    """The read-model row, its steps, its settlements (money roles only) and live state."""
    money = user.has(*MONEY_ROLES)

    def from_read_model(session: Any) -> tuple[WorkOrder | None, list[Any], list[Any]] | None:
        row = _read_row(session, order_id)
        if row is None or not svc.may_see(session, user, row=row, state=None):
            return None  # not written yet, or visible only through the live state
        return row, *_details(session, order_id, money)

    known = await db(ctx, from_read_model)
    if known is not None:
        row, steps, settlements = known
        state = await live_state(client, order_id) if live else None
    else:
        row, state = await visible_order(ctx, client, user, order_id)
        steps, settlements = await db(ctx, _details, order_id, money)
    return OrderDetail(
        order_id=order_id,
        order=OrderPublic.model_validate(row) if row is not None else None,
        steps=steps,
        settlements=settlements,
        state=state,
    )


@router.get(
    "/orders/{order_id}/settlements",
    response_model=DataList[SettlementPublic],
    responses=ERRORS,
)
async def read_order_settlements(
    order_id: str, user: MoneyReader, ctx: CtxDep, client: TemporalDep
) -> DataList[SettlementPublic]:
    await visible_order(ctx, client, user, order_id, want_state=False)
    _steps, settlements = await db(ctx, _details, order_id, True)
    return DataList(data=settlements)


@router.get("/orders/{order_id}/outcome", response_model=OrderOutcome, responses=ERRORS)
async def read_order_outcome(
    order_id: str,
    user: CurrentUser,
    ctx: CtxDep,
    client: TemporalDep,
    wait: Annotated[
        float,
        Query(ge=0, le=60, description="seconds to wait for the order to close (long poll)"),
    ] = 0,
) -> OrderOutcome:
    """How the order ended; with `wait`, answers as soon as it closes or when `wait` runs out
    (`closed: false`). One long poll replaces polling the order while the last automatic
    steps (settlement, closing) run."""
    row, _state = await visible_order(ctx, client, user, order_id, want_state=False)
    running = OrderOutcome(order_id=order_id, closed=False, status=row.status if row else "running")
    handle = client.get_workflow_handle(order_id, result_type=OrderResult)
    try:
        if wait == 0 and (await handle.describe()).status == WorkflowExecutionStatus.RUNNING:
            return running
        async with asyncio.timeout(wait or None):
            # Temporal long-polls for the close event: no worker is asked until it comes.
            result = await handle.result()
    except TimeoutError:
        return running
    except WorkflowFailureError as err:
        cause = err.cause
        status = (
            "cancelled"
            if isinstance(cause, CancelledError)
            else "terminated"
            if isinstance(cause, TerminatedError)
            else "failed"
        )
        return OrderOutcome(order_id=order_id, closed=True, status=status)
    except RPCError as err:
        if err.status != RPCStatusCode.NOT_FOUND:
            raise
        # Gone from Temporal (past retention): the read model remembers how it ended.
        closed = row is not None and row.status in CLOSED_STATUSES
        return running.model_copy(update={"closed": closed})
    return OrderOutcome(order_id=order_id, closed=True, status=result.status)


@router.get("/orders/{order_id}/waiting", response_model=WaitingSteps, responses=ERRORS)
async def read_waiting_steps(
    order_id: str,
    user: CurrentUser,
    ctx: CtxDep,
    client: TemporalDep,
    node_id: Annotated[
        str | None, Query(max_length=64, description="wait for this step in particular")
    ] = None,
    wait: Annotated[
        float,
        Query(ge=0, le=60, description="seconds to wait for a step to wait (long poll)"),
    ] = 0,
) -> WaitingSteps:
    """The order's human steps waiting for input, from the read model.

    With `wait`, a long poll: answers as soon as a step waits (with `node_id`, that step),
    or the order closes, or `wait` runs out (then with whatever waits). After submitting a
    step, pass the next step's `node_id`: the submitted one may still show for a moment."""
    await visible_order(ctx, client, user, order_id, want_state=False)
    seen = await ctx.step_watch.wait(order_id, node_id=node_id, timeout=wait) if wait else None
    if seen is None:
        seen = await ctx.step_watch.now(order_id)
    return WaitingSteps(
        order_id=order_id,
        status=seen.status,
        closed=seen.closed,
        steps=[StepPublic.model_validate(s) for s in seen.steps],
    )


# ---- act --------------------------------------------------------------------------------


async def _record_step_quietly(ctx: AppContext, order_id: str, accepted: StepAccepted) -> None:
    try:
        await db(ctx, _record_step, order_id, accepted)
    except SQLAlchemyError:
        log.warning("step %s/%s not written to the read model yet", order_id, accepted.node_id)


def _record_step(session: Any, order_id: str, accepted: StepAccepted) -> None:
    """Writes the accepted step to the read model at once (idempotent on order/node/visit)."""
    entry = accepted.step
    if entry is None:
        return
    now = utcnow()
    # Lock the order row first, as the activities do, so the two writers queue up instead
    # of deadlocking (the step's foreign key would otherwise wait on their row lock).
    order_repo.ensure_order(
        session,
        order_id=order_id,
        now=now,
        lock=True,
        defaults={
            "definition_key": accepted.definition_key,
            "definition_version": accepted.definition_version,
            "region": accepted.context.region,
            "priority": accepted.context.priority,
            "started_by": accepted.context.started_by,
            "status": accepted.status,
        },
    )
    order_repo.record_steps(
        session,
        order_id=order_id,
        steps=[
            {
                "node_id": entry.node_id,
                "node_type": entry.node_type,
                "visit": entry.visit,
                "actor": entry.actor,
                "outcome": entry.outcome,
                "data": entry.model_dump(mode="json")["data"],
                "started_at": entry.started_at,
                "completed_at": entry.completed_at,
            }
        ],
    )
    session.commit()


def _update_error(order_id: str, node_id: str, err: WorkflowUpdateFailedError) -> AppError:
    cause = err.cause
    if isinstance(cause, ApplicationError):
        message = cause.message
        if cause.type == "StepNotActive":
            return Conflict(message, node_id=node_id)
        if cause.type == "ActorNotAllowed":
            return Forbidden(message, node_id=node_id)
        if cause.type == "FormInvalid":
            details = cause.details[0] if cause.details else {}
            errors = {f"data.{k}": str(v) for k, v in dict(details or {}).items()}
            return Invalid(message, errors=errors, node_id=node_id)
        return Invalid(message, node_id=node_id)
    return Conflict(f"step '{node_id}' of order '{order_id}' was not accepted: {err}")


def _closed(order_id: str, err: RPCError) -> AppError:
    return Conflict(f"order '{order_id}' is no longer running ({err.message})")


@router.post("/orders/{order_id}/steps/{node_id}", response_model=StepDone, responses=ERRORS)
async def submit_step(
    order_id: str,
    node_id: str,
    body: StepSubmit,
    user: CurrentUser,
    ctx: CtxDep,
    client: TemporalDep,
    background: BackgroundTasks,
) -> StepDone:
    """Completes a human step as the authenticated user (Temporal Update `submit_step`).

    409: the step is not waiting; 403: the step is assigned to someone else; 422: the form
    has errors (`errors` names each field as `data.<field>`).
    """
    await visible_order(ctx, client, user, order_id, want_state=False)
    handle = client.get_workflow_handle(order_id)
    submission = StepSubmission(
        node_id=node_id,
        actor=Actor(user_id=user.username, roles=list(user.roles), display_name=user.display_name),
        data=body.data,
        outcome=body.outcome,
    )
    try:
        accepted = await handle.execute_update("submit_step", submission, result_type=StepAccepted)
    except WorkflowUpdateFailedError as err:
        raise _update_error(order_id, node_id, err) from err
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            raise _closed(order_id, err) from err
        raise
    if accepted.step is not None:
        # After the answer is sent: the field app need not wait for the list's copy, and the
        # next activity writes the same row anyway if this one never lands.
        background.add_task(_record_step_quietly, ctx, order_id, accepted)
    return StepDone(
        node_id=accepted.node_id,
        visit=accepted.visit,
        completed_at=accepted.completed_at,
        status=accepted.status,
        active=accepted.active,
    )


@router.post(
    "/orders/{order_id}/cancel", status_code=202, response_model=Accepted, responses=ERRORS
)
async def cancel_order(
    order_id: str, body: CancelRequest, user: Manager, ctx: CtxDep, client: TemporalDep
) -> Accepted:
    """Asks the order to cancel (Signal `cancel`); compensation runs in the workflow."""
    row, state = await visible_order(ctx, client, user, order_id)
    status = state.status if state is not None else (row.status if row else "")
    if status in CLOSED_STATUSES:
        raise Conflict(f"order '{order_id}' is {status} already")
    try:
        await client.get_workflow_handle(order_id).signal(
            "cancel", Cancellation(reason=body.reason, by=user.username)
        )
    except RPCError as err:
        raise _closed(order_id, err) from err
    return Accepted(order_id=order_id)


@router.post(
    "/orders/{order_id}/reassign", status_code=202, response_model=Accepted, responses=ERRORS
)
async def reassign_step(
    order_id: str, body: ReassignRequest, user: Manager, ctx: CtxDep, client: TemporalDep
) -> Accepted:
    """Gives a waiting step to another engineer within the order's region (Signal)."""
    row, state = await visible_order(ctx, client, user, order_id)
    if state is None or state.status in CLOSED_STATUSES:
        raise Conflict(f"order '{order_id}' is no longer running")
    active = next((a for a in state.active if a.node_id == body.node_id and a.human), None)
    if active is None:
        waiting = ", ".join(a.node_id for a in state.active if a.human) or "none"
        raise Conflict(
            f"node_id: step '{body.node_id}' is not waiting (waiting: {waiting})",
            errors={"node_id": "not a waiting step"},
        )

    def check_target(session: Any) -> None:
        target = get_user_by_username(session, username=body.user_id)
        if target is None or not target.is_active or "engineer" not in target.roles:
            raise Invalid(
                f"user_id: '{body.user_id}' is not an engineer",
                errors={"user_id": "must be an active engineer"},
            )
        order_path = (
            row.org_path
            if row is not None and row.org_path
            else svc.path_of_context(session, state.context.region, state.context.outlet)
        )
        region_path = svc.region_path_of(session, order_path)
        target_path = target.org_unit.path if target.org_unit else ""
        if not target_path or not (
            target_path == region_path or target_path.startswith(region_path.rstrip("/") + "/")
        ):
            raise Invalid(
                f"user_id: '{body.user_id}' works outside the order's region",
                errors={"user_id": "must work in the order's region"},
            )
        if not user.sees(target_path):
            raise Forbidden(f"engineer '{body.user_id}' is outside your scope")

    await db(ctx, check_target)
    try:
        await client.get_workflow_handle(order_id).signal(
            "reassign",
            Reassignment(
                node_id=body.node_id, user_id=body.user_id, by=user.username, reason=body.reason
            ),
        )
    except RPCError as err:
        raise _closed(order_id, err) from err
    try:
        await db(ctx, _hand_over, order_id, body.node_id, body.user_id)
    except SQLAlchemyError:
        log.warning("order %s: read model not moved to %s yet", order_id, body.user_id)
    return Accepted(order_id=order_id)


def _hand_over(session: Any, order_id: str, node_id: str, username: str) -> None:
    """Moves the order's engineer and waiting step in the read model, so lists, the order's
    steps and "my tasks" follow it.

    The open-job count moves with it: the activities release the current engineer's slot
    when the order closes, so the slot must be the new engineer's by then.
    """
    target = get_user_by_username(session, username=username)
    engineer = get_engineer_by_user(session, user_id=target.id) if target else None
    row = session.scalar(select(WorkOrder).where(WorkOrder.order_id == order_id).with_for_update())
    if engineer is None or row is None or row.completed_at is not None:
        return
    if row.current_engineer_id == engineer.id:
        return
    if row.current_engineer_id is not None:
        add_load(session, engineer_id=row.current_engineer_id, delta=-1)
    add_load(session, engineer_id=engineer.id, delta=1)
    row.current_engineer_id = engineer.id
    session.execute(
        update(WorkOrderStep)
        .where(
            WorkOrderStep.order_id == order_id,
            WorkOrderStep.node_id == node_id,
            WorkOrderStep.completed_at.is_(None),
        )
        .values(assignee=username)
    )
    session.commit()


@router.get("/my/tasks", response_model=DataList[TaskPublic], responses=ERRORS)
async def read_my_tasks(
    user: CurrentUser,
    ctx: CtxDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 100,
) -> DataList[TaskPublic]:
    """Human steps waiting for the caller: assigned to them, or to one of their roles on an
    order they may see. From the read model, which each order updates the moment a step
    starts waiting; most urgent order first."""

    def tasks(session: Any) -> list[TaskPublic]:
        waiting = svc.waiting_for(session, user, limit=limit)
        versions = {(o.definition_key, o.definition_version) for _s, o in waiting}
        names = svc.node_names(session, versions)
        return [
            TaskPublic(
                order_id=order.order_id,
                order_no=order.order_no,
                definition_key=order.definition_key,
                region=order.region,
                node_id=step.node_id,
                node_type=step.node_type,
                name=names.get(
                    (order.definition_key, order.definition_version, step.node_id), step.node_id
                ),
                visit=step.visit,
                since=step.started_at,
                assignee=step.assignee,
                sla_deadline=step.sla_deadline,
            )
            for step, order in waiting
        ]

    return DataList(data=await db(ctx, tasks))
