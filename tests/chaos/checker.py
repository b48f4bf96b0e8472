"""The independent checker: after a fault run, reads the store with its own SQL and Temporal
with its own client (never through the services under test), recomputes every order's
money from the price tables and the engineers' and customers' coordinates, replays every
workflow history, and prints one table. Any violation makes `violations` non-empty.

Independent means: no servflow domain code is called here. The distance, the tariff and
the 60/40 split are computed from the raw rows by this module alone, so a pricing or
settlement bug in the platform cannot hide by being repeated in its own check.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import create_engine, text
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.worker import Replayer

from tests.chaos.driver import DriverReport, Planned

CENT = Decimal("0.01")
SHARES = {"commissioning": Decimal("0.6"), "signoff": Decimal("0.4")}
ENGINEER_SHARE = Decimal("0.30")


def _money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _dec(value: Any) -> Decimal:
    """A stored amount as Decimal cents, however the driver returns it (SQLite: float or
    str; PostgreSQL: Decimal)."""
    return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)


def _km(lat1: float, lng1: float, lat2: float, lng2: float) -> Decimal:
    """Great-circle distance (mean earth radius), rounded half-up to 0.1 km as dispatch
    reports it."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = (
        math.sin((p2 - p1) / 2) ** 2
        + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lng2 - lng1) / 2) ** 2
    )
    km = 2 * 6371.0088 * math.asin(min(1.0, math.sqrt(a)))
    return Decimal(str(km)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


@dataclass
class CheckReport:
    rows: list[tuple[str, Any, Any]] = field(default_factory=list)
    """(what, found, expected)"""
    violations: list[str] = field(default_factory=list)

    def row(self, what: str, found: Any, expected: Any) -> None:
        self.rows.append((what, found, expected))
        if found != expected:
            self.violations.append(f"{what}: {found} (expected {expected})")

    def table(self) -> str:
        width = max(len(r[0]) for r in self.rows)
        lines = [f"{'check':<{width}}  {'found':>14}  {'expected':>14}  ok"]
        for what, found, expected in self.rows:
            mark = "ok" if found == expected else "VIOLATION"
            lines.append(f"{what:<{width}}  {found!s:>14}  {expected!s:>14}  {mark}")
        return "\n".join(lines)


def engineer_loads(url: str) -> dict[str, int]:
    """Every engineer's current load by code (taken before the run as the baseline)."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT code, current_load FROM engineer"))
            return {code: int(load) for code, load in rows}
    finally:
        engine.dispose()


class Checker:
    def __init__(self, url: str, client: Client, workflows: list[type]) -> None:
        self.url, self.client, self.workflows = url, client, workflows

    async def check(
        self,
        planned: list[Planned],
        driver: DriverReport,
        baseline_loads: dict[str, int],
        *,
        replay: bool = True,
    ) -> CheckReport:
        report = CheckReport()
        engine = create_engine(self.url)
        try:
            with engine.connect() as connection:
                self._orders(connection, planned, driver, report)
                self._effects_and_money(connection, planned, report)
                loads = {
                    code: int(load)
                    for code, load in connection.execute(
                        text("SELECT code, current_load FROM engineer")
                    )
                }
                moved = sorted(c for c in loads if loads[c] != baseline_loads.get(c))
                report.row("engineer loads off baseline", len(moved), 0)
                open_steps = connection.execute(
                    text(
                        "SELECT count(*) FROM work_order_step s JOIN work_order o"
                        " ON o.order_id = s.order_id"
                        " WHERE s.completed_at IS NULL AND o.sandbox = :no"
                    ),
                    {"no": False},
                ).scalar_one()
                report.row("steps left open in the read model", open_steps, 0)
        finally:
            engine.dispose()
        await self._temporal(planned, report, replay=replay)
        return report

    def _orders(
        self,
        connection: Any,
        planned: list[Planned],
        driver: DriverReport,
        report: CheckReport,
    ) -> None:
        phones = {p.phone for p in planned}
        rows = connection.execute(
            text(
                "SELECT o.order_id, o.status, c.phone FROM work_order o"
                " JOIN customer c ON c.id = o.customer_id WHERE o.sandbox = :no"
            ),
            {"no": False},
        ).all()
        ours = [r for r in rows if r.phone in phones]
        per_phone = Counter(r.phone for r in ours)
        statuses = Counter(r.status for r in ours)
        report.row("orders planned", len(planned), len(planned))
        report.row("orders the API started", len(driver.started), len(planned))
        report.row("orders in the store", len(ours), len(planned))
        report.row("orders completed (store)", statuses.get("completed", 0), len(planned))
        report.row("orders failed or cancelled", statuses["failed"] + statuses["cancelled"], 0)
        report.row("orders lost (planned, not completed)", len(planned) - statuses["completed"], 0)
        report.row("orders duplicated", sum(n - 1 for n in per_phone.values() if n > 1), 0)
        report.row("driver gave up", len(driver.gave_up), 0)

    def _effects_and_money(
        self, connection: Any, planned: list[Planned], report: CheckReport
    ) -> None:
        by_phone = {p.phone: p for p in planned}
        orders = {
            r.order_id: by_phone[r.phone]
            for r in connection.execute(
                text(
                    "SELECT o.order_id, c.phone FROM work_order o"
                    " JOIN customer c ON c.id = o.customer_id"
                )
            )
            if r.phone in by_phone
        }
        tariffs = {
            r.name: (_dec(r.base_visit_fee), _dec(r.per_km_surcharge), _dec(r.free_km))
            for r in connection.execute(
                text(
                    "SELECT u.name, t.base_visit_fee, t.per_km_surcharge, t.free_km"
                    " FROM price_table t JOIN org_unit u ON u.id = t.region_id"
                    " WHERE t.currency = :cny"
                ),
                {"cny": "CNY"},
            )
        }
        engineers = {
            r.id: (r.code, r.lat, r.lng)
            for r in connection.execute(text("SELECT id, code, lat, lng FROM engineer"))
        }
        decisions: dict[str, list[int]] = defaultdict(list)
        for r in connection.execute(text("SELECT order_id, engineer_id FROM dispatch_decision")):
            if r.order_id in orders:
                decisions[r.order_id].append(r.engineer_id)
        settlements: dict[str, list[Any]] = defaultdict(list)
        for r in connection.execute(
            text("SELECT id, order_id, milestone, amount, status FROM settlement")
        ):
            if r.order_id in orders:
                settlements[r.order_id].append(r)
        payouts: dict[int, list[Any]] = defaultdict(list)
        for r in connection.execute(
            text("SELECT settlement_id, payee_kind, payee_id, amount FROM payout")
        ):
            payouts[r.settlement_id].append(r)

        twice_dispatched = sum(1 for ids in decisions.values() if len(ids) != 1)
        report.row("orders not dispatched exactly once", twice_dispatched, 0)
        expected_total = settled_total = Decimal(0).quantize(CENT)
        wrong_settlements = wrong_payouts = unpaid = 0
        for order_id, order in orders.items():
            base, per_km, free_km = tariffs[order.region]
            ids = decisions.get(order_id) or [0]
            code, lat, lng = engineers.get(ids[-1], ("", None, None))
            km = _km(order.lat, order.lng, lat, lng) if lat is not None else Decimal(0)
            job = _money(base) + _money(max(Decimal(0), km - free_km) * per_km)
            expected_total += job
            first = _money(job * SHARES["commissioning"])
            want = {"commissioning": first, "signoff": job - first}
            got = settlements.get(order_id, [])
            if sorted(s.milestone for s in got) != sorted(want):
                wrong_settlements += 1
            for s in got:
                amount = _dec(s.amount)
                settled_total += amount
                if want.get(s.milestone) != amount:
                    wrong_settlements += 1
                if s.status != "paid":
                    unpaid += 1
                    continue
                paid = payouts.get(s.id, [])
                to_engineer = _money(amount * ENGINEER_SHARE)
                shape = sorted((p.payee_kind, _dec(p.amount)) for p in paid)
                if shape != sorted([("engineer", to_engineer), ("outlet", amount - to_engineer)]):
                    wrong_payouts += 1
                if any(p.payee_kind == "engineer" and p.payee_id != code for p in paid):
                    wrong_payouts += 1
        report.row("settlements missing, twice or wrong", wrong_settlements, 0)
        report.row("settlements held (not paid)", unpaid, 0)
        report.row("payouts missing, twice or wrong", wrong_payouts, 0)
        report.row("money expected vs settled (CNY)", settled_total, expected_total)

    async def _temporal(self, planned: list[Planned], report: CheckReport, *, replay: bool) -> None:
        executions = [e async for e in self.client.list_workflows('WorkflowType="WorkOrder"')]
        statuses = Counter(e.status for e in executions)
        report.row("workflows in Temporal", len(executions), len(planned))
        report.row(
            "workflows completed (Temporal)",
            statuses.get(WorkflowExecutionStatus.COMPLETED, 0),
            len(planned),
        )
        if not replay:
            return
        from servflow.platform.temporal import sandbox_runner

        replayer = Replayer(
            workflows=self.workflows,
            data_converter=self.client.data_converter,
            workflow_runner=sandbox_runner(),
        )
        failed = 0
        for execution in executions:
            history = await self.client.get_workflow_handle(
                execution.id, run_id=execution.run_id
            ).fetch_history()
            result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
            if result.replay_failure is not None:
                failed += 1
                report.violations.append(f"replay {execution.id}: {result.replay_failure}")
        report.row("histories replayed", len(executions) - failed, len(executions))
