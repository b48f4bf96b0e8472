"""Password login (JWT bearer tokens) and who am I."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter

from api.deps import CtxDep, CurrentUser, Principal, SessionDep, principal_of
from api.schemas import ErrorBody, LoginRequest, Token, UserPublic
from api.security import create_access_token
from servflow.org import service as org
from servflow.platform.errors import Unauthorized

router = APIRouter(prefix="/api", tags=["auth"])


def user_public(user: Principal) -> UserPublic:
    return UserPublic(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        roles=list(user.roles),
        scope_path=user.scope_path,
    )


@router.post(
    "/auth/login", response_model=Token, responses={c: {"model": ErrorBody} for c in (401, 422)}
)
def login(body: LoginRequest, session: SessionDep, ctx: CtxDep) -> Token:
    """Exchange a username and password for a bearer token."""
    user = org.authenticate(session, username=body.username, password=body.password)
    if user is None:
        raise Unauthorized("wrong username or password")
    token = create_access_token(
        user_id=user.id,
        username=user.username,
        secret=ctx.jwt_secret,
        ttl=timedelta(minutes=ctx.settings.jwt_ttl_minutes),
    )
    return Token(access_token=token, user=user_public(principal_of(user)))


@router.get("/me", response_model=UserPublic, responses={401: {"model": ErrorBody}})
def read_me(user: CurrentUser) -> UserPublic:
    return user_public(user)
