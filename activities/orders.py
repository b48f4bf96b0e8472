"""Orders' activities: report (register the order and its customer), close_order, and the
local activity record_waiting."""

from __future__ import annotations

from activities.support import ActivityDeps, business_rules
from servflow.orders import service, steps
from workflows.constants import ACTIVITY_CLOSE_ORDER, ACTIVITY_REPORT
from workflows.contracts import StepInput, StepResult, WaitingStep


@business_rules
def report(deps: ActivityDeps, step: StepInput) -> StepResult:
    return steps.run_step(
        deps.session_factory,
        step,
        activity=ACTIVITY_REPORT,
        effect=service.report,
        clock=deps.clock,
    )[0]


@business_rules
def close_order(deps: ActivityDeps, step: StepInput) -> StepResult:
    return steps.run_step(
        deps.session_factory,
        step,
        activity=ACTIVITY_CLOSE_ORDER,
        effect=service.close,
        clock=deps.clock,
    )[0]


def record_waiting(deps: ActivityDeps, step: WaitingStep) -> None:
    steps.record_waiting(deps.session_factory, step, deps.clock)
