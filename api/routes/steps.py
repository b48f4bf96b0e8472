"""Acting on work orders: submit a human step, cancel, reassign, and my tasks."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Header, Query
from temporalio.client import Client

from api.deps import AppContext, CtxDep, CurrentUser, Manager, TemporalDep
from api.order_access import best_effort, db, visible_order
from api.schemas import (
    ERRORS,
    Accepted,
    CancelRequest,
    DataList,
    ReassignRequest,
    StepDone,
    StepSubmit,
    TaskPublic,
)
from servflow.definitions import service as definitions
from servflow.inventory import service as inventory
from servflow.orders import engine, steps
from servflow.orders import service as orders
from servflow.orders.rules import CLOSED_STATUSES, step_update_id
from servflow.org.rules import Principal
from servflow.platform.base import utcnow
from servflow.platform.errors import Conflict
from workflows.contracts import (
    Actor,
    Cancellation,
    Reassignment,
    StepAccepted,
    StepSubmission,
)

router = APIRouter(prefix="/api", tags=["orders"])


# A step the read model shows waiting may not be the order's yet for a moment (its worker
# restarted and is replaying): so many short retries before its 409 is believed.
CATCH_UP_TRIES = 5


async def _submit(
    ctx: AppContext,
    client: Client,
    order_id: str,
    submission: StepSubmission,
    update_id: str | None,
) -> StepAccepted:
    wait = timedelta(seconds=ctx.settings.step_wait_seconds)
    for attempt in range(1, CATCH_UP_TRIES + 1):
        try:
            return await engine.submit(
                client,
                order_id,
                submission,
                actor_key=ctx.actor_key,
                update_id=update_id,
                wait=wait,
            )
        except Conflict:
            seen = await ctx.step_watch.now(order_id)
            waiting = any(s.node_id == submission.node_id for s in seen.steps)
            if not waiting or attempt == CATCH_UP_TRIES:
                raise
            await asyncio.sleep(0.2 * attempt)
    raise AssertionError("unreachable")


async def _record_accepted(ctx: AppContext, order_id: str, accepted: StepAccepted) -> None:
    what = f"step {order_id}/{accepted.node_id}"
    await best_effort(
        ctx, what, steps.record_submitted, order_id=order_id, accepted=accepted, now=utcnow()
    )


@router.post("/orders/{order_id}/steps/{node_id}", response_model=StepDone, responses=ERRORS)
async def submit_step(
    order_id: str,
    node_id: str,
    body: StepSubmit,
    user: CurrentUser,
    ctx: CtxDep,
    client: TemporalDep,
    background: BackgroundTasks,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            max_length=200,
            description="a retry with the same key is answered with the first result",
        ),
    ] = None,
) -> StepDone:
    """Completes a human step as the authenticated user (Temporal Update `submit_step`).

    409: the step is not waiting; 403: the step is assigned to someone else; 422: the form
    has errors (`errors` names each field as `data.<field>`); 504: the order did not take
    the step in time (retry with the same Idempotency-Key: it is never applied twice).
    """
    row, state = await visible_order(ctx, client, user, order_id, want_state=False)
    # Parts are checked against the catalogue and stock here: the Update validator does no I/O.
    await db(ctx, inventory.check_parts, order=row or state, node_id=node_id, data=body.data)
    submission = StepSubmission(
        node_id=node_id,
        actor=Actor(user_id=user.username, roles=list(user.roles), display_name=user.display_name),
        data=body.data,
        outcome=body.outcome,
    )
    accepted = await _submit(
        ctx,
        client,
        order_id,
        submission,
        step_update_id(user.username, order_id, node_id, idempotency_key),
    )
    if accepted.step is not None:
        # After the answer is sent: the field app need not wait for the list's copy, and the
        # next activity writes the same row anyway if this one never lands.
        background.add_task(_record_accepted, ctx, order_id, accepted)
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
    await engine.cancel(client, order_id, Cancellation(reason=body.reason, by=user.username))
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
    if not any(a.node_id == body.node_id and a.human for a in state.active):
        waiting = ", ".join(a.node_id for a in state.active if a.human) or "none"
        raise Conflict(
            f"node_id: step '{body.node_id}' is not waiting (waiting: {waiting})",
            errors={"node_id": "not a waiting step"},
        )
    await db(ctx, orders.check_reassign_target, user, row=row, state=state, username=body.user_id)
    await engine.reassign(
        client,
        order_id,
        Reassignment(
            node_id=body.node_id, user_id=body.user_id, by=user.username, reason=body.reason
        ),
    )
    await best_effort(
        ctx,
        f"reassignment of {order_id} to {body.user_id}",
        steps.hand_over,
        order_id=order_id,
        node_id=body.node_id,
        username=body.user_id,
    )
    return Accepted(order_id=order_id)


def _tasks(session: Any, user: Principal, limit: int) -> list[TaskPublic]:
    waiting = orders.waiting_for(session, user, limit=limit)
    names = definitions.node_names(
        session, {(o.definition_key, o.definition_version) for _s, o in waiting}
    )
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


@router.get("/my/tasks", response_model=DataList[TaskPublic], responses=ERRORS)
async def read_my_tasks(
    user: CurrentUser,
    ctx: CtxDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 100,
) -> DataList[TaskPublic]:
    """Human steps waiting for the caller: assigned to them, or to one of their roles on an
    order they may see. From the read model, which each order updates the moment a step
    starts waiting; most urgent order first."""
    return DataList(data=await db(ctx, _tasks, user, limit))
