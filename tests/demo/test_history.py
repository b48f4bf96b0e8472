"""The demo history: orders over the last weeks written through the order writer, counted
by the reporting read model as live orders are, flagged, written once, and all finished
(they have no workflow: none may wait for anyone or hold an engineer's slot)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from servflow.billing.models import Settlement
from servflow.cli.definitions import read_definition
from servflow.definitions import service as definitions
from servflow.demo import history
from servflow.demo.loader import load_demo
from servflow.dispatch.models import Engineer
from servflow.orders import service as orders
from servflow.orders.models import WorkOrder, WorkOrderStep
from servflow.org import service as org
from servflow.reporting import rules
from servflow.reporting import service as reporting
from servflow.reporting.models import ReportCounter
from servflow.sla import service as sla
from servflow.tables import metadata

END = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
C = ReportCounter
CELL = (C.org_path, C.metric, C.day, C.key, C.bin, C.n, C.amount)
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture
def demo(session_factory):
    with session_factory() as session:
        load_demo(session)
        session.commit()
        for path in sorted(EXAMPLES.glob("*.json")):
            raw = read_definition(path)
            definitions.publish(
                session, key=raw["key"], raw=raw, user="demo", unless_unchanged=True
            )
            session.commit()
    return session_factory


def generate(session_factory, **kw):
    return history.generate_history(
        session_factory, now=END, orders_count=kw.pop("orders", 80), days=30, **kw
    )


def principal(session, username):
    account = org.get_user_by_username(session, username=username)
    assert account is not None
    return org.principal_of(account)


def dashboard(session, username, unit=None):
    end = rules.business_day(END)
    return reporting.dashboard(
        session,
        principal(session, username),
        unit=unit,
        start=end - timedelta(days=40),
        end=end,
        pipeline=None,
        now=END,
    )


def searched(session, username, status=None):
    return orders.search_orders(
        session,
        principal(session, username),
        status=status,
        region=None,
        definition_key=None,
        limit=1,
        offset=0,
    )[1]


def row_counts(session):
    return {
        table.name: session.scalar(select(func.count()).select_from(table))
        for table in metadata.sorted_tables
    }


def test_the_plan_finishes_every_order_before_now_and_is_the_same_each_time(demo):
    with demo() as session:
        outlets, engineers, pipelines = history.history_inputs(session)
    assert {p.key for p in pipelines} == set(history.PIPELINES)

    def plan():
        return history.plan_history(
            outlets=outlets, engineers=engineers, pipelines=pipelines, now=END, orders=300
        )

    first = plan()

    def shape(orders):
        return [
            (o.order_id, o.created_at, [(w.kind, w.at, w.until) for w in o.writes]) for o in orders
        ]

    assert shape(first) == shape(plan())
    assert all(o.order_id.startswith(history.PREFIX) for o in first)
    assert all(END - timedelta(days=90) <= o.created_at < END for o in first)
    # No order is left open: every one ends (its final write) before the history's end,
    # the latest ones shortly before it (moved earlier, not cut).
    assert all(o.completed for o in first)
    assert all(w.until <= END for o in first for w in o.writes)
    assert max(o.writes[-1].until for o in first) > END - timedelta(hours=12)
    revisits = [o for o in first if any(w.visit == 2 for w in o.writes)]
    assert revisits
    assert len({o.outlet.region for o in first}) == 7
    assert len({o.engineer.code for o in first}) > 40


def test_the_history_is_counted_as_the_orders_are_and_a_second_run_adds_nothing(demo):
    summary = generate(demo)
    assert summary.written == summary.planned == summary.completed == 80

    with demo() as session:
        rows = session.scalars(select(WorkOrder)).all()
        assert len(rows) == 80
        assert {r.started_by for r in rows} == {history.STARTED_BY}
        assert all(r.order_no and r.customer_id and r.current_engineer_id for r in rows)
        board = dashboard(session, "hq_admin")
        # The dashboard's totals are those of the order search over the same orders.
        assert board["orders"]["total"] == searched(session, "hq_admin") == 80
        completed = searched(session, "hq_admin", status="completed")
        assert board["orders"]["completed"] == completed == summary.completed
        assert board["orders"]["open"] == 0
        # Nothing of the history waits for anyone: no open order, no waiting step, no task,
        # no breached or at-risk step (all would drift past their deadlines, unworkable).
        assert session.scalar(select(func.count()).where(WorkOrder.completed_at.is_(None))) == 0
        assert session.scalar(select(func.count()).where(WorkOrderStep.completed_at.is_(None))) == 0
        assert {r.status for r in rows} == {"completed"}
        for username in ("engineer_bj_01", "hq_admin"):
            assert orders.waiting_for(session, principal(session, username), limit=50) == []
        for state in ("breached", "at_risk"):
            assert (
                sla.breach_list(
                    session,
                    principal(session, "hq_admin"),
                    state=state,
                    now=END + timedelta(days=30),
                    limit=10,
                    offset=0,
                )[1]
                == 0
            )
        paid = session.scalar(select(func.sum(Settlement.amount)))
        assert paid and board["revenue"] == [{"currency": "CNY", "amount": f"{paid:.2f}"}]
        steps = session.execute(
            select(WorkOrderStep.completed_at, WorkOrderStep.sla_deadline).where(
                WorkOrderStep.sla_deadline.is_not(None), WorkOrderStep.completed_at.is_not(None)
            )
        ).all()
        # Every completed step counts.
        met = sum(done <= deadline for done, deadline in steps)
        assert (board["sla"]["met"], board["sla"]["breached"]) == (met, len(steps) - met)
        assert board["sla"]["breached"] > 0
        ratings = session.scalars(
            select(WorkOrderStep.data).where(WorkOrderStep.node_type == "signoff")
        ).all()
        rated = sum(1 for data in ratings if data.get("rating"))
        nps = board["nps"]
        assert nps["promoter"] + nps["passive"] + nps["detractor"] == rated > 0
        ftf = board["first_time_fix"]
        assert ftf["revisited"] > 0 and ftf["fixed_first_time"] > ftf["revisited"]
        assert board["bottleneck"]["cells"]
        # A region manager sees their region's orders only, as the search does.
        region = dashboard(session, "region_mgr_huabei")
        assert region["orders"]["total"] == searched(session, "region_mgr_huabei") > 0
        assert region["orders"]["total"] < 80
        loads = session.scalar(select(func.sum(Engineer.current_load)))
        counters = session.execute(select(*CELL)).all()
        before = row_counts(session)

    again = generate(demo)
    assert again.skipped == summary.planned and again.written == 0
    with demo() as session:
        assert row_counts(session) == before
        assert session.scalar(select(func.sum(Engineer.current_load))) == loads
        assert sorted(session.execute(select(*CELL)).all()) == sorted(counters)


def test_a_later_run_keeps_the_first_runs_end_of_history(demo):
    generate(demo, orders=20)
    with demo() as session:
        first = sorted(session.execute(select(WorkOrder.order_id, WorkOrder.created_at)).all())

    history.generate_history(demo, now=END + timedelta(days=3), orders_count=20, days=30)

    with demo() as session:
        assert sorted(session.execute(select(WorkOrder.order_id, WorkOrder.created_at)).all()) == (
            first
        )


def test_history_orders_hold_no_engineer_slot(demo):
    with demo() as session:
        loads_before = dict(session.execute(select(Engineer.id, Engineer.current_load)).all())
    generate(demo, orders=40)
    with demo() as session:
        engineers = set(session.scalars(select(WorkOrder.current_engineer_id)))
        loads = dict(session.execute(select(Engineer.id, Engineer.current_load)).all())
    assert len(engineers) > 15  # many engineers took (and released) history jobs
    assert loads == loads_before


def test_an_interrupted_run_is_finished_by_the_next(demo):
    with demo() as session:
        loads_before = dict(session.execute(select(Engineer.id, Engineer.current_load)).all())
        outlets, engineers, pipelines = history.history_inputs(session)
    plan = history.plan_history(
        outlets=outlets, engineers=engineers, pipelines=pipelines, now=END, orders=40, days=30
    )
    history.history_anchor(demo, now=END)
    # Stopped half way: every order's first half written, orders open, slots held.
    halves = [replace(o, writes=o.writes[: len(o.writes) // 2]) for o in plan]
    history.write_history(demo, halves)
    with demo() as session:
        assert session.scalar(select(func.count()).where(WorkOrder.completed_at.is_(None))) > 0

    summary = generate(demo, orders=40)

    assert summary.written == 40
    with demo() as session:
        assert session.scalar(select(func.count()).where(WorkOrder.completed_at.is_(None))) == 0
        assert session.scalar(select(func.count()).where(WorkOrderStep.completed_at.is_(None))) == 0
        assert dict(session.execute(select(Engineer.id, Engineer.current_load)).all()) == (
            loads_before
        )
