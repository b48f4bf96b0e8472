"""Accounts: users and API keys (HQ admins everywhere; region managers for the users of
their region, granting no role beyond theirs), and one's own password.

Secrets (a generated password, a new API key) are in the answer once and never again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Query

from api.deps import CtxDep, CurrentUser, IdPath, SessionDep
from api.routes.auth import issue_tokens
from api.schemas import (
    ERRORS,
    AccountCreate,
    AccountCreated,
    AccountPublic,
    AccountUpdate,
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyPublic,
    DataList,
    Page,
    PasswordChange,
    PasswordReset,
    Token,
    page_of,
)
from servflow.org import service as org

if TYPE_CHECKING:
    from servflow.org.models import ApiKey, AppUser

router = APIRouter(prefix="/api", tags=["accounts"], responses=ERRORS)

Limit = Annotated[int, Query(ge=1, le=500)]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]


def account_public(user: AppUser) -> AccountPublic:
    unit = user.org_unit
    return AccountPublic(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        roles=list(user.roles),
        org_unit=unit.code if unit else None,
        scope_path=unit.path if unit else "",
        is_active=user.is_active,
        created_at=user.created_at,
    )


def key_public(key: ApiKey) -> ApiKeyPublic:
    return ApiKeyPublic(
        id=key.id,
        user_id=key.user_id,
        name=key.name,
        prefix=key.prefix,
        created_at=key.created_at,
        revoked_at=key.revoked_at,
    )


@router.get("/users", response_model=Page[AccountPublic])
def read_users(
    session: SessionDep, user: CurrentUser, limit: Limit = 100, offset: Offset = 0
) -> Page[AccountPublic]:
    """The users the caller manages (HQ admins: all; region managers: their region's)."""
    return page_of(
        org.page_accounts(session, actor=user, limit=limit, offset=offset), account_public
    )


@router.post("/users", response_model=AccountCreated, status_code=201)
def create_user(body: AccountCreate, session: SessionDep, user: CurrentUser) -> AccountCreated:
    """Creates a user; without a password one is generated and shown in this answer only."""
    created, password = org.add_account(
        session,
        actor=user,
        username=body.username,
        roles=body.roles,
        org_unit=body.org_unit,
        display_name=body.display_name,
        password=body.password,
    )
    session.commit()
    return AccountCreated(user=account_public(created), password=password or None)


@router.patch("/users/{user_id}", response_model=AccountPublic)
def update_user(
    user_id: IdPath, body: AccountUpdate, session: SessionDep, user: CurrentUser, ctx: CtxDep
) -> AccountPublic:
    """Changes a user's display name, roles or unit (what is given)."""
    changed = org.update_account(
        session,
        actor=user,
        user_id=user_id,
        display_name=body.display_name,
        roles=body.roles,
        org_unit=body.org_unit,
    )
    session.commit()
    ctx.principals.drop_user(user_id)
    return account_public(changed)


def _set_active(
    user_id: int, active: bool, session: SessionDep, user: CurrentUser, ctx: CtxDep
) -> AccountPublic:
    changed = org.set_account_active(session, actor=user, user_id=user_id, active=active)
    session.commit()
    ctx.principals.drop_user(user_id)
    return account_public(changed)


@router.post("/users/{user_id}/disable", response_model=AccountPublic)
def disable_user(
    user_id: IdPath, session: SessionDep, user: CurrentUser, ctx: CtxDep
) -> AccountPublic:
    """Disables a user: every token and key of theirs stops working."""
    return _set_active(user_id, False, session, user, ctx)


@router.post("/users/{user_id}/enable", response_model=AccountPublic)
def enable_user(
    user_id: IdPath, session: SessionDep, user: CurrentUser, ctx: CtxDep
) -> AccountPublic:
    """Enables a disabled user (their earlier tokens stay void: they log in again)."""
    return _set_active(user_id, True, session, user, ctx)


@router.post("/users/{user_id}/reset-password", response_model=PasswordReset)
def reset_password(
    user_id: IdPath, session: SessionDep, user: CurrentUser, ctx: CtxDep
) -> PasswordReset:
    """Gives the user a new random password, shown in this answer only; signs them out."""
    changed, password = org.reset_password(session, actor=user, user_id=user_id)
    session.commit()
    ctx.principals.drop_user(user_id)
    return PasswordReset(user=account_public(changed), password=password)


@router.post("/me/password", response_model=Token)
def change_my_password(
    body: PasswordChange, session: SessionDep, user: CurrentUser, ctx: CtxDep
) -> Token:
    """Changes the caller's password (the old one is required). Every earlier token ends,
    this one included; the answer carries a new pair."""
    changed = org.change_own_password(
        session, user_id=user.id, old_password=body.old_password, new_password=body.new_password
    )
    token = issue_tokens(session, ctx, changed)
    session.commit()
    ctx.principals.drop_user(user.id)
    return token


@router.get("/users/{user_id}/api-keys", response_model=DataList[ApiKeyPublic])
def read_api_keys(
    user_id: IdPath, session: SessionDep, user: CurrentUser
) -> DataList[ApiKeyPublic]:
    """The API keys of an api_client user, live and revoked (never the keys themselves)."""
    keys = org.api_keys_of(session, actor=user, user_id=user_id)
    return DataList(data=[key_public(k) for k in keys])


@router.post("/users/{user_id}/api-keys", response_model=ApiKeyCreated, status_code=201)
def create_api_key(
    user_id: IdPath, body: ApiKeyCreate, session: SessionDep, user: CurrentUser
) -> ApiKeyCreated:
    """Issues an API key for an api_client user, shown in this answer only."""
    row, key = org.add_api_key(session, actor=user, user_id=user_id, name=body.name)
    session.commit()
    return ApiKeyCreated(api_key=key_public(row), key=key)


@router.post("/api-keys/{key_id}/revoke", response_model=ApiKeyPublic)
def revoke_api_key(
    key_id: IdPath, session: SessionDep, user: CurrentUser, ctx: CtxDep
) -> ApiKeyPublic:
    """Revokes an API key at once on this replica (others within auth_cache_seconds)."""
    row = org.revoke_api_key(session, actor=user, key_id=key_id)
    session.commit()
    ctx.principals.drop_user(row.user_id)
    return key_public(row)
