"""Work orders over HTTP: start, test-run, list, and follow an order."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response

from api.deps import CtxDep, CurrentUser, Designer, MoneyReader, Starter, TemporalDep
from api.order_access import db, visible_order
from api.schemas import (
    ERRORS,
    DataList,
    OrderCreate,
    OrderDetail,
    OrderOutcome,
    OrderPublic,
    OrderStarted,
    Page,
    SettlementPublic,
    StepPublic,
    TestRunCreate,
    WaitingSteps,
    page_of,
)
from servflow.billing import service as billing
from servflow.orders import engine
from servflow.orders import service as orders
from servflow.orders import steps as read_model
from servflow.orders.rules import (
    CLOSED_STATUSES,
    check_variables,
    fingerprint,
    order_id_for,
    redact_money,
    test_key,
)
from servflow.org.rules import MONEY_ROLES, Principal
from servflow.platform.base import utcnow
from servflow.platform.errors import Conflict, Invalid
from workflows.contracts import Note, OrderContext
from workflows.definition import Definition

router = APIRouter(prefix="/api", tags=["orders"])


def _checked(definition: Definition, variables: dict[str, Any]) -> None:
    errors = check_variables(definition, variables)
    if errors:
        raise Invalid(f"variables: {next(iter(errors.values()))}", errors=errors)


def _require_key_of_api_clients(user: Principal, idempotency_key: str | None) -> None:
    if user.has("api_client") and not idempotency_key:
        raise Invalid(
            "Idempotency-Key header is required for API clients",
            errors={"Idempotency-Key": "is required"},
        )


def _started(started: engine.Started, *, test: bool = False) -> OrderStarted:
    return OrderStarted(
        order_id=started.order_id,
        status=started.status,
        definition_key=started.definition_key,
        definition_version=started.definition_version,
        test=test,
    )


async def _duplicate_of(
    ctx: Any,
    client: Any,
    user: Principal,
    body: OrderCreate,
    definition: Definition,
    order_id: str,
) -> OrderStarted | None:
    """A duplicate of an open order: 409 naming it, or (`merge_into_open`) the new report's
    contact, photos and variables added to its timeline, answered as that order."""
    customer = body.customer.model_dump(mode="json", exclude_none=True)
    found = await db(
        ctx,
        orders.open_duplicate,
        definition=definition,
        customer=customer,
        variables=body.variables,
        now=utcnow(),
        order_id=order_id,
    )
    if found is None:
        return None
    name = found.order_no or found.order_id
    if not body.merge_into_open:
        raise Conflict(
            f"duplicate: order {name} for this customer and fault is still open ({found.status});"
            " send merge_into_open to add this report to it",
            order_id=found.order_id,
            order_no=found.order_no,
        )
    note = Note(
        by=user.username,
        summary=f"重复报修已合并 / duplicate report merged ({customer.get('phone', '')})",
        data={"customer": customer, "variables": body.variables, "priority": body.priority},
    )
    await engine.add_note(client, found.order_id, note)
    return OrderStarted(
        order_id=found.order_id,
        status=found.status,
        definition_key=found.definition_key,
        definition_version=found.definition_version,
        merged=True,
    )


async def _prepared(
    ctx: Any, prepare: Any, user: Principal, body: OrderCreate | TestRunCreate, **extra: Any
) -> tuple[orders.Placement, Definition, dict[str, Definition]]:
    """Where the order belongs and the pipeline (with sub-pipelines) it runs, as `prepare`
    (orders.prepare_start or prepare_test_run) finds them; its variables checked."""
    placement, definition, subs = await db(
        ctx,
        prepare,
        user,
        region=body.region,
        outlet=body.outlet,
        key=body.definition_key,
        version=body.version,
        **extra,
    )
    _checked(definition, body.variables)
    return placement, definition, subs


def _context(body: OrderCreate, user: Principal, placement: orders.Placement) -> OrderContext:
    return OrderContext(
        region=placement.region_label,
        outlet=placement.outlet,
        priority=body.priority,
        customer=body.customer.model_dump(mode="json", exclude_none=True),
        started_by=user.username,
    )


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
    _require_key_of_api_clients(user, idempotency_key)
    placement, definition, subs = await _prepared(ctx, orders.prepare_start, user, body)
    order_id = order_id_for(user.username, idempotency_key)
    merged = await _duplicate_of(ctx, client, user, body, definition, order_id)
    if merged is not None:
        response.status_code = 200
        return merged
    new = engine.NewOrder(
        order_id=order_id,
        definition=definition,
        subdefinitions=subs,
        variables=body.variables,
        context=_context(body, user, placement),
        placement=placement,
        fingerprint=fingerprint(body.model_dump(mode="json")),
    )
    started = await engine.start(client, ctx.task_queue, new)
    if not started.created:
        response.status_code = 200
    return _started(started)


@router.post("/orders/test-run", status_code=201, response_model=OrderStarted, responses=ERRORS)
async def create_test_run(
    body: TestRunCreate, user: Designer, ctx: CtxDep, client: TemporalDep
) -> OrderStarted:
    """Runs a draft (or a published version) as a test order in a sandbox.

    Its effects are simulated: dispatch shows whom it would choose but assigns no one,
    settlement shows the amounts but writes none, notify shows the message but sends
    nothing. Only its designer sees it (no list, task or total counts it). The definition
    key gets the suffix `-test` and `started_by` is `test-run:<user>`.
    """
    placement, definition, subs = await _prepared(
        ctx, orders.prepare_test_run, user, body, draft=body.definition
    )
    customer = body.customer.model_dump(mode="json", exclude_none=True) if body.customer else {}
    started_by = orders.test_run_by(user.username)
    new = engine.NewOrder(
        order_id=f"{orders.TEST_ORDER_PREFIX}{order_id_for(user.username, None)}",
        definition=definition.model_copy(update={"key": test_key(definition.key)}),
        subdefinitions=subs,
        variables=body.variables,
        context=OrderContext(
            region=placement.region_label,
            outlet=placement.outlet,
            customer=customer or {"name": f"test run by {user.username}"},
            started_by=started_by,
        ),
        placement=placement,
        sandbox=True,
    )
    # Written before the workflow starts, so no step of it is ever listed as a real order.
    await db(
        ctx,
        read_model.open_test_run,
        order_id=new.order_id,
        definition_key=new.definition.key,
        definition_version=definition.version,
        region=placement.region,
        org_path=placement.path,
        started_by=started_by,
        now=utcnow(),
    )
    return _started(await engine.start(client, ctx.task_queue, new), test=True)


def _orders_page(
    session: Any,
    user: Principal,
    *,
    status: str | None,
    region: str | None,
    definition_key: str | None,
    limit: int,
    offset: int,
    filters: orders.DeskFilters | None = None,
) -> Page[OrderPublic]:
    found = orders.search_orders(
        session,
        user,
        status=status,
        region=region,
        definition_key=definition_key,
        limit=limit,
        offset=offset,
        filters=filters,
    )
    return page_of(found, OrderPublic.model_validate)


@router.get("/orders", response_model=Page[OrderPublic], responses=ERRORS)
async def read_orders(
    request: Request,
    user: CurrentUser,
    ctx: CtxDep,
    status: Annotated[str | None, Query(max_length=32)] = None,
    region: Annotated[str | None, Query(max_length=64)] = None,
    definition_key: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    q: Annotated[
        str | None,
        Query(max_length=64, description="order number or id, customer name or phone"),
    ] = None,
    outlet: Annotated[str | None, Query(max_length=64)] = None,
    start: Annotated[
        datetime | None, Query(alias="from", description="created at or after")
    ] = None,
    end: Annotated[datetime | None, Query(alias="to", description="created before")] = None,
    definition_version: Annotated[int | None, Query(ge=1, le=2_147_483_647)] = None,
) -> Page[OrderPublic]:
    """Orders the caller may see, newest first, from the read model: searched by order
    number (or id), customer name or phone (`q`), status, region, outlet, creation time
    (`from`, `to` exclusive) and pipeline (`definition_key`, `definition_version`).
    A parameter this search does not know is refused (422 naming it), never ignored."""
    unknown = sorted(set(request.query_params) - _SEARCH_PARAMS)
    if unknown:
        raise Invalid(
            f"unknown query parameter(s): {', '.join(unknown)}",
            errors={name: "is not a search parameter" for name in unknown},
        )
    filters = orders.DeskFilters(
        q=q or "",
        outlet=outlet or "",
        created_from=_utc(start),
        created_to=_utc(end),
        definition_version=definition_version,
    )
    page: Page[OrderPublic] = await db(
        ctx,
        _orders_page,
        user,
        status=status,
        region=region,
        definition_key=definition_key,
        limit=limit,
        offset=offset,
        filters=filters,
    )
    return page


_SEARCH_PARAMS = frozenset(
    {"status", "region", "definition_key", "definition_version", "limit", "offset"}
    | {"q", "outlet", "from", "to"}
)


def _utc(value: datetime | None) -> datetime | None:
    """A time without an offset is taken as UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def _details(
    session: Any, order_id: str, money: bool
) -> tuple[list[StepPublic], list[SettlementPublic]]:
    steps = [StepPublic.model_validate(s) for s in orders.list_steps(session, order_id=order_id)]
    settlements = (
        [
            SettlementPublic.model_validate(s)
            for s in billing.list_settlements(session, order_id=order_id)
        ]
        if money
        else []
    )
    return steps, settlements


def _from_read_model(session: Any, user: Principal, order_id: str, money: bool) -> Any:
    row = orders.get_order(session, order_id=order_id)
    if row is None or not orders.may_see(session, user, row=row, state=None):
        return None  # not written yet, or visible only through the live state
    return row, *_details(session, order_id, money)


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
    known = await db(ctx, _from_read_model, user, order_id, money)
    if known is not None:
        row, steps, settlements = known
        state = await engine.live_state(client, order_id) if live else None
    else:
        row, state = await visible_order(ctx, client, user, order_id)
        steps, settlements = await db(ctx, _details, order_id, money)
    if not money:
        steps, state = redact_money(steps, state)
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
    ended = await engine.outcome(client, order_id, wait=wait)
    listed = row.status if row else "running"
    if ended is None:
        # Gone from Temporal (past retention): the read model remembers how it ended.
        return OrderOutcome(order_id=order_id, closed=listed in CLOSED_STATUSES, status=listed)
    return OrderOutcome(
        order_id=order_id, closed=ended.closed, status=ended.status if ended.closed else listed
    )


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
    steps = [StepPublic.model_validate(s) for s in seen.steps]
    if not user.has(*MONEY_ROLES):
        steps, _ = redact_money(steps)
    return WaitingSteps(order_id=order_id, status=seen.status, closed=seen.closed, steps=steps)
