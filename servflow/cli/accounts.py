"""`servflow user ...` and `servflow apikey ...`: accounts from the operator's machine.

The operator acts as an HQ admin would over the API; a generated password or a new API key
is printed once and is not stored anywhere it could be read back.
"""

from __future__ import annotations

import argparse

from sqlalchemy.orm import Session

from servflow.cli.common import say
from servflow.cli.store import session_factory
from servflow.org import service as org
from servflow.org.rules import OPERATOR
from servflow.platform.errors import AppError
from servflow.platform.settings import Settings


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The `user` and `apikey` commands and their subcommands."""
    user = sub.add_parser("user", help="create, list, disable, enable users; reset a password")
    users = user.add_subparsers(dest="action", required=True)
    create = users.add_parser("create", help="create a user (prints a generated password once)")
    create.add_argument("username")
    create.add_argument("--role", action="append", required=True, help="repeat for several")
    create.add_argument("--unit", required=True, help="org unit code, e.g. hq or huabei")
    create.add_argument("--display-name", default="")
    users.add_parser("list", help="list users")
    for action in ("disable", "enable", "reset-password"):
        users.add_parser(action, help=f"{action} a user").add_argument("username")
    apikey = sub.add_parser("apikey", help="create, list, revoke API keys of api_client users")
    keys = apikey.add_subparsers(dest="action", required=True)
    key_create = keys.add_parser("create", help="issue a key (printed once)")
    key_create.add_argument("username")
    key_create.add_argument("--name", default="")
    keys.add_parser("list", help="a user's keys").add_argument("username")
    keys.add_parser("revoke", help="revoke a key by its id").add_argument("key_id", type=int)


def _user_id(session: Session, username: str) -> int:
    user = org.get_user_by_username(session, username=username)
    if user is None:
        raise AppError(f"no user '{username}'")
    return user.id


def _user_command(session: Session, args: argparse.Namespace) -> None:
    s = session
    if args.action == "create":
        user, password = org.add_account(
            s,
            actor=OPERATOR,
            username=args.username,
            roles=args.role,
            org_unit=args.unit,
            display_name=args.display_name,
        )
        say(f"created user {user.username} (id {user.id}); password, shown once: {password}")
    elif args.action == "list":
        users, _count = org.page_accounts(s, actor=OPERATOR, limit=10_000, offset=0)
        for u in users:
            where = u.org_unit.path if u.org_unit else "-"
            state = "active" if u.is_active else "disabled"
            say(f"{u.id:>6}  {u.username:<24} {','.join(u.roles):<28} {where:<32} {state}")
    elif args.action == "reset-password":
        user, password = org.reset_password(
            s,
            actor=OPERATOR,
            user_id=_user_id(s, args.username),
        )
        say(f"new password of {user.username}, shown once: {password}")
    else:
        active = args.action == "enable"
        org.set_account_active(
            s,
            actor=OPERATOR,
            user_id=_user_id(s, args.username),
            active=active,
        )
        say(f"{args.action}d {args.username}")


def _apikey_command(session: Session, args: argparse.Namespace) -> None:
    s = session
    if args.action == "create":
        user_id = _user_id(s, args.username)
        row, key = org.add_api_key(s, actor=OPERATOR, user_id=user_id, name=args.name)
        say(f"API key {row.id} for {args.username}, shown once (header X-API-Key): {key}")
    elif args.action == "list":
        user_id = _user_id(s, args.username)
        for row in org.api_keys_of(s, actor=OPERATOR, user_id=user_id):
            revoked = f"revoked {row.revoked_at:%Y-%m-%d %H:%M}" if row.revoked_at else "live"
            say(f"{row.id:>6}  {row.prefix}…  {row.name:<24} {row.created_at:%Y-%m-%d}  {revoked}")
    else:
        row = org.revoke_api_key(s, actor=OPERATOR, key_id=args.key_id)
        say(f"revoked API key {row.id} ({row.prefix}…)")


def cmd_accounts(settings: Settings, args: argparse.Namespace) -> int:
    """Runs `servflow user|apikey ACTION`; 1 with the reason when it is refused."""
    handle = _user_command if args.command == "user" else _apikey_command
    with session_factory(settings)() as session:
        try:
            handle(session, args)
        except AppError as exc:
            say(f"refused: {exc.message}")
            return 1
        session.commit()
    return 0
