"""Dependencies: the database session, the Temporal client, and who is calling."""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client

from api.security import AccessClaims, LoginLimiter, decode_access_token
from servflow.orders.watch import StepWatch
from servflow.org import service as org
from servflow.org.rules import (
    DESIGN_ROLES,
    MANAGE_ROLES,
    MASTER_DATA_ROLES,
    MONEY_ROLES,
    START_ROLES,
    Principal,
    is_demo_api_key,
)
from servflow.org.service import principal_of
from servflow.platform.errors import Forbidden, Unauthorized
from servflow.platform.security import hash_api_key
from servflow.platform.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class AppContext:
    """What the app was built with (see api.main.create_app); lives on `app.state.ctx`."""

    settings: Settings
    session_factory: sessionmaker[Session]
    jwt_secret: str
    task_queue: str
    temporal_client: Client | None = None
    actor_key: str = ""
    """Signs each step submission's actor for the order (servflow.orders.engine.submit)."""
    principals: PrincipalCache = field(default_factory=lambda: PrincipalCache(seconds=0))
    logins: LoginLimiter = field(default_factory=lambda: LoginLimiter(per_minute=10))
    step_watch: StepWatch = field(init=False)

    def __post_init__(self) -> None:
        self.step_watch = StepWatch(self.session_factory)


class PrincipalCache:
    """Who a credential belongs to, kept for a few seconds so that a field app polling an
    order does not cost a user lookup per request. A logout, password change, disable or
    revoked key made through this replica drops the user's entries at once (`drop_user`);
    other replicas may serve them for up to `seconds` (settings.auth_cache_seconds; 0 turns
    the cache off)."""

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

    def drop(self, key: str) -> None:
        self._entries.pop(key, None)

    def drop_user(self, user_id: int) -> None:
        """Forgets every credential of the user (their tokens and keys)."""
        for key in [k for k, (_, p) in self._entries.items() if p.id == user_id]:
            del self._entries[key]


def token_cache_key(token: str) -> str:
    return f"jwt:{hashlib.sha256(token.encode()).hexdigest()}"


# The cheap dependencies are `async def` so FastAPI calls them inline instead of on a thread.
async def get_ctx(request: Request) -> AppContext:
    return request.app.state.ctx  # type: ignore[no-any-return]


CtxDep = Annotated[AppContext, Depends(get_ctx)]


def get_session(ctx: CtxDep) -> Iterator[Session]:
    session = ctx.session_factory()
    try:
        yield session
    finally:
        try:
            session.close()
        except SQLAlchemyError:
            # The connection died under the session (a terminated PostgreSQL backend): the
            # pool discards it; the request's answer must not be lost to a teardown error.
            log.warning("database session teardown failed", exc_info=True)


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


async def bearer_claims(
    ctx: CtxDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> AccessClaims | None:
    """The claims of the bearer token (None without one).

    Raises:
        Unauthorized: a malformed, forged, expired or over-long token.
    """
    if credentials is None:
        return None
    max_ttl = timedelta(minutes=ctx.settings.jwt_max_ttl_minutes)
    claims = decode_access_token(credentials.credentials, secret=ctx.jwt_secret, max_ttl=max_ttl)
    if claims is None:
        raise Unauthorized("invalid or expired token (Authorization)")
    return claims


def _token_principal(session: Session, claims: AccessClaims) -> Principal:
    user = org.get_user(session, user_id=claims.user_id)
    if user is None or not user.is_active:
        raise Unauthorized("the token's user no longer exists or is inactive")
    changed = user.password_changed_at
    if changed is not None and claims.issued_at < changed.timestamp():
        raise Unauthorized("the token was issued before a password change: log in again")
    if org.token_revoked(session, jti=claims.jti):
        raise Unauthorized("the token was logged out")
    return dataclasses.replace(principal_of(user), demo=claims.demo)


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
        cache_key = token_cache_key(credentials.credentials)
    else:
        raise Unauthorized("not authenticated: send Authorization: Bearer or X-API-Key")
    cached = ctx.principals.get(cache_key)
    if cached is not None:
        return cached
    claims = None if api_key else await bearer_claims(ctx, credentials)
    demo = ctx.settings.demo

    def lookup() -> Principal:
        with ctx.session_factory() as session:
            if claims is not None:
                return _token_principal(session, claims)
            user = org.api_key_user(session, key=api_key or "", demo=demo)
            principal = principal_of(user, via_api_key=True)
            return dataclasses.replace(principal, demo=demo and is_demo_api_key(api_key or ""))

    principal = await run_in_threadpool(lookup)
    left = None if claims is None else claims.expires_at - time.time()
    ctx.principals.put(cache_key, principal, at_most=left)
    return principal


CurrentUser = Annotated[Principal, Depends(current_user)]
BearerClaims = Annotated[AccessClaims | None, Depends(bearer_claims)]


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
# A row id in a path: every id column is an INTEGER on both stores, so a larger number is
# a 422 naming the parameter, never an overflow in the driver.
IdPath = Annotated[int, Path(ge=1, le=2_147_483_647)]
