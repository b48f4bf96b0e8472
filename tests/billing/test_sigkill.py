"""A worker killed (SIGKILL) in the middle of a settlement — its settlement row and some
ledger entries written, not committed — leaves nothing behind; the retry settles the
milestone exactly once, with one set of ledger entries, and the chain holds."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from decimal import Decimal
from pathlib import Path

from sqlalchemy import Engine, func, select

from servflow.billing.models import Settlement
from servflow.ledger import service as ledger
from servflow.ledger.models import LedgerEntry
from tests.billing.test_money_api import _reported, _settle

ROOT = Path(__file__).resolve().parents[2]
CHILD = textwrap.dedent(
    """
    import os, signal, sys
    from activities.billing import settlement
    from activities.support import ActivityDeps
    from servflow import tables  # noqa: F401
    from servflow.ledger import service as ledger
    from servflow.platform.db import make_engine, make_session_factory
    from tests.billing.conftest import WEEKDAY_NOON
    from workflows.contracts import StepInput

    post_many = ledger.post_many

    def post_then_die(*args, **kwargs):
        appended = post_many(*args, **kwargs)
        # The settlement row and its six ledger entries are written, not committed.
        os.kill(os.getpid(), signal.SIGKILL)
        return appended

    ledger.post_many = post_then_die
    factory = make_session_factory(make_engine(os.environ["DB_URL"]))
    step = StepInput.model_validate_json(sys.stdin.read())
    settlement(ActivityDeps(session_factory=factory, clock=lambda: WEEKDAY_NOON), step)
    """
)


async def test_a_settlement_killed_midway_is_applied_once_on_retry(weekday_run, money_demo):
    await _reported(weekday_run, "o-k")
    step = _settle("o-k", "commissioning", "0.6")
    engine = money_demo.kw["bind"]
    assert isinstance(engine, Engine)

    child = subprocess.run(
        [sys.executable, "-c", CHILD],
        input=step.model_dump_json(),
        env={**os.environ, "DB_URL": engine.url.render_as_string(hide_password=False)},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr
    with money_demo() as session:
        assert session.scalar(select(func.count()).select_from(Settlement)) == 0
        assert session.scalar(select(func.count()).select_from(LedgerEntry)) == 0

    first = await weekday_run("settlement", step)
    again = await weekday_run("settlement", step)

    assert first.output == again.output and first.output["amount"] == "60.00"
    with money_demo() as session:
        assert session.scalar(select(func.count()).select_from(Settlement)) == 1
        assert session.scalar(select(func.count()).select_from(LedgerEntry)) == 6
        assert session.scalar(
            select(func.sum(LedgerEntry.amount)).where(LedgerEntry.kind == "payout")
        ) == Decimal("60.00")
        assert ledger.verify(session).ok
