"""`servflow ledger verify|checkpoint|run`: walk the journal and name the first broken
entry (optionally against checkpoint files parties kept), sign the stream heads, or run a
month's settlement now."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from servflow import tables  # noqa: F401  (every domain's tables, so relationships resolve)
from servflow.billing import statements
from servflow.billing.demo import load_money_demo
from servflow.cli.common import say
from servflow.ledger import service as ledger
from servflow.ledger.rules import public_key_text
from servflow.platform.base import utcnow
from servflow.platform.db import make_engine, make_session_factory
from servflow.platform.errors import Invalid
from servflow.platform.settings import Settings


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("ledger", help="verify the money ledger, sign checkpoints, run a month")
    actions = parser.add_subparsers(dest="ledger_command", required=True)
    verify = actions.add_parser("verify", help="walk every chain; name the first broken entry")
    verify.add_argument("--stream", default=None, help="one stream (a region code) only")
    verify.add_argument(
        "--checkpoint",
        action="append",
        default=[],
        type=Path,
        help="a checkpoint file kept by a party (from GET /api/ledger/checkpoints/{id})",
    )
    actions.add_parser("checkpoint", help="sign the head of every stream now")
    actions.add_parser("demo-orders", help="settle a few demo orders (after load-demo)")
    run = actions.add_parser("run", help="settle a month now (what the monthly schedule does)")
    run.add_argument("period", help="the month, e.g. 2026-11")


def cmd_ledger(settings: Settings, args: argparse.Namespace) -> int:
    """Runs the ledger command; verify answers 0 when every chain holds, 2 when broken."""
    engine = make_engine(settings.database_url)
    factory = make_session_factory(engine)
    key = ledger.signing_key(settings.ledger_key, demo=settings.demo)
    try:
        with factory() as session:
            if args.ledger_command == "checkpoint":
                made = ledger.sign_checkpoints(session, key=key, now=utcnow())
                session.commit()
                for checkpoint in made:
                    say(json.dumps(ledger.checkpoint_document(checkpoint), ensure_ascii=False))
                say(f"ledger: {len(made)} checkpoints signed")
                return 0
            if args.ledger_command == "demo-orders":
                added = load_money_demo(session, settle_orders=True)
                session.commit()
                say(f"ledger: {added.get('settled_demo_milestones', 0)} demo milestones settled")
                return 0
            if args.ledger_command == "run":
                run = statements.run_period(session, period=args.period, now=utcnow(), key=key)
                session.commit()
                say(f"settlement run: {json.dumps(run.as_dict(), ensure_ascii=False)}")
                return 0
            extra = [
                ledger.held_checkpoint(json.loads(path.read_text()), source=f"file {path}")
                for path in args.checkpoint
            ]
            report = ledger.verify(
                session, stream=args.stream, trusted_keys=[public_key_text(key)], extra=extra
            )
    except (Invalid, OSError, ValueError) as exc:
        say(f"ledger: {exc}")
        return 1
    finally:
        engine.dispose()
    say(f"ledger: {report.summary()}")
    return 0 if report.ok else 2
