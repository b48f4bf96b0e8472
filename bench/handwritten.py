"""The five-step pipeline written by hand as a Temporal workflow: the baseline.

It does what the interpreter does for bench.support.FIVE_STEPS, command for command: the
same activities with the same inputs, the same Update validation (active step, actor,
form), the same search-attribute upserts, the same state query. What differs is that
nothing is interpreted and that a step may be sent before it is reached (its Update waits
for it): the client never polls, so this is the engine's limit for the pipeline (3
activities, 2 Updates), what `api_vs_limit` divides by.
"""

from __future__ import annotations

from typing import Any

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from workflows import constants as c
    from workflows.contracts import (
        ActiveNode,
        OrderResult,
        OrderState,
        StartOrderInput,
        StepAccepted,
        StepInput,
        StepResult,
        StepSubmission,
        TimelineEntry,
        WaitingStep,
    )
    from workflows.forms import FormField, check_submission

FORMS = {
    "service": [FormField(name="diagnosis", type="text")],
    "signoff": [FormField(name="signature", type="signature")],
}


@workflow.defn(name="HandwrittenFiveSteps")
class HandwrittenFiveSteps:
    @workflow.init
    def __init__(self, input: StartOrderInput) -> None:
        self._input = input
        self._variables: dict[str, Any] = dict(input.variables)
        self._timeline: list[TimelineEntry] = []
        self._active: dict[str, ActiveNode] = {}
        self._submitted: dict[str, dict[str, Any]] = {}
        self._unrecorded: list[TimelineEntry] = []
        self._status = "running"
        self._engineer = ""
        self._published: dict[str, Any] = {}

    @workflow.run
    async def run(self, input: StartOrderInput) -> OrderResult:
        ctx = input.context
        self._upsert(
            [
                c.SA_REGION.value_set(ctx.region),
                c.SA_OUTLET.value_set(ctx.outlet),
                c.SA_DEFINITION_KEY.value_set(input.definition.key),
                c.SA_DEFINITION_VERSION.value_set(input.definition.version),
                c.SA_PRIORITY.value_set(ctx.priority),
            ]
        )
        await self._automatic(
            "report", "report", {"fault": "", "refuse_duplicates": True}, "reported"
        )
        dispatch_params = {
            "skills": ["refrigeration"],
            "radius_km": None,
            "strategy": "nearest",
            "cross_region": False,
        }
        output = await self._automatic("dispatch", "dispatch", dispatch_params, "dispatched")
        self._engineer = output["engineer_user_id"]
        await self._human("service", "serviced")
        await self._human("signoff", "signed_off")
        params = {"milestone": "completion", "share": "1", "currency": "CNY"}
        await self._automatic("settlement", "settlement", params, "settled", final=True)
        entry = self._enter("end", "end")
        self._status = "completed"
        entry.completed_at = workflow.now()
        del self._active["end"]
        self._upsert([c.SA_STATUS.value_set(self._status), c.SA_CURRENT_NODE.value_set("")])
        await workflow.wait_condition(workflow.all_handlers_finished)
        return OrderResult(
            order_id=input.order_id,
            status="completed",
            variables=self._variables,
            timeline=self._timeline,
            breaches=[],
        )

    def _enter(self, node_id: str, node_type: str, human: bool = False) -> TimelineEntry:
        now = workflow.now()
        self._active[node_id] = ActiveNode(
            node_id=node_id,
            node_type=node_type,
            name="",
            visit=1,
            since=now,
            human=human,
            assignee=self._engineer if human else "",
        )
        entry = TimelineEntry(node_id=node_id, node_type=node_type, visit=1, started_at=now)
        self._timeline.append(entry)
        return entry

    async def _automatic(
        self, node_id: str, name: str, params: dict[str, Any], status: str, final: bool = False
    ) -> dict[str, Any]:
        entry = self._enter(node_id, name)
        self._upsert([c.SA_STATUS.value_set(self._status), c.SA_CURRENT_NODE.value_set(node_id)])
        steps, self._unrecorded = self._unrecorded, []
        result = await workflow.execute_activity(
            name,
            StepInput(
                order_id=self._input.order_id,
                node_id=node_id,
                node_type=name,
                visit=1,
                idempotency_key=f"{self._input.order_id}/{node_id}/1",
                params=params,
                variables=self._variables,
                context=self._input.context,
                definition_key=self._input.definition.key,
                definition_version=self._input.definition.version,
                status="completed" if final else status,  # type: ignore[arg-type]
                unrecorded_steps=steps,
                final=final,
            ),
            result_type=StepResult,
            start_to_close_timeout=c.ACTIVITY_START_TO_CLOSE,
            retry_policy=c.ACTIVITY_RETRY,
        )
        self._variables[node_id] = result.output
        entry.outcome = result.summary
        del self._active[node_id]
        self._status = status
        entry.completed_at = workflow.now()
        return result.output

    async def _human(self, node_id: str, status: str) -> None:
        entry = self._enter(node_id, node_id, human=True)
        self._upsert([c.SA_STATUS.value_set(self._status), c.SA_CURRENT_NODE.value_set(node_id)])
        steps, self._unrecorded = self._unrecorded, []
        await workflow.execute_local_activity(
            c.ACTIVITY_RECORD_WAITING,
            WaitingStep(
                order_id=self._input.order_id,
                node_id=node_id,
                node_type=node_id,
                visit=1,
                assignee=self._engineer,
                since=entry.started_at,
                status=self._status,  # type: ignore[arg-type]
                context=self._input.context,
                definition_key=self._input.definition.key,
                definition_version=self._input.definition.version,
                unrecorded_steps=steps,
            ),
            start_to_close_timeout=c.RECORD_WAITING_TIMEOUT,
            retry_policy=c.RECORD_WAITING_RETRY,
        )
        await workflow.wait_condition(lambda: node_id in self._submitted)
        self._variables[node_id] = self._submitted.pop(node_id)
        del self._active[node_id]
        self._status = status

    @workflow.update(name="submit_step")
    async def submit_step(self, submission: StepSubmission) -> StepAccepted:
        # The limit's client does not poll: it sends each step at once, and the Update
        # waits here until its node is reached (then is checked as the interpreter checks).
        await workflow.wait_condition(lambda: submission.node_id in self._active)
        self._check(submission)
        cleaned, _ = check_submission(FORMS[submission.node_id], submission.data)
        entry = next(e for e in reversed(self._timeline) if e.node_id == submission.node_id)
        entry.completed_at, entry.actor, entry.outcome, entry.data = (
            workflow.now(),
            submission.actor.user_id,
            submission.outcome,
            cleaned,
        )
        self._unrecorded.append(entry)
        self._submitted[submission.node_id] = cleaned
        # Like the interpreter: answer once the step is taken, with what waits next.
        await workflow.wait_condition(lambda: submission.node_id not in self._submitted)
        return StepAccepted(
            node_id=submission.node_id,
            visit=1,
            completed_at=entry.completed_at,
            step=entry,
            status=self._status,  # type: ignore[arg-type]
            definition_key=self._input.definition.key,
            definition_version=self._input.definition.version,
            context=self._input.context,
            active=list(self._active.values()),
        )

    @submit_step.validator
    def _validate(self, submission: StepSubmission) -> None:
        if submission.node_id in self._active:
            self._check(submission)
        elif submission.node_id not in FORMS or any(
            e.node_id == submission.node_id for e in self._timeline
        ):
            raise ApplicationError("step not waiting", type="StepNotActive", non_retryable=True)

    def _check(self, submission: StepSubmission) -> None:
        if (
            submission.node_id not in self._active
            or submission.node_id in self._submitted
            or submission.node_id not in FORMS
        ):
            raise ApplicationError("step not waiting", type="StepNotActive", non_retryable=True)
        if submission.actor.user_id != self._engineer:
            raise ApplicationError("not the assignee", type="ActorNotAllowed", non_retryable=True)
        _, errors = check_submission(FORMS[submission.node_id], submission.data)
        if errors:
            raise ApplicationError("form errors", errors, type="FormInvalid", non_retryable=True)

    @workflow.query(name="state")
    def state(self) -> OrderState:
        return OrderState(
            order_id=self._input.order_id,
            definition_key=self._input.definition.key,
            definition_version=self._input.definition.version,
            status=self._status,  # type: ignore[arg-type]
            context=self._input.context,
            active=list(self._active.values()),
            variables=self._variables,
            timeline=self._timeline,
            breaches=[],
        )

    def _upsert(self, updates: list[Any]) -> None:
        changed = [u for u in updates if self._published.get(u.key.name) != u.value]
        for update in changed:
            self._published[update.key.name] = update.value
        if changed:
            workflow.upsert_search_attributes(changed)
