"""How order routes reach the store and find an order the caller may see."""

from __future__ import annotations

import logging
from typing import Any

from fastapi.concurrency import run_in_threadpool
from sqlalchemy.exc import SQLAlchemyError
from temporalio.client import Client

from api.deps import AppContext
from servflow.orders import engine
from servflow.orders import service as orders
from servflow.orders.models import WorkOrder
from servflow.org.rules import Principal
from servflow.platform.errors import NotFound
from workflows.contracts import OrderState

log = logging.getLogger(__name__)


async def db(ctx: AppContext, fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Runs `fn(session, *args, **kwargs)` in a fresh session on a worker thread."""

    def call() -> Any:
        with ctx.session_factory() as session:
            return fn(session, *args, **kwargs)

    return await run_in_threadpool(call)


async def best_effort(ctx: AppContext, what: str, fn: Any, *args: Any, **kwargs: Any) -> None:
    """A read-model write the answer does not depend on: the order's next activity writes
    the same rows if this one cannot happen now."""
    try:
        await db(ctx, fn, *args, **kwargs)
    except SQLAlchemyError:
        log.warning("%s: not written to the read model yet", what)


async def visible_order(
    ctx: AppContext, client: Client, user: Principal, order_id: str, *, want_state: bool = True
) -> tuple[WorkOrder | None, OrderState | None]:
    """The order's read-model row and live state, or NotFound when the caller may not see it.

    An order out of scope is reported exactly like a missing one, so ids leak nothing.
    """
    row = await db(ctx, orders.get_order, order_id=order_id)
    state = None
    if row is None or not row.org_path:
        # Just started: no worker may have taken it yet, but Temporal knows it.
        state = await engine.first_state(client, order_id)
    elif want_state:
        state = await engine.live_state(client, order_id)
    visible = await db(ctx, orders.may_see, user, row=row, state=state)
    if not visible and state is None and user.engineer_only:
        # The read model may lag a reassignment: ask the order itself before refusing.
        state = await engine.live_state(client, order_id)
        visible = await db(ctx, orders.may_see, user, row=row, state=state)
    if (row is None and state is None) or not visible:
        raise NotFound(f"no order '{order_id}'")
    return row, state
