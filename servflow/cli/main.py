"""`servflow COMMAND` (and `make run`): set up, load, run and drive servflow on one machine."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable

from servflow.cli import accounts, definitions, demo, ledger, orders, platform, reconcile, store
from servflow.cli import reporting as reporting_cli
from servflow.platform.settings import Settings, get_settings

Command = Callable[[Settings, argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="servflow", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    platform.add_run_flags(
        sub.add_parser("run", help="the whole platform with demo data (what `make run` does)")
    )
    sub.add_parser("migrate", help="create or upgrade the database schema")
    sub.add_parser("load-demo", help="migrate, load demo data and publish examples/*.json")
    validate = sub.add_parser("validate", help="check definition files; lists every problem")
    validate.add_argument("files", nargs="+")
    publish = sub.add_parser("publish", help="validate and publish definition files")
    publish.add_argument("files", nargs="+")
    start = sub.add_parser("start-order", help="start a work order on a published pipeline")
    start.add_argument("--definition", default="ac-repair")
    start.add_argument("--version", type=int, default=None)
    start.add_argument("--customer-phone", default="13800010001", help="a demo customer")
    start.add_argument("--region", default="华北")
    start.add_argument("--var", action="append", default=[], help="NAME=VALUE order variable")
    sub.add_parser("worker", help="run a worker (settings from SERVFLOW_* variables)")
    accounts.add_parsers(sub)
    reconcile.add_parser(sub)
    ledger.add_parser(sub)
    reporting_cli.add_parser(sub)
    return parser


COMMANDS: dict[str, Command] = {
    "run": lambda settings, args: platform.run_platform(
        settings, workers=args.workers, apis=args.apis
    ),
    "migrate": lambda settings, _args: store.cmd_migrate(settings),
    "load-demo": lambda settings, _args: demo.cmd_load_demo(settings),
    "validate": lambda settings, args: definitions.cmd_validate(settings, args.files),
    "publish": lambda settings, args: definitions.cmd_publish(settings, args.files),
    "start-order": orders.cmd_start_order,
    "worker": lambda settings, _args: platform.cmd_worker(settings),
    "user": accounts.cmd_accounts,
    "apikey": accounts.cmd_accounts,
    "reconcile": reconcile.cmd_reconcile,
    "ledger": ledger.cmd_ledger,
    "reporting": reporting_cli.cmd_reporting,
}


def main(argv: list[str] | None = None) -> int:
    """The `servflow` console script; returns the exit status."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    return COMMANDS[args.command](get_settings(), args)
