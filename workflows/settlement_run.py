"""The monthly settlement run (deterministic, no I/O): a Temporal Schedule starts it on
the 1st of each month; it settles the month before (China time) in one activity, which is
guarded by the once-only key `settlement-run:<period>`, so a retry, a second start or a
worker killed mid-run never settles a month twice."""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel, Field
from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from workflows import constants as c

RUN_TIMEOUT = timedelta(minutes=30)
CHINA = timedelta(hours=8)
"""China time is UTC+8 all year (no daylight saving): a fixed offset keeps this pure."""


class SettlementRunInput(BaseModel):
    period: str = Field(default="", pattern=r"^$|^\d{4}-(0[1-9]|1[0-2])$")
    """The month to settle; empty: the month before the run's start (China time)."""


class SettlementRunResult(BaseModel):
    period: str
    applied: bool
    accrued_paid: int = 0
    statements: int = 0
    total: str = "0"
    checkpoints: int = 0


def month_before(moment: datetime) -> str:
    """The China-time month before the one `moment` falls in: "2026-11" on 1 Dec."""
    local = moment + CHINA
    first = local.replace(day=1)
    return (first - timedelta(days=1)).strftime("%Y-%m")


@workflow.defn(name=c.SETTLEMENT_RUN_WORKFLOW)
class SettlementRunWorkflow:
    @workflow.run
    async def run(self, run: SettlementRunInput | None = None) -> SettlementRunResult:
        period = (run.period if run else "") or month_before(workflow.now())
        result: SettlementRunResult = await workflow.execute_activity(
            c.ACTIVITY_SETTLEMENT_RUN,
            SettlementRunInput(period=period),
            start_to_close_timeout=RUN_TIMEOUT,
            retry_policy=c.ACTIVITY_RETRY,
            result_type=SettlementRunResult,
        )
        return result
