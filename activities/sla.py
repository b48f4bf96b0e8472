"""sla_clock and sla_escalate: a step's business-time clock and its ladder levels
(servflow.sla), each once per idempotency key beside the step, never as the step itself."""

from __future__ import annotations

from activities.support import ActivityDeps, business_rules
from servflow.notify import service as notify
from servflow.orders import steps
from servflow.sla import service
from workflows.constants import ACTIVITY_SLA_CLOCK, ACTIVITY_SLA_ESCALATE
from workflows.contracts import StepInput, StepResult


@business_rules
def clock(deps: ActivityDeps, step: StepInput) -> StepResult:
    result, _ = steps.run_step(
        deps.session_factory,
        step,
        activity=ACTIVITY_SLA_CLOCK,
        effect=service.clock_event,
        clock=deps.clock,
    )
    return result


@business_rules
def escalate(deps: ActivityDeps, step: StepInput) -> StepResult:
    result, applied = steps.run_step(
        deps.session_factory,
        step,
        activity=ACTIVITY_SLA_ESCALATE,
        effect=service.escalate,
        clock=deps.clock,
    )
    # As the notify activity: a first delivery attempt now, the worker's relay retries.
    ids = result.output.get("notification_ids") or [result.output.get("notification_id")]
    ids = [i for i in ids if i is not None]
    if applied and not step.sandbox and ids:
        notify.deliver(deps.session_factory, deps.notifier, notification_ids=ids, clock=deps.clock)
    return result
