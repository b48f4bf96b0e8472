"""Liveness and readiness probes for load balancers and orchestrators (no authentication:
they tell nothing but whether this replica can serve).

- `GET /healthz`: the process answers; touches nothing else.
- `GET /readyz`: the database answers `SELECT 1` and Temporal answers its health check,
  each within a few seconds; 503 names the check that failed and why in a few words (the
  full error goes to the log, never to the caller).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Literal

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import text
from temporalio.service import RPCError

from api.deps import AppContext, CtxDep

log = logging.getLogger(__name__)

CHECK_SECONDS = 2.0
router = APIRouter(tags=["operations"])


class Alive(BaseModel):
    status: Literal["ok"] = "ok"


class Readiness(BaseModel):
    status: Literal["ready", "not ready"]
    checks: dict[str, str]
    """Each dependency: "ok", or what is wrong with it."""


@router.get("/healthz", response_model=Alive)
async def read_liveness() -> Alive:
    """The process is up and answering."""
    return Alive()


def _select_one(ctx: AppContext) -> None:
    with ctx.session_factory() as session:
        session.execute(text("SELECT 1"))


async def _database(ctx: AppContext) -> None:
    await run_in_threadpool(_select_one, ctx)


async def _temporal(ctx: AppContext) -> None:
    if ctx.temporal_client is None:
        raise RuntimeError("no client")
    await ctx.temporal_client.service_client.check_health(timeout=timedelta(seconds=CHECK_SECONDS))


async def _check(name: str, probe: Callable[[AppContext], Awaitable[None]], ctx: AppContext) -> str:
    """ "ok", or a short reason: the error's kind, without its text (which may quote hosts,
    users or SQL)."""
    try:
        await asyncio.wait_for(probe(ctx), timeout=CHECK_SECONDS)
    except TimeoutError:
        log.warning("readiness: %s did not answer within %ss", name, CHECK_SECONDS)
        return f"no answer within {CHECK_SECONDS:g}s"
    except RPCError as exc:
        log.warning("readiness: %s failed: %s", name, exc)
        return f"unavailable ({exc.status.name})"
    except Exception as exc:
        log.warning("readiness: %s failed", name, exc_info=True)
        return f"unavailable ({type(exc).__name__})"
    return "ok"


@router.get("/readyz", response_model=Readiness, responses={503: {"model": Readiness}})
async def read_readiness(ctx: CtxDep) -> Readiness | JSONResponse:
    """Ready when the database and Temporal both answer; otherwise 503 naming which not."""
    database, temporal = await asyncio.gather(
        _check("database", _database, ctx), _check("temporal", _temporal, ctx)
    )
    checks = {"database": database, "temporal": temporal}
    if all(result == "ok" for result in checks.values()):
        return Readiness(status="ready", checks=checks)
    body = Readiness(status="not ready", checks=checks)
    return JSONResponse(body.model_dump(), status_code=503)
