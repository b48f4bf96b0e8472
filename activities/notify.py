"""notify: write the messages to the outbox, then make a first delivery attempt
(servflow.notify); what fails the worker's relay retries. A test run's message is only
rendered."""

from __future__ import annotations

from activities.support import ActivityDeps, business_rules
from servflow.notify import service
from servflow.orders import steps
from workflows.constants import ACTIVITY_NOTIFY
from workflows.contracts import StepInput, StepResult


@business_rules
def notify(deps: ActivityDeps, step: StepInput) -> StepResult:
    result, applied = steps.run_step(
        deps.session_factory,
        step,
        activity=ACTIVITY_NOTIFY,
        effect=service.notify,
        clock=deps.clock,
    )
    # A test run's message was only rendered: there is nothing to send.
    if applied and not step.sandbox:
        ids = result.output.get("notification_ids") or [result.output["notification_id"]]
        service.deliver(deps.session_factory, deps.notifier, notification_ids=ids, clock=deps.clock)
    return result
