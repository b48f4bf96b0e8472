"""Password login, refresh and logout (JWT bearer tokens), and who am I."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, HTTPException, Request

from api.deps import (
    BearerClaims,
    CtxDep,
    CurrentUser,
    Principal,
    SessionDep,
    principal_of,
    token_cache_key,
)
from api.schemas import (
    ErrorBody,
    LoginRequest,
    LogoutRequest,
    MePublic,
    RefreshRequest,
    Token,
    UserPublic,
)
from api.security import create_access_token
from servflow.org import service as org
from servflow.org.rules import is_demo_password
from servflow.platform.errors import Unauthorized

if TYPE_CHECKING:
    from servflow.org.models import AppUser

router = APIRouter(prefix="/api", tags=["auth"])
AUTH_ERRORS: dict[int | str, dict[str, Any]] = {c: {"model": ErrorBody} for c in (401, 422, 429)}


def user_public(user: Principal) -> UserPublic:
    return UserPublic(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        roles=list(user.roles),
        scope_path=user.scope_path,
    )


def issue_tokens(session: SessionDep, ctx: CtxDep, user: AppUser, *, demo: bool = False) -> Token:
    """A new access token and refresh token for `user` (the caller commits)."""
    settings = ctx.settings
    minutes = min(settings.jwt_ttl_minutes, settings.jwt_max_ttl_minutes)
    access = create_access_token(
        user_id=user.id,
        username=user.username,
        secret=ctx.jwt_secret,
        ttl=timedelta(minutes=minutes),
        demo=demo,
    )
    refresh = org.issue_refresh_token(session, user_id=user.id)
    return Token(
        access_token=access,
        user=user_public(principal_of(user)),
        expires_in=minutes * 60,
        refresh_token=refresh,
    )


def _limit_keys(request: Request, username: str) -> list[str]:
    client = request.client.host if request.client else "unknown"
    return [f"user:{username.lower()}", f"ip:{client}"]


@router.post("/auth/login", response_model=Token, responses=AUTH_ERRORS)
def login(body: LoginRequest, request: Request, session: SessionDep, ctx: CtxDep) -> Token:
    """Exchange a username and password for a bearer token and a refresh token.

    Attempts are limited per username and per client address
    (settings.login_attempts_per_minute, in each API process): over it, 429 with Retry-After.
    """
    keys = _limit_keys(request, body.username)
    wait = ctx.logins.attempt(keys)
    if wait:
        seconds = max(1, math.ceil(wait))
        raise HTTPException(
            status_code=429,
            detail=f"too many login attempts: try again in {seconds} s",
            headers={"Retry-After": str(seconds)},
        )
    user = org.login(
        session, username=body.username, password=body.password, demo=ctx.settings.demo
    )
    ctx.logins.succeeded(keys)
    demo = ctx.settings.demo and is_demo_password(body.password)
    token = issue_tokens(session, ctx, user, demo=demo)
    session.commit()
    return token


@router.post("/auth/refresh", response_model=Token, responses=AUTH_ERRORS)
def refresh(body: RefreshRequest, session: SessionDep, ctx: CtxDep) -> Token:
    """A new token pair for a refresh token, which is used up. Presenting a used one again
    signs its user out everywhere (it was copied)."""
    outcome = org.rotate_refresh_token(session, token=body.refresh_token)
    if outcome.user is None:
        session.commit()  # keeps the revocation a reused token causes
        raise Unauthorized(outcome.reason)
    token = issue_tokens(session, ctx, outcome.user)
    token.refresh_token = outcome.token
    session.commit()
    return token


@router.post("/auth/logout", status_code=204, responses=AUTH_ERRORS)
def logout(
    user: CurrentUser,
    claims: BearerClaims,
    session: SessionDep,
    ctx: CtxDep,
    request: Request,
    body: LogoutRequest | None = None,
) -> None:
    """Ends this access token (and the refresh token, when given) before they expire. This
    replica refuses the token at once; other replicas within settings.auth_cache_seconds."""
    if claims is None:
        raise Unauthorized("log out with the bearer token to end (API keys are revoked instead)")
    org.logout(
        session,
        user_id=user.id,
        jti=claims.jti,
        expires_at=claims.expires,
        refresh_token=body.refresh_token if body else "",
    )
    session.commit()
    authorization = request.headers.get("Authorization", "")
    ctx.principals.drop(token_cache_key(authorization.partition(" ")[2]))


@router.get("/me", response_model=MePublic, responses={401: {"model": ErrorBody}})
def read_me(user: CurrentUser) -> MePublic:
    return MePublic(**user_public(user).model_dump(), demo=user.demo)
