"""settlement: price the job once, pay this milestone's share (servflow.billing); the
monthly settlement run and the Temporal Schedule that starts it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from functools import partial
from typing import Any

from temporalio import activity
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleCalendarSpec,
    ScheduleRange,
    ScheduleSpec,
)

from activities.support import ActivityDeps, business_rules
from servflow.billing import service, statements
from servflow.ledger import service as ledger
from servflow.orders import steps
from servflow.platform.keys import WeakSecret
from servflow.platform.settings import get_settings
from workflows import constants as c
from workflows.constants import ACTIVITY_SETTLEMENT
from workflows.contracts import StepInput, StepResult
from workflows.settlement_run import SettlementRunInput, SettlementRunResult

log = logging.getLogger(__name__)
RUN_SCHEDULE_ID = "servflow-settlement-run-monthly"


@business_rules
def settlement(deps: ActivityDeps, step: StepInput) -> StepResult:
    return steps.run_step(
        deps.session_factory,
        step,
        activity=ACTIVITY_SETTLEMENT,
        effect=partial(
            service.settle,
            engineer_share=deps.engineer_share,
            ceiling=deps.settlement_ceiling,
        ),
        clock=deps.clock,
        lock_order=True,
    )[0]


def _signing_key() -> Any:
    settings = get_settings()
    try:
        return ledger.signing_key(settings.ledger_key, demo=settings.demo)
    except WeakSecret as exc:
        log.warning("settlement run: checkpoints not signed (%s)", exc)
        return None


def settlement_run(deps: ActivityDeps, run: SettlementRunInput) -> SettlementRunResult:
    """Settles the month once (servflow.billing.statements.run_period) and commits."""
    with deps.session_factory() as session:
        report = statements.run_period(
            session, period=run.period, now=deps.clock(), key=_signing_key()
        )
        session.commit()
    return SettlementRunResult(**report.as_dict())


def build(deps: ActivityDeps) -> list[Callable[..., Any]]:
    """The settlement run activity (the node activity goes through the registry)."""

    @activity.defn(name=c.ACTIVITY_SETTLEMENT_RUN)
    async def settlement_run_activity(run: SettlementRunInput) -> SettlementRunResult:
        return await asyncio.to_thread(settlement_run, deps, run)

    return [settlement_run_activity]


async def ensure_run_schedule(client: Client, *, task_queue: str) -> None:
    """Creates the Temporal Schedule that starts the settlement run at 02:00 China time on
    the 1st of every month (once; an existing schedule is left as it is)."""
    with contextlib.suppress(ScheduleAlreadyRunningError):
        await client.create_schedule(
            RUN_SCHEDULE_ID,
            Schedule(
                action=ScheduleActionStartWorkflow(
                    c.SETTLEMENT_RUN_WORKFLOW,
                    SettlementRunInput(),
                    id=RUN_SCHEDULE_ID,
                    task_queue=task_queue,
                ),
                spec=ScheduleSpec(
                    calendars=[
                        ScheduleCalendarSpec(
                            day_of_month=[ScheduleRange(1)],
                            hour=[ScheduleRange(2)],
                            minute=[ScheduleRange(0)],
                            second=[ScheduleRange(0)],
                        )
                    ],
                    time_zone_name="Asia/Shanghai",
                ),
            ),
        )
