"""`servflow reporting rebuild` recounts every order into the counters the order writer
keeps: the same figures, the same again on a second run, and the writer carries on from
them without counting an order twice."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, delete, select
from sqlalchemy.orm import Session, sessionmaker

from servflow.cli.main import build_parser
from servflow.cli.reporting import cmd_reporting
from servflow.platform.settings import Settings
from servflow.reporting.models import ReportCounter, ReportOrder
from tests.reporting.test_reporting import REFRIGERATION, board_of, complete_order
from tests.world import make_step


def rebuild_cli(factory: sessionmaker[Session], *argv: str) -> int:
    engine = factory.kw["bind"]
    assert isinstance(engine, Engine)
    settings = Settings(database_url=engine.url.render_as_string(hide_password=False))
    return cmd_reporting(settings, build_parser().parse_args(["reporting", "rebuild", *argv]))


def counters(session: Session) -> list[tuple[Any, ...]]:
    session.expire_all()
    c = ReportCounter
    rows = session.execute(select(c.org_path, c.metric, c.day, c.key, c.bin, c.n, c.amount))
    return sorted(tuple(row) for row in rows if row.n or row.amount)


def facts(session: Session) -> list[tuple[Any, ...]]:
    o = ReportOrder
    rows = session.execute(select(o.order_id, o.org_path, o.city, o.revenue, o.cells, o.sla_next))
    return sorted(tuple(row) for row in rows)


async def test_rebuild_recounts_every_order_idempotently_and_the_writer_carries_on(
    run, world, session, session_factory, capsys
):
    await complete_order(run, "order-1")
    shanghai = {"name": "王芳", "phone": "13900000002", "lat": 31.2215, "lng": 121.5447}
    await complete_order(run, "order-2", region="huadong", customer=shanghai)
    await run("report", make_step("report", order_id="order-3"))
    kept, kept_facts = counters(session), facts(session)
    assert kept and len(kept_facts) == 3

    # A store whose orders were written before reporting existed: nothing counted.
    session.execute(delete(ReportCounter))
    session.execute(delete(ReportOrder))
    session.commit()
    assert board_of(session, "hq_admin")["orders"]["total"] == 0

    assert rebuild_cli(session_factory, "--every", "2") == 0
    out = capsys.readouterr().out
    assert "reporting: 2 orders counted" in out and "rebuilt from 3 orders" in out
    assert counters(session) == kept
    assert facts(session) == kept_facts
    assert rebuild_cli(session_factory) == 0  # a second run gives the same counters
    assert counters(session) == kept

    # The writer moves the open order on from the rebuilt counters: still 3 orders.
    await run("dispatch", make_step("dispatch", order_id="order-3", params=REFRIGERATION))
    hq = board_of(session, "hq_admin")
    assert hq["orders"]["total"] == 3 and hq["orders"]["completed"] == 2
    assert hq["revenue"] and hq["nps"]["promoter"] == 2
