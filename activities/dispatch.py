"""dispatch: pick the engineer for the job (servflow.dispatch)."""

from __future__ import annotations

from activities.support import ActivityDeps, business_rules
from servflow.dispatch import service
from servflow.orders import steps
from workflows.constants import ACTIVITY_DISPATCH
from workflows.contracts import StepInput, StepResult


@business_rules
def dispatch(deps: ActivityDeps, step: StepInput) -> StepResult:
    return steps.run_step(
        deps.session_factory,
        step,
        activity=ACTIVITY_DISPATCH,
        effect=service.dispatch,
        clock=deps.clock,
        lock_order=True,
    )[0]
