"""A demo history: some thousands of orders over the last 90 days, written through the
work-order writer (servflow.orders.steps) exactly as the worker writes live orders.

A newcomer's dashboards would otherwise show the handful of orders `make run` starts. The
history is planned first (`plan_history`: pure, seeded, the same plan for the same inputs),
then every planned write is replayed in time order through the writer's entry points:
`run_step` with the real report and settlement effects (customers linked, orders numbered,
jobs priced, settlements and ledger entries written), `record_waiting` and
`record_submitted` for the human steps. Reporting, SLA clocks and engineers' loads follow
as they do live, from the same writes; nothing here writes a counter or a row of its own.

Every order of the history has an id starting with `demo-history-` and `started_by`
"demo-history", so it can be told apart from orders people started. Writing is
idempotent: an order whose last write is stored is skipped, one that was interrupted is
written again (each write is idempotent), so a second run adds nothing.

The orders have no workflow in Temporal, so every one of them is finished before the
history's end (`now` of the first run): an order that would still be open then is moved
earlier (walked again, with the same draws, from an earlier created time) rather than cut
short. No history order waits at a step, sits in a task list, on the dispatch board or in
the SLA breach list, or holds an engineer's slot: the open orders a newcomer sees are those
`make run` drives through Temporal (servflow.cli.orders.run_demo_orders), which can be
acted on. Acting on a history order answers the 409 of any closed order ("no longer
running", "completed already": tests/api/test_demo_history.py).
"""

from __future__ import annotations

import contextlib
import math
import random
import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from servflow.billing import service as billing
from servflow.definitions import service as definitions
from servflow.dispatch import service as dispatch
from servflow.orders import service as orders
from servflow.orders import steps as writer
from servflow.org import service as org
from servflow.platform import effects
from servflow.platform.effects import OrderChanges, OrderFacts, StepOutcome
from servflow.platform.errors import Invalid
from workflows import constants as c
from workflows.contracts import (
    OrderContext,
    StepAccepted,
    StepInput,
    StepResult,
    TimelineEntry,
    WaitingStep,
)

PREFIX = "demo-history-"
STARTED_BY = "demo-history"
DEFAULT_ORDERS = 2000
DEFAULT_DAYS = 90
SEED = 15
PIPELINES = ("ac-repair", "smart-lock-install")
HUMAN_TYPES = ("service", "task", "signoff")
AUTOMATIC = {
    "report": c.ACTIVITY_REPORT,
    "dispatch": c.ACTIVITY_DISPATCH,
    "settlement": c.ACTIVITY_SETTLEMENT,
}

# How much slower (>1) or faster each region's field work is: the bottleneck heat map
# then has something to show. Volume shares follow the regions' size.
REGION_PACE = {
    "huabei": 1.0, "huadong": 0.8, "huanan": 0.9, "huazhong": 1.15,
    "xinan": 1.3, "xibei": 1.7, "dongbei": 1.4,
}  # fmt: skip
REGION_VOLUME = {
    "huabei": 1.2, "huadong": 1.6, "huanan": 1.3, "huazhong": 0.9,
    "xinan": 0.8, "xibei": 0.5, "dongbei": 0.6,
}  # fmt: skip
SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯"
    + "邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕丁任沈"
)
GIVEN = (
    "伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛",
    "明", "超", "秀英", "霞", "平", "刚", "桂英", "建华", "志强", "晓东", "海燕", "国庆",
)  # fmt: skip
STREETS = ("人民路", "解放路", "中山路", "建设路", "和平路", "新华路", "长江路", "文化路")
FAULTS = {
    "ac-repair": ("不制冷", "漏水", "噪音大", "无法启动", "制热效果差", "遥控失灵"),
    "smart-lock-install": ("新装智能锁", "更换智能锁", "指纹模块安装"),
}
DIAGNOSES = ("电容击穿", "冷媒不足", "排水管堵塞", "风扇电机老化", "主板故障", "滤网脏堵")


@dataclass(frozen=True)
class Outlet:
    code: str
    region: str
    city: str
    lat: float
    lng: float


@dataclass(frozen=True)
class Engineer:
    id: int
    code: str
    username: str
    name: str
    outlet: str
    region: str
    max_load: int


@dataclass(frozen=True)
class Node:
    id: str
    type: str
    name: str
    params: dict[str, Any]
    next: str | None
    sla_hours: float | None = None
    branch: tuple[str, str] | None = None
    """A decision's (variable "node.field", node it leads to when the value is true)."""


@dataclass(frozen=True)
class Pipeline:
    key: str
    version: int
    start: str
    nodes: dict[str, Node]


@dataclass
class Write:
    """One write of the history: an automatic step, or a human step waiting / submitted."""

    at: datetime
    order: int
    kind: str  # "auto", "wait", "submit"
    node: Node
    visit: int
    until: datetime
    status: str
    final: bool = False
    data: dict[str, Any] = field(default_factory=dict)
    sla_deadline: datetime | None = None
    unrecorded: list[TimelineEntry] = field(default_factory=list)


@dataclass
class PlannedOrder:
    index: int
    order_id: str
    created_at: datetime
    pipeline: Pipeline
    outlet: Outlet
    engineer: Engineer
    customer: dict[str, Any]
    fault: str
    writes: list[Write] = field(default_factory=list)

    @property
    def completed(self) -> bool:
        return bool(self.writes) and self.writes[-1].final


@dataclass
class HistorySummary:
    planned: int = 0
    written: int = 0
    skipped: int = 0
    completed: int = 0
    seconds: float = 0.0


Progress = Callable[[int, int], None]


# ---- the plan (pure) ---------------------------------------------------------------------------


_DURATION = re.compile(r"^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?)?$")


def hours_of(iso: str) -> float | None:
    """An ISO 8601 duration ("PT24H", "P1DT2H", "PT30M") in hours; None if not one."""
    found = _DURATION.match(iso or "")
    if not found or not any(found.groups()):
        return None
    days, hours, minutes = (int(g or 0) for g in found.groups())
    return days * 24 + hours + minutes / 60


def pipeline_of(key: str, version: int, body: dict[str, Any]) -> Pipeline | None:
    """The walkable shape of a published pipeline; None when it has a node the history
    does not know how to write (it then runs no demo history)."""
    nodes: dict[str, Node] = {}
    known = {*AUTOMATIC, *HUMAN_TYPES, "decision", "end"}
    for raw in body.get("nodes", []):
        if raw.get("type") not in known:
            return None
        sla = raw.get("sla") or {}
        branch = None
        if raw["type"] == "decision":
            first = (raw.get("branches") or [{}])[0]
            branch = (str(first.get("when", "")), str(first.get("next", "")))
        nodes[raw["id"]] = Node(
            id=raw["id"],
            type=raw["type"],
            name=raw.get("name", raw["id"]),
            params=dict(raw.get("params") or {}),
            next=raw.get("default") if raw["type"] == "decision" else raw.get("next"),
            sla_hours=hours_of(str(sla.get("within", ""))) if raw["type"] in HUMAN_TYPES else None,
            branch=branch,
        )
    start = body.get("start") or (body.get("nodes") or [{}])[0].get("id")
    return Pipeline(key, version, str(start), nodes) if start in nodes else None


def _lognormal(rng: random.Random, median_minutes: float, spread: float = 0.6) -> timedelta:
    return timedelta(minutes=median_minutes * math.exp(rng.gauss(0, spread)))


def _weighted(rng: random.Random, items: Sequence[Any], weights: Sequence[float]) -> Any:
    return rng.choices(items, weights=weights, k=1)[0]


def plan_history(
    *,
    outlets: Sequence[Outlet],
    engineers: Sequence[Engineer],
    pipelines: Sequence[Pipeline],
    now: datetime,
    orders: int = DEFAULT_ORDERS,
    days: int = DEFAULT_DAYS,
    seed: int = SEED,
) -> list[PlannedOrder]:
    """Every order of the history with all its writes, each order finished before `now`:
    one that would still be open then (a recent one) is moved earlier, walked again from an
    earlier created time with the same draws, so no order of the history waits for anyone
    (it has no workflow to take a step). The same inputs give the same plan."""
    rng = random.Random(seed)
    staffed = [o for o in outlets if any(e.outlet == o.code for e in engineers)]
    if not staffed or not pipelines:
        return []
    by_outlet: dict[str, list[Engineer]] = {}
    for engineer in engineers:
        by_outlet.setdefault(engineer.outlet, []).append(engineer)
    draw = _OrderDraw(
        staffed=staffed,
        weights=[REGION_VOLUME.get(o.region, 1.0) for o in staffed],
        by_outlet=by_outlet,
        pipelines=pipelines,
        start=now - timedelta(days=days),
        days=days,
        now=now,
    )
    planned = []
    for index in range(1, orders + 1):
        order = _draw_order(rng, draw, index)
        _walk_finished(rng, order, now=now, seed=seed)
        planned.append(order)
    return planned


@dataclass(frozen=True)
class _OrderDraw:
    """What every order of the plan is drawn from."""

    staffed: list[Outlet]
    weights: list[float]
    by_outlet: dict[str, list[Engineer]]
    pipelines: Sequence[Pipeline]
    start: datetime
    days: int
    now: datetime


def _draw_created(rng: random.Random, draw: _OrderDraw) -> datetime:
    # More orders lately (the business grows), fewer at night.
    position = math.sqrt(rng.random()) if rng.random() < 0.5 else rng.random()
    day = draw.start + timedelta(days=position * draw.days)
    created = day.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(
        hours=_weighted(rng, range(24), [0.2] * 7 + [1.0] * 14 + [0.4] * 3),
        minutes=rng.randrange(60),
        seconds=rng.randrange(60),
    )
    if created >= draw.now - timedelta(minutes=5):
        created = draw.now - timedelta(minutes=5 + rng.randrange(600))
    return created


def _draw_order(rng: random.Random, draw: _OrderDraw, index: int) -> PlannedOrder:
    """One order (without its writes): when, where, which pipeline, who, for whom."""
    created = _draw_created(rng, draw)
    outlet = _weighted(rng, draw.staffed, draw.weights)
    pipelines = draw.pipelines
    pipeline = _weighted(rng, pipelines, [3, 1][: len(pipelines)] + [1] * (len(pipelines) - 2))
    return PlannedOrder(
        index=index,
        order_id=f"{PREFIX}{index:05d}",
        created_at=created,
        pipeline=pipeline,
        outlet=outlet,
        engineer=rng.choice(draw.by_outlet[outlet.code]),
        customer=_customer(rng, index, outlet),
        fault=rng.choice(FAULTS.get(pipeline.key, ("上门服务",))),
    )


def _walk_finished(rng: random.Random, order: PlannedOrder, *, now: datetime, seed: int) -> None:
    """Sets the order's writes, walked so its last one lands before `now`."""
    created = order.created_at
    state = rng.getstate()
    order.writes = list(_walk(rng, order))
    late = order.writes[-1].until - now if order.writes else timedelta(0)
    if late > timedelta(0):
        # It would still be open at `now`: the same walk (the same draws, replayed)
        # from an earlier created time, so its last write lands a little before now.
        margin = timedelta(minutes=5 + random.Random(f"{seed}/{order.index}").randrange(600))
        order.created_at = created - late - margin
        replay = random.Random()
        replay.setstate(state)
        order.writes = list(_walk(replay, order))


def _customer(rng: random.Random, index: int, outlet: Outlet) -> dict[str, Any]:
    name = rng.choice(SURNAMES) + rng.choice(GIVEN)
    return {
        "name": name,
        "phone": f"137{index:08d}",
        "address": f"{outlet.city}市{rng.choice(STREETS)}{rng.randrange(1, 400)}号",
        "city": outlet.city,
        "lat": round(outlet.lat + rng.uniform(-0.05, 0.05), 5),
        "lng": round(outlet.lng + rng.uniform(-0.05, 0.05), 5),
    }


@dataclass
class _WalkState:
    """Where a walk is: its clock, the order's status, what it has drawn and met."""

    at: datetime
    status: str = "running"
    late: bool = False
    variables: dict[str, Any] = field(default_factory=dict)
    pending: list[TimelineEntry] = field(default_factory=list)


def _walk(rng: random.Random, order: PlannedOrder) -> Iterator[Write]:
    """The order's writes, node by node from the pipeline's start, in the order the
    interpreter would make them (times drawn per node type and region)."""
    pace = REGION_PACE.get(order.outlet.region, 1.0)
    state = _WalkState(at=order.created_at)
    revisit = rng.random() < 0.12
    parts_needed = rng.random() < 0.18
    node_id: str | None = order.pipeline.start
    while node_id is not None:
        node = order.pipeline.nodes[node_id]
        following = node.next
        if node.type == "decision":
            node_id = _decide(node, state)
            continue
        if node.type == "end":
            return
        final = following is not None and order.pipeline.nodes[following].type == "end"
        if node.type in AUTOMATIC:
            yield from _walk_automatic(rng, order, node, state, final=final)
        else:
            visits = 2 if revisit and node.type == "service" else 1
            for visit in range(1, visits + 1):
                yield from _walk_visit(
                    rng, order, node, state, pace, parts_needed, visit, last=visit == visits
                )
        node_id = following


def _decide(node: Node, state: _WalkState) -> str | None:
    """The node a decision goes to (its first branch when the field it reads is set),
    noted as a pending system step."""
    assert node.branch is not None
    following = node.next
    source, target = node.branch
    step_name, _, field_name = source.partition(".")
    if (state.variables.get(step_name) or {}).get(field_name):
        following = target
    state.pending.append(_entry(node, 1, state.at, state.at, "system", "done", {"next": following}))
    return following


def _walk_automatic(
    rng: random.Random, order: PlannedOrder, node: Node, state: _WalkState, *, final: bool
) -> Iterator[Write]:
    at = state.at
    took = timedelta(seconds=rng.uniform(0.3, 4))
    state.status = "completed" if final else _STATUS.get(node.type, state.status)
    yield Write(
        at,
        order.index,
        "auto",
        node,
        1,
        at + took,
        state.status,
        final=final,
        unrecorded=state.pending,
    )
    state.pending = []
    state.at = at + took + timedelta(seconds=rng.uniform(1, 30))


def _walk_visit(
    rng: random.Random,
    order: PlannedOrder,
    node: Node,
    state: _WalkState,
    pace: float,
    parts_needed: bool,
    visit: int,
    *,
    last: bool,
) -> Iterator[Write]:
    """One visit of a human step: its waiting write, then its submitted one."""
    at = state.at
    took = _human_time(rng, node, pace, parts_needed)
    deadline = at + timedelta(hours=node.sla_hours) if node.sla_hours else None
    data = _form(rng, node, order, parts_needed, state.late, last=last)
    yield Write(
        at,
        order.index,
        "wait",
        node,
        visit,
        at,
        state.status,
        sla_deadline=deadline,
        unrecorded=state.pending,
    )
    state.pending = []
    at += took
    state.late = state.late or (deadline is not None and at > deadline)
    state.status = _STATUS.get(node.type, state.status)
    yield Write(
        at, order.index, "submit", node, visit, at, state.status, data=data, sla_deadline=deadline
    )
    state.variables[node.id] = data
    state.at = at + timedelta(seconds=rng.uniform(1, 20))


_STATUS = {
    "report": "reported",
    "dispatch": "dispatched",
    "service": "serviced",
    "signoff": "signed_off",
    "settlement": "settled",
}


def _human_time(rng: random.Random, node: Node, pace: float, parts: bool) -> timedelta:
    if node.type == "service":
        # Most jobs done in about a quarter of their SLA; slow regions miss it more often.
        median = 60 * (node.sla_hours or 24) * 0.28 * pace
    elif node.type == "signoff":
        median = 25 * pace
    else:  # a task: fitting the parts that had to be ordered
        median = 60 * 30 * pace if parts else 60 * pace
    return _lognormal(rng, median, 0.75 if node.type == "service" else 0.6)


def _form(
    rng: random.Random, node: Node, order: PlannedOrder, parts: bool, late: bool, *, last: bool
) -> dict[str, Any]:
    if node.type == "service":
        if order.pipeline.key == "smart-lock-install":
            return {"installed": True}
        diagnosis = rng.choice(DIAGNOSES) + ("" if last else "，需二次上门")
        return {"diagnosis": diagnosis, "parts_needed": parts and last}
    if node.type == "signoff":
        weights = [35, 30, 18, 10, 7] if late else [62, 24, 8, 4, 2]
        stars = _weighted(rng, ["5", "4", "3", "2", "1"], weights)
        return {"signature": f"{order.order_id}-signature", "rating": stars}
    return {"fitted": True}


def _entry(
    node: Node,
    visit: int,
    start: datetime,
    end: datetime | None,
    actor: str,
    outcome: str,
    data: dict[str, Any],
) -> TimelineEntry:
    return TimelineEntry(
        node_id=node.id,
        node_type=node.type,
        visit=visit,
        started_at=start,
        completed_at=end,
        actor=actor,
        outcome=outcome,
        data=data,
    )


# ---- writing it through the order writer -------------------------------------------------------


def history_inputs(
    session: Session, *, keys: Sequence[str] = PIPELINES
) -> tuple[list[Outlet], list[Engineer], list[Pipeline]]:
    """The demo's outlets, engineers (with a login) and the published pipelines to run."""
    units = {u.path: u for u in org.list_units(session)}
    outlets = []
    for unit in units.values():
        if unit.kind != "outlet" or unit.lat is None or unit.lng is None:
            continue
        region = unit.path.strip("/").split("/")[1] if unit.path.count("/") > 1 else ""
        outlets.append(Outlet(unit.code, region, unit.city or "", unit.lat, unit.lng))
    outlets.sort(key=lambda o: o.code)
    _, total = dispatch.page_engineers(session, scope_path=None, limit=0, offset=0)
    rows, _ = dispatch.page_engineers(session, scope_path=None, limit=total, offset=0)
    engineers = sorted(
        (
            Engineer(
                e.id,
                e.code,
                e.user.username,
                e.name,
                e.outlet.code,
                e.outlet.path.strip("/").split("/")[1],
                e.max_load,
            )
            for e in rows
            if e.user is not None
        ),
        key=lambda e: e.code,
    )
    pipelines = []
    for key in keys:
        try:
            snapshot, _ = definitions.load_snapshot(session, key=key, version=None)
        except Invalid:  # not published: no history of it
            continue
        version = definitions.list_versions(session, key=key)[-1].version
        found = pipeline_of(key, version, snapshot.model_dump(mode="json"))
        if found is not None:
            pipelines.append(found)
    return outlets, engineers, pipelines


def _last_key(order: PlannedOrder) -> str | None:
    """The idempotency key of the order's last automatic write (stored once it ran)."""
    autos = [w for w in order.writes if w.kind == "auto"]
    return f"{order.order_id}/{autos[-1].node.id}/1" if autos else None


def _already_written(session: Session, order: PlannedOrder) -> bool:
    """An order is written once its final write is stored (every planned order completes);
    one that was interrupted is written again: each of its writes is idempotent, so that
    adds nothing and finishes it."""
    key = _last_key(order)
    return (
        order.completed
        and key is not None
        and effects.stored_result(session, idempotency_key=key) is not None
    )


ANCHOR_KEY = "demo-history/anchor"


def history_anchor(session_factory: sessionmaker[Session], *, now: datetime) -> datetime:
    """When the history ends: `now` the first time, kept (as an idempotent effect of its
    own) so a later run plans the very same orders and times."""
    with session_factory() as session:
        if effects.claim(session, idempotency_key=ANCHOR_KEY, activity=STARTED_BY, now=now):
            effects.save_result(
                session, idempotency_key=ANCHOR_KEY, result={"end": now.isoformat()}
            )
            session.commit()
            return now
        stored = effects.stored_result(session, idempotency_key=ANCHOR_KEY) or {}
    return datetime.fromisoformat(str(stored.get("end") or now.isoformat()))


def write_history(
    session_factory: sessionmaker[Session],
    plan: Sequence[PlannedOrder],
    *,
    progress: Progress | None = None,
    every: int = 200,
) -> HistorySummary:
    """Writes the planned orders not written yet, every write in time order."""
    summary = HistorySummary(planned=len(plan))
    with session_factory() as session:
        todo = [order for order in plan if not _already_written(session, order)]
    summary.skipped = len(plan) - len(todo)
    writes = sorted((w for order in todo for w in order.writes), key=lambda w: (w.at, w.order))
    by_index = {order.index: order for order in todo}
    remaining = {order.index: len(order.writes) for order in todo}
    for write in writes:
        order = by_index[write.order]
        _apply(session_factory, order, write)
        remaining[write.order] -= 1
        if remaining[write.order] == 0:
            summary.written += 1
            if progress is not None and summary.written % every == 0:
                progress(summary.written, len(todo))
    summary.completed = sum(1 for order in plan if order.completed)
    if progress is not None:
        progress(summary.written, len(todo))
    return summary


def _context(order: PlannedOrder) -> OrderContext:
    return OrderContext(
        region=order.outlet.region,
        outlet=order.outlet.code,
        priority=3,
        customer=order.customer,
        started_by=STARTED_BY,
    )


def _variables(order: PlannedOrder, upto: Write) -> dict[str, Any]:
    out: dict[str, Any] = {"fault": order.fault, "customer": order.customer}
    for write in order.writes:
        if write is upto:
            break
        if write.kind == "submit":
            out[write.node.id] = write.data
    return out


def _apply(session_factory: sessionmaker[Session], order: PlannedOrder, write: Write) -> None:
    if write.kind == "auto":
        _apply_automatic(session_factory, order, write)
    elif write.kind == "wait":
        _apply_waiting(session_factory, order, write)
    else:
        _apply_submitted(session_factory, order, write)


def _apply_automatic(
    session_factory: sessionmaker[Session], order: PlannedOrder, write: Write
) -> None:
    pipeline = order.pipeline
    times = iter((write.at, write.until))
    step = StepInput(
        order_id=order.order_id,
        node_id=write.node.id,
        node_type=write.node.type,
        visit=write.visit,
        idempotency_key=f"{order.order_id}/{write.node.id}/{write.visit}",
        params=write.node.params,
        variables=_variables(order, write),
        context=_context(order),
        definition_key=pipeline.key,
        definition_version=pipeline.version,
        status=write.status,  # type: ignore[arg-type]
        unrecorded_steps=write.unrecorded,
        final=write.final,
    )
    writer.run_step(
        session_factory,
        step,
        activity=AUTOMATIC[write.node.type],
        effect=_effect(write.node.type, order),
        clock=lambda: next(times, write.until),
        lock_order=write.node.type != "report",
    )


def _apply_waiting(
    session_factory: sessionmaker[Session], order: PlannedOrder, write: Write
) -> None:
    pipeline = order.pipeline
    writer.record_waiting(
        session_factory,
        WaitingStep(
            order_id=order.order_id,
            node_id=write.node.id,
            node_type=write.node.type,
            visit=write.visit,
            assignee=order.engineer.username,
            since=write.at,
            sla_deadline=write.sla_deadline,
            status=write.status,  # type: ignore[arg-type]
            context=_context(order),
            definition_key=pipeline.key,
            definition_version=pipeline.version,
            unrecorded_steps=write.unrecorded,
        ),
        lambda: write.at,
    )


def _apply_submitted(
    session_factory: sessionmaker[Session], order: PlannedOrder, write: Write
) -> None:
    pipeline = order.pipeline
    started = _started_of(order, write)
    accepted = StepAccepted(
        node_id=write.node.id,
        visit=write.visit,
        completed_at=write.at,
        step=_entry(
            write.node,
            write.visit,
            started,
            write.at,
            order.engineer.username,
            "done",
            write.data,
        ),
        status=write.status,  # type: ignore[arg-type]
        definition_key=pipeline.key,
        definition_version=pipeline.version,
        context=_context(order),
    )
    with session_factory() as session:
        writer.record_submitted(session, order_id=order.order_id, accepted=accepted, now=write.at)


def _started_of(order: PlannedOrder, write: Write) -> datetime:
    for other in order.writes:
        if other.kind == "wait" and other.node is write.node and other.visit == write.visit:
            return other.at
    return write.at


def _effect(node_type: str, order: PlannedOrder) -> Any:
    if node_type == "report":
        return orders.report
    if node_type == "settlement":
        return billing.settle
    return partial(_dispatch_to, order.engineer)


def _dispatch_to(
    engineer: Engineer, session: Session, step: StepInput, now: datetime, facts: OrderFacts
) -> StepOutcome:
    """The history's dispatch: the engineer the plan chose takes the job (their open-job
    count goes up, and down again when the order closes, as live)."""
    dispatch.move_slot(session, from_id=None, to_id=engineer.id)
    output = {
        "engineer_id": engineer.code,
        "engineer_user_id": engineer.username,
        "engineer_name": engineer.name,
        "outlet_id": engineer.outlet,
        "reason": "演示历史 demo history",
    }
    return StepOutcome(
        result=StepResult(output=output, summary=f"派给 {engineer.name} (演示历史)"),
        changes=OrderChanges(engineer_id=engineer.id),
    )


def generate_history(
    session_factory: sessionmaker[Session],
    *,
    now: datetime | None = None,
    orders_count: int = DEFAULT_ORDERS,
    days: int = DEFAULT_DAYS,
    progress: Progress | None = None,
) -> HistorySummary:
    """Plans the demo history ending `now` and writes what is missing of it."""
    began = time.monotonic()
    moment = history_anchor(session_factory, now=now or datetime.now(UTC))
    with session_factory() as session:
        outlets, engineers, pipelines = history_inputs(session)
    plan = plan_history(
        outlets=outlets,
        engineers=engineers,
        pipelines=pipelines,
        now=moment,
        orders=orders_count,
        days=days,
    )
    summary = write_history(session_factory, plan, progress=progress)
    summary.seconds = round(time.monotonic() - began, 1)
    return summary


def main() -> None:
    """`python -m servflow.demo.history`: writes the demo history into SERVFLOW_DATABASE_URL
    (what `make run` starts in the background once the demo data is loaded), printing its
    progress. SERVFLOW_DEMO_HISTORY_ORDERS sets how many orders (default 2000; 0: none)."""
    import os

    from servflow.platform.db import make_engine, make_session_factory
    from servflow.platform.settings import get_settings

    wanted = int(os.environ.get("SERVFLOW_DEMO_HISTORY_ORDERS", str(DEFAULT_ORDERS)))
    if wanted <= 0:
        print("demo history: off (SERVFLOW_DEMO_HISTORY_ORDERS=0)", flush=True)
        return
    # Second to the live orders: the API and the worker share the machine with it.
    with contextlib.suppress(OSError):
        os.nice(5)
    began = time.monotonic()

    def report(done: int, total: int) -> None:
        took = time.monotonic() - began
        print(f"demo history: {done}/{total} orders written ({took:.0f} s)", flush=True)

    engine = make_engine(get_settings().database_url)
    try:
        summary = generate_history(
            make_session_factory(engine), orders_count=wanted, progress=report
        )
    finally:
        engine.dispose()
    print(
        f"demo history: {summary.planned} orders over {DEFAULT_DAYS} days"
        f" ({summary.completed} completed), {summary.written} written"
        f" now, {summary.skipped} already there, in {summary.seconds} s",
        flush=True,
    )


if __name__ == "__main__":
    main()
