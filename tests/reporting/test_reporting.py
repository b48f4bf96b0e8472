"""The reporting read model: counters follow the orders through the one writer, and each
caller's dashboard sums only their scope."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select

from servflow.billing.models import Settlement
from servflow.orders import steps as writer
from servflow.orders.models import WorkOrder
from servflow.org import service as org
from servflow.platform.errors import Invalid
from servflow.reporting import rules
from servflow.reporting import service as reporting
from servflow.reporting.models import ReportCounter
from tests.world import NOW, make_step
from workflows.contracts import StepAccepted, TimelineEntry, WaitingStep

REFRIGERATION = {"skills": ["refrigeration"]}
T0 = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)


def entry(node: str, node_type: str, minutes: int, data: dict | None = None) -> TimelineEntry:
    return TimelineEntry(
        node_id=node,
        node_type=node_type,
        visit=1,
        started_at=T0,
        completed_at=T0 + timedelta(minutes=minutes),
        actor="engineer_bj_near",
        outcome="done",
        data=data or {},
    )


async def complete_order(run, order_id: str, *, region: str = "huabei", customer=None) -> None:
    kw: dict[str, Any] = {"order_id": order_id, "region": region}
    if customer is not None:
        kw["customer"] = customer
    await run("report", make_step("report", **kw))
    await run("dispatch", make_step("dispatch", params=REFRIGERATION, **kw))
    done = [
        entry("service", "service", 90, {"diagnosis": "电容击穿"}),
        entry("signoff", "signoff", 20, {"rating": "5"}),
    ]
    settle = {"milestone": "completion", "share": "1"}
    step = make_step("settlement", node_id="completion", params=settle, status="settled", **kw)
    await run("settlement", step.model_copy(update={"unrecorded_steps": done}))
    await run("close_order", make_step("end", final=True, status="completed", **kw))


def board_of(session, username: str, **kw):
    account = org.get_user_by_username(session, username=username)
    assert account is not None
    user = org.principal_of(account)
    today = rules.business_day(NOW)
    return reporting.dashboard(
        session,
        user,
        unit=kw.get("unit"),
        start=today - timedelta(days=2),
        end=today + timedelta(days=1),
        pipeline=None,
        now=NOW,
    )


async def test_a_completed_order_is_counted_once_with_its_revenue_times_and_rating(
    run, world, session
):
    await complete_order(run, "order-1")
    # The same activity again (a retry) changes nothing.
    await run("close_order", make_step("end", final=True, status="completed"))

    hq = board_of(session, "hq_admin")
    amount = session.scalar(select(func.sum(Settlement.amount)))
    assert hq["orders"]["total"] == 1 and hq["orders"]["completed"] == 1
    assert hq["revenue"] == [{"currency": "CNY", "amount": f"{amount:.2f}"}]
    assert hq["first_time_fix"]["rate"] == 1.0
    assert hq["nps"]["promoter"] == 1 and hq["nps"]["score"] == 100.0
    assert [u["code"] for u in hq["by_unit"]] == ["huabei"]
    cells = {c["node"]: c for c in hq["bottleneck"]["cells"] if c["region"] == ""}
    assert hq["bottleneck"]["pipeline"] == "ac-repair|1"
    # 90 minutes lies in the bin [64, 90.5) min or the next: p50 within 20 % of it.
    assert abs(cells["service"]["p50_s"] - 5400) / 5400 < 0.2
    assert hq["demand"] == [{"province": "北京", "city": "北京", "orders": 1}]


async def test_each_level_sees_only_its_scope_and_money_only_for_money_roles(run, world, session):
    await complete_order(run, "order-bj")
    shanghai = {"name": "王芳", "phone": "13900000002", "lat": 31.2215, "lng": 121.5447}
    await complete_order(run, "order-sh", region="huadong", customer=shanghai)

    hq = board_of(session, "hq_admin")
    north = board_of(session, "region_mgr_huabei")
    east = board_of(session, "region_mgr_huadong")
    outlet = board_of(session, "outlet_mgr_bj_001")
    assert hq["orders"]["total"] == 2
    assert north["orders"]["total"] == 1 and east["orders"]["total"] == 1
    assert north["scope"]["code"] == "huabei"
    # The orders table says the same, scope by scope.
    paths = dict(session.execute(select(WorkOrder.order_id, WorkOrder.org_path)).tuples().all())
    assert paths["order-bj"].startswith("/hq/huabei/") and paths["order-sh"].startswith(
        "/hq/huadong/"
    )
    bj_outlet = paths["order-bj"].rsplit("/", 1)[-1]
    assert outlet["orders"]["total"] == (1 if bj_outlet == "bj-001" else 0)
    assert outlet["revenue"] is None and outlet["money_visible"] is False
    assert north["revenue"] is not None
    # Drilling down is within one's scope only; outside it, the same answer as unknown.
    assert board_of(session, "hq_admin", unit="huadong")["orders"]["total"] == 1
    with pytest.raises(Invalid):
        board_of(session, "region_mgr_huabei", unit="huadong")
    with pytest.raises(Invalid):
        board_of(session, "region_mgr_huabei", unit="nowhere")


async def test_a_status_change_moves_the_count_instead_of_adding_one(run, world, session):
    await run("report", make_step("report"))
    await run("dispatch", make_step("dispatch", params=REFRIGERATION, status="dispatched"))
    counts = dict(
        session.execute(
            select(ReportCounter.key, func.sum(ReportCounter.n))
            .where(ReportCounter.metric == "orders", ReportCounter.org_path == "/hq")
            .group_by(ReportCounter.key)
        )
        .tuples()
        .all()
    )
    assert counts.get("dispatched") == 1
    assert sum(counts.values()) == 1
    # The status it left shows no "0" on the dashboard.
    assert board_of(session, "hq_admin")["orders"]["by_status"] == {"dispatched": 1}


def wait_for(session_factory, node: str, visit: int, since: datetime, deadline: datetime) -> None:
    step = WaitingStep(
        order_id="order-1",
        node_id=node,
        node_type="service",
        visit=visit,
        assignee="engineer_bj_near",
        since=since,
        sla_deadline=deadline,
        status="dispatched",
        definition_key="ac-repair",
        definition_version=1,
    )
    writer.record_waiting(session_factory, step, lambda: since)


def submit(session_factory, node: str, visit: int, since: datetime, done: datetime) -> None:
    entry = TimelineEntry(
        node_id=node,
        node_type="service",
        visit=visit,
        started_at=since,
        completed_at=done,
        actor="engineer_bj_near",
        outcome="done",
        data={"diagnosis": "电容击穿"},
    )
    accepted = StepAccepted(
        node_id=node,
        visit=visit,
        completed_at=done,
        step=entry,
        status="serviced",
        definition_key="ac-repair",
        definition_version=1,
    )
    with session_factory() as session:
        writer.record_submitted(session, order_id="order-1", accepted=accepted, now=done)


def live(session) -> dict[str, Any]:
    session.rollback()  # a fresh snapshot: the writer committed in other sessions
    hq = board_of(session, "hq_admin")
    counts = {c["node"]: c["count"] for c in hq["bottleneck"]["cells"] if c["region"] == ""}
    return {
        "open": hq["orders"]["open"],
        "sla": (hq["sla"]["met"], hq["sla"]["breached"]),
        "ftf": (hq["first_time_fix"]["fixed_first_time"], hq["first_time_fix"]["revisited"]),
        "nps": hq["nps"]["promoter"],
        "nodes": counts,
    }


async def test_a_running_orders_steps_count_as_each_completes_and_once_at_completion(
    run, world, session, session_factory
):
    await run("report", make_step("report"))
    await run("dispatch", make_step("dispatch", params=REFRIGERATION, status="dispatched"))
    wait_for(session_factory, "service", 1, T0, T0 + timedelta(hours=4))
    waiting = live(session)
    assert waiting["sla"] == (0, 0) and "service" not in waiting["nodes"]
    assert waiting["nodes"] == {"report": 1, "dispatch": 1}

    # The service step completes within its SLA: the order is open, and already counted.
    submit(session_factory, "service", 1, T0, T0 + timedelta(minutes=90))
    serviced = live(session)
    assert serviced["open"] == 1
    assert serviced["sla"] == (1, 0) and serviced["ftf"] == (1, 0)
    assert serviced["nodes"] == {"report": 1, "dispatch": 1, "service": 1}

    # A second visit, late: first-time fix moves from "yes" to "no", one more SLA result.
    second = T0 + timedelta(days=1)
    wait_for(session_factory, "service", 2, second, second + timedelta(hours=4))
    submit(session_factory, "service", 2, second, second + timedelta(hours=5))
    revisited = live(session)
    assert revisited["sla"] == (1, 1) and revisited["ftf"] == (0, 1)
    assert revisited["nodes"]["service"] == 2

    # The sign-off's rating counts once it is recorded, before the order completes.
    signoff = entry("signoff", "signoff", 20, {"rating": "5"})
    settle = {"milestone": "completion", "share": "1"}
    step = make_step("settlement", node_id="completion", params=settle, status="settled")
    await run("settlement", step.model_copy(update={"unrecorded_steps": [signoff]}))
    assert live(session)["nps"] == 1

    await run("close_order", make_step("end", final=True, status="completed"))
    done = live(session)
    # Completing adds the order's completion, not its steps a second time.
    assert done["open"] == 0
    assert done["sla"] == (1, 1) and done["ftf"] == (0, 1) and done["nps"] == 1
    assert done["nodes"] == {
        "report": 1,
        "dispatch": 1,
        "service": 2,
        "signoff": 1,
        "completion": 1,
        "end": 1,
    }


def test_time_histogram_percentiles_and_bins():
    assert rules.time_bin(59) == 0
    assert rules.time_bin(60) == 1
    hist = {rules.time_bin(600): 9, rules.time_bin(36000): 1}
    assert rules.percentile(hist, 0.5) == round(rules.bin_seconds(rules.time_bin(600)), 1)
    assert rules.percentile(hist, 0.95) == round(rules.bin_seconds(rules.time_bin(36000)), 1)
    assert rules.percentile({}, 0.5) is None
    for seconds in (61, 600, 5400, 86400 * 3):
        middle = rules.bin_seconds(rules.time_bin(seconds))
        assert abs(middle - seconds) / seconds < 0.2


def test_ratings_become_nps_classes():
    assert rules.nps_class("rating", "5") == "promoter"
    assert rules.nps_class("rating", "4") == "passive"
    assert rules.nps_class("rating", "2") == "detractor"
    assert rules.nps_class("nps", 9) == "promoter"
    assert rules.nps_class("nps", 6) == "detractor"
    assert rules.nps_class("rating", "great") is None
    assert rules.nps_score(2, 1, 1) == 25.0


def test_difference_takes_back_what_an_order_no_longer_adds():
    key = ("orders", "2026-11-22", "/hq/huabei", "running", 0)
    moved = ("orders", "2026-11-22", "/hq/huabei", "completed", 0)
    before = {key: (1, Decimal(0))}
    after = {moved: (1, Decimal(0))}
    assert rules.difference(before, after) == {key: (-1, Decimal(0)), moved: (1, Decimal(0))}
    assert rules.difference(after, after) == {}
