"""The monthly settlement run as a Temporal workflow: it settles the month once, however
often it is started; the month it settles by default is the one before (China time)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import func, select
from temporalio.client import Client

from activities.registry import ActivityDeps, build_activities
from servflow.billing.models import Statement
from servflow.ledger.models import LedgerEntry
from tests.billing.conftest import WEEKDAY_NOON
from tests.billing.test_money_api import _reported, _settle
from worker import build_worker
from workflows import constants as c
from workflows.settlement_run import SettlementRunInput, SettlementRunResult, month_before


def test_the_run_on_the_first_settles_the_month_before_in_china_time():
    # 1 Dec 01:00 in China is still 30 Nov in UTC.
    assert month_before(datetime(2026, 11, 30, 17, 0, tzinfo=UTC)) == "2026-11"
    assert month_before(datetime(2026, 12, 1, 2, 0, tzinfo=UTC)) == "2026-11"
    assert month_before(datetime(2026, 1, 1, 2, 0, tzinfo=UTC)) == "2025-12"


async def test_the_monthly_run_pays_accrued_money_once_however_often_started(
    temporal_env, weekday_run, money_demo
):
    await _reported(weekday_run, "o-r")
    await weekday_run("settlement", _settle("o-r", "completion", "1", mode="periodic"))
    client: Client = temporal_env.client
    queue = f"run-{uuid.uuid4()}"
    deps = ActivityDeps(session_factory=money_demo, clock=lambda: WEEKDAY_NOON)
    async with build_worker(client, task_queue=queue, activities=build_activities(deps)):
        results = [
            await client.execute_workflow(
                c.SETTLEMENT_RUN_WORKFLOW,
                SettlementRunInput(period="2026-11"),
                id=f"run-{uuid.uuid4()}",
                task_queue=queue,
                result_type=SettlementRunResult,
            )
            for _ in range(2)
        ]

    assert [r.applied for r in results] == [True, False]
    assert results[0].accrued_paid == 1 and results[0].statements == 3
    with money_demo() as session:
        assert session.scalar(select(func.count()).select_from(Statement)) == 3
        payouts = session.scalar(
            select(func.count()).select_from(LedgerEntry).where(LedgerEntry.kind == "payout")
        )
    assert payouts == 3
