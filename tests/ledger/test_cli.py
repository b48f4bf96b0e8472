"""`servflow ledger verify` walks the chains and names the first broken entry; it checks
checkpoint files parties kept; `servflow ledger checkpoint` signs the heads."""

from __future__ import annotations

import base64
import json

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from servflow.cli.ledger import cmd_ledger
from servflow.cli.main import build_parser
from servflow.ledger.models import LedgerEntry
from servflow.platform.settings import Settings
from tests.billing.conftest import load_money_world
from tests.ledger.test_tamper import as_dba, journal

SEED = base64.b64encode(bytes((11 * i + 5) % 251 for i in range(32))).decode()


def ledger_cli(factory: sessionmaker[Session], *argv: str) -> int:
    engine = factory.kw["bind"]
    assert isinstance(engine, Engine)
    settings = Settings(
        database_url=engine.url.render_as_string(hide_password=False), ledger_key=SEED
    )
    return cmd_ledger(settings, build_parser().parse_args(["ledger", *argv]))


def test_verify_passes_an_intact_ledger_and_names_the_edited_entry(
    session_factory, session, capsys, tmp_path
):
    journal(session)
    assert ledger_cli(session_factory, "checkpoint") == 0
    signed = [json.loads(line) for line in capsys.readouterr().out.splitlines()[:-1]]
    kept = tmp_path / "checkpoint.json"
    kept.write_text(json.dumps(signed[0]))

    assert ledger_cli(session_factory, "verify", "--checkpoint", str(kept)) == 0
    assert "ok: 6 entries in 1 streams, 2 checkpoints hold" in capsys.readouterr().out

    target = session.scalars(select(LedgerEntry).where(LedgerEntry.seq == 5)).one()
    as_dba(
        session_factory.kw["bind"],
        ("UPDATE ledger_entry SET memo = 'x' WHERE id = :id", {"id": target.id}),
    )
    assert ledger_cli(session_factory, "verify") == 2
    out = capsys.readouterr().out
    assert f"stream huanan: entry seq 5 (row id {target.id})" in out and "edited" in out


def test_demo_orders_settle_once_with_a_ledger_that_verifies(session_factory, session, capsys):
    load_money_world(session)

    assert ledger_cli(session_factory, "demo-orders") == 0
    assert ledger_cli(session_factory, "demo-orders") == 0
    out = capsys.readouterr().out
    assert "4 demo milestones settled" in out and "0 demo milestones settled" in out
    assert ledger_cli(session_factory, "verify") == 0
    with session_factory() as fresh:
        kinds = sorted(fresh.scalars(select(LedgerEntry.kind)))
    # 3 orders: two paid now (accrual + payout for each of 3 parties, per milestone), the
    # periodic one accrued only.
    assert kinds.count("accrual") == 12 and kinds.count("payout") == 9
