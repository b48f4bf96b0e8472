"""Dependencies: the database session, the Temporal client, and who is calling."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client

from api.security import decode_access_token
from servflow.orders.watch import StepWatch
from servflow.org import service as org
from servflow.org.rules import (
    DESIGN_ROLES,
    MANAGE_ROLES,
    MASTER_DATA_ROLES,
    MONEY_ROLES,
    START_ROLES,
    Principal,
)
from servflow.org.service import principal_of
from servflow.platform.errors import Forbidden, Unauthorized
from servflow.platform.security import hash_api_key
from servflow.platform.settings import Settings


@dataclass
class AppContext:
    """What the app was built with (see api.main.create_app); lives on `app.state.ctx`."""

    settings: Settings
    session_factory: sessionmaker[Session]
    jwt_secret: str
    task_queue: str
    temporal_client: Client | None = None
    principals: PrincipalCache = field(default_factory=lambda: PrincipalCache(seconds=0))
    step_watch: StepWatch = field(init=False)

    def __post_init__(self) -> None:
        self.step_watch = StepWatch(self.session_factory)


class PrincipalCache:
    """Who a credential belongs to, kept for a few seconds so that a field app polling an
    order does not cost a user lookup per request. A revoked key or deactivated user stops
    working within `seconds` (settings.auth_cache_seconds; 0 turns the cache off)."""

    def __init__(self, *, seconds: float, limit: int = 10_000) -> None:
        self.seconds, self.limit = seconds, limit
        self._entries: dict[str, tuple[float, Principal]] = {}

    def get(self, key: str) -> Principal | None:
        entry = self._entries.get(key)
        if entry is None or entry[0] < time.monotonic():
            return None
        return entry[1]

    def put(self, key: str, principal: Principal, *, at_most: float | None = None) -> None:
        """Keeps `principal` for `seconds`, or `at_most` seconds when that is shorter (the
        time left on the credential itself)."""
        keep = self.seconds if at_most is None else min(self.seconds, at_most)
        if keep <= 0:
            return
        if len(self._entries) >= self.limit:
            self._entries.clear()
        self._entries[key] = (time.monotonic() + keep, principal)


# The cheap dependencies are `async def` so FastAPI calls them inline instead of on a thread.
async def get_ctx(request: Request) -> AppContext:
    return request.app.state.ctx  # type: ignore[no-any-return]


CtxDep = Annotated[AppContext, Depends(get_ctx)]


def get_session(ctx: CtxDep) -> Iterator[Session]:
    with ctx.session_factory() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


async def get_temporal(ctx: CtxDep) -> Client:
    if ctx.temporal_client is None:
        raise RuntimeError("the API was started without a Temporal client")
    return ctx.temporal_client


TemporalDep = Annotated[Client, Depends(get_temporal)]

bearer = HTTPBearer(auto_error=False, description="JWT from POST /api/auth/login")
api_key_header = APIKeyHeader(
    name="X-API-Key", auto_error=False, description="API key of an API client"
)


async def current_user(
    ctx: CtxDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    api_key: Annotated[str | None, Depends(api_key_header)],
) -> Principal:
    if api_key:
        cache_key = f"key:{hash_api_key(api_key)}"
    elif credentials is not None:
        # Keyed by the token itself, so a polling client skips the signature check too;
        # kept no longer than the token is valid.
        cache_key = f"jwt:{hashlib.sha256(credentials.credentials.encode()).hexdigest()}"
    else:
        raise Unauthorized("not authenticated: send Authorization: Bearer or X-API-Key")
    cached = ctx.principals.get(cache_key)
    if cached is not None:
        return cached
    left: float | None = None  # seconds the credential stays valid (None: no expiry)
    user_id = 0
    if credentials is not None and not api_key:
        claims = decode_access_token(credentials.credentials, secret=ctx.jwt_secret)
        if claims is None or not str(claims["sub"]).isdigit():
            raise Unauthorized("invalid or expired token (Authorization)")
        user_id = int(claims["sub"])
        left = float(claims["exp"]) - time.time()

    def lookup() -> Principal:
        with ctx.session_factory() as session:
            if api_key:
                user = org.user_by_api_key(session, key=api_key)
                if user is None:
                    raise Unauthorized("invalid or revoked API key (X-API-Key)")
                return principal_of(user, via_api_key=True)
            user = org.get_user(session, user_id=user_id)
            if user is None or not user.is_active:
                raise Unauthorized("the token's user no longer exists or is inactive")
            return principal_of(user)

    principal = await run_in_threadpool(lookup)
    ctx.principals.put(cache_key, principal, at_most=left)
    return principal


CurrentUser = Annotated[Principal, Depends(current_user)]


def require_roles(*roles: str) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency admitting only callers holding one of `roles`."""

    # async although it awaits nothing: FastAPI runs plain `def` dependencies on a thread.
    async def check(user: CurrentUser) -> Principal:
        if not user.has(*roles):
            raise Forbidden(f"this needs one of the roles: {', '.join(roles)}")
        return user

    return check


Designer = Annotated[Principal, Depends(require_roles(*DESIGN_ROLES))]
Starter = Annotated[Principal, Depends(require_roles(*START_ROLES))]
Manager = Annotated[Principal, Depends(require_roles(*MANAGE_ROLES))]
MoneyReader = Annotated[Principal, Depends(require_roles(*MONEY_ROLES))]
MasterDataEditor = Annotated[Principal, Depends(require_roles(*MASTER_DATA_ROLES))]

VersionPath = Annotated[int, Path(ge=1, le=2_147_483_647)]
