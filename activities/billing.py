"""settlement: price the job once, pay this milestone's share (servflow.billing)."""

from __future__ import annotations

from functools import partial

from activities.support import ActivityDeps, business_rules
from servflow.billing import service
from servflow.orders import steps
from workflows.constants import ACTIVITY_SETTLEMENT
from workflows.contracts import StepInput, StepResult


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
