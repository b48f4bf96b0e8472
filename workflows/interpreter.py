"""The one generic workflow: runs a work order by walking its definition snapshot.

Deterministic by construction: time comes from `workflow.now()`, waiting from Temporal
timers and conditions, work from activities; iteration is over lists and insertion-ordered
dicts only. Human steps arrive as the `submit_step` Update, whose validator refuses a wrong
step, actor or form before anything is written to history.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import suppress
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import TypedSearchAttributes
from temporalio.exceptions import (
    ActivityError,
    ApplicationError,
    CancelledError,
    ChildWorkflowError,
    FailureError,
)
from temporalio.exceptions import TimeoutError as TemporalTimeoutError

with workflow.unsafe.imports_passed_through():
    from workflows import constants as c
    from workflows import trust
    from workflows.contracts import (
        CUSTOMER_ROLE,
        HANDOFF_ANSWER,
        HANDOFF_OUTPUT,
        MANAGING_ROLES,
        NOTE_NODE,
        ActiveNode,
        Actor,
        Cancellation,
        Handoff,
        Note,
        OrderResult,
        OrderState,
        OrderStatus,
        Reassignment,
        ResumeState,
        SlaBreach,
        SlaClockParams,
        SlaHold,
        SlaLevelPlan,
        SlaPlan,
        StartOrderInput,
        StepAccepted,
        StepInput,
        StepRefusal,
        StepResult,
        StepSubmission,
        TimelineEntry,
        WaitingStep,
        role_assignee,
        sandbox_starter,
    )
    from workflows.expressions import ExpressionError, evaluate
    from workflows.forms import check_submission
    from workflows.nodes import BaseNode
    from workflows.nodes.flow import EndNode
    from workflows.nodes.handoff import handoff_step

# Patch ids (workflow.patched): orders started before a change replay on the old path.
PATCH_STEP_ANSWER_SHOWS_NEXT = "step-answer-shows-next"
PATCH_READ_MODEL_WAITING = "read-model-shows-waiting-steps"
PATCH_READ_MODEL_NEVER_FAILS = "read-model-write-never-fails-order"
PATCH_CANCEL_DURING_ACTIVITY = "cancel-during-activity-ends-cancelled"
PATCH_BUSINESS_SLA = "sla-business-time-clock"
PATCH_AUTOMATIC_STEP_HANDS_OFF = "automatic-step-hands-off"
PATCH_RUN_WORKFLOW = "node-runs-child-workflow"


@workflow.defn(name=c.INTERPRETER_WORKFLOW)
class WorkOrderWorkflow:
    @workflow.init
    def __init__(self, input: StartOrderInput) -> None:
        self._input = input
        self._definition = input.definition
        self._nodes: dict[str, BaseNode] = input.definition.node_map()
        resume = input.resume
        if resume is None:
            defaults = {v.name: v.default for v in input.definition.variables}
            self._variables: dict[str, Any] = {**defaults, **input.variables}
            self._timeline: list[TimelineEntry] = []
            self._breaches: list[SlaBreach] = []
            self._visits: dict[str, int] = {}
            self._assignments: dict[str, str] = {}
            self._status: OrderStatus = "running"
            self._runs = 1
        else:
            self._variables = dict(resume.variables)
            self._timeline = list(resume.timeline)
            self._breaches = list(resume.breaches)
            self._visits = dict(resume.visits)
            self._assignments = dict(resume.assignments)
            self._status = resume.status
            self._runs = resume.runs + 1
        self._engineer = self._latest_engineer()
        self._active: dict[str, ActiveNode] = {}
        self._submitted: dict[str, tuple[dict[str, Any], Actor, str]] = {}
        self._escalated_to: dict[str, str] = {}
        self._sla_held: dict[str, SlaHold] = {}
        self._sla_events: dict[str, int] = {}
        self._unrecorded: list[TimelineEntry] = []
        self._closed = False
        self._branches_open = 0
        self._cancel: Cancellation | None = None
        self._main: asyncio.Task[str | None] | None = None
        self._published_sa: dict[str, Any] = {}

    # ---- run -------------------------------------------------------------------------

    @workflow.run
    async def run(self, input: StartOrderInput) -> OrderResult:
        start = input.resume.node_id if input.resume else self._definition.start
        self._publish_identity()
        self._main = asyncio.create_task(self._walk(start, stop_at=None, main=True))
        if self._cancel is not None:
            self._main.cancel()  # cancelled before the run began (e.g. signal-with-start)
        try:
            continue_at = await self._main
        except asyncio.CancelledError:
            await self._finish_cancelled()
            if self._cancel is None:
                raise  # cancelled through Temporal: the run ends as cancelled there too
        except (ActivityError, ChildWorkflowError) as err:
            if (
                _is_cancel(err)
                and self._cancelling()
                and workflow.patched(PATCH_CANCEL_DURING_ACTIVITY)
            ):
                # The activity (or child) was cancelled because the order was: it ends
                # cancelled, not failed with "Cancelled".
                await self._finish_cancelled()
                if self._cancel is None:
                    raise asyncio.CancelledError() from err
            else:
                await self._finish_failed(err)
        except (ExpressionError, LookupError) as err:
            await self._finish_failed(err)
        else:
            if continue_at is not None:
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(self._continued_input(continue_at))
        await workflow.wait_condition(workflow.all_handlers_finished)
        return OrderResult(
            order_id=input.order_id,
            status=self._status,
            variables=self._variables,
            timeline=self._timeline,
            breaches=self._breaches,
        )

    def _cancelling(self) -> bool:
        """True once the order was asked to cancel (signal, or Temporal's own cancel)."""
        return self._cancel is not None or bool(self._main and self._main.cancelling())

    async def _walk(self, node_id: str | None, *, stop_at: str | None, main: bool) -> str | None:
        """Visit nodes from `node_id` until an end (or `stop_at`, a branch's join).

        Returns a node id to continue as new at, or None when the walk finished.
        """
        while node_id is not None and node_id != stop_at:
            if main and self._should_continue_as_new():
                return node_id
            node_id = await self._visit(self._nodes[node_id])
        return None

    async def _visit(self, node: BaseNode) -> str | None:
        visit = self._visits.get(node.id, 0) + 1
        self._visits[node.id] = visit
        now = workflow.now()
        entry = TimelineEntry(node_id=node.id, node_type=node.type, visit=visit, started_at=now)
        deadline = now + node.sla.duration if node.sla is not None else None
        self._active[node.id] = ActiveNode(
            node_id=node.id,
            node_type=node.type,
            name=node.name,
            visit=visit,
            since=now,
            human=node.human,
            assignee=self._assignee_label(node),
            sla_deadline=deadline,
        )
        if not node.transient:
            self._publish_progress()  # refreshed only where an order waits
        self._timeline.append(entry)
        try:
            if isinstance(node, EndNode):
                await self._close()
            if node.human:
                await self._record_waiting(node)
            work = node.execute(self)
            next_id = await (self._with_sla(node, work) if node.sla is not None else work)
        finally:
            del self._active[node.id]
        if node.status_on_complete is not None:
            self._status = node.status_on_complete  # type: ignore[assignment]
        entry.completed_at = workflow.now()
        if node.activity is None and not node.human and not node.transient:
            self._unrecorded.append(entry)
        if isinstance(node, EndNode):
            self._publish_progress()
        return next_id

    # ---- what nodes ask of the runtime (workflows.nodes.base.Runtime) -----------------

    async def run_activity(self, node: BaseNode) -> dict[str, Any]:
        assert node.activity is not None
        final = self._ends_after(node)
        status = "completed" if final else (node.status_on_complete or self._status)
        result = await self._call_activity(node.activity, node, status=status, final=final)
        rounds = 0
        while isinstance(result.output.get(HANDOFF_OUTPUT), dict) and workflow.patched(
            PATCH_AUTOMATIC_STEP_HANDS_OFF
        ):
            # The activity asks a person first: their answer (or the timeout) goes back to it.
            rounds += 1
            asked = Handoff.model_validate(result.output[HANDOFF_OUTPUT])
            answer = await self._hand_off(node, asked)
            result = await self._call_activity(
                node.activity,
                node,
                status=status,
                final=final,
                params={**_params_of(node), HANDOFF_ANSWER: answer},
                key_suffix=f"handoff{rounds}",
            )
        self._variables[node.id] = result.output
        entry = self._timeline[self._entry_index(node)]
        entry.outcome = result.summary
        if self._input.sandbox:
            # A test run's timeline shows what each simulated effect would have done.
            entry.data = result.output
        if node.assigns_engineer:
            self._engineer = node.engineer_in(result.output)
        if node.places_order:
            self._publish_placement(result.output)
        if final:
            self._closed = True
        return result.output

    async def _hand_off(self, node: BaseNode, handoff: Handoff) -> dict[str, Any]:
        """Waits, as the human step `<node id>.handoff`, for the answer `handoff` asks for;
        the answer `on_timeout` when its time limit passes first.

        Returns:
            The form's data (`answer`, `reason`, `choice`) and who answered (`by`, `roles`).
        """
        step = handoff_step(
            node.id,
            answers=handoff.answers,
            assignee_user=handoff.assignee_user,
            assignee_role=handoff.assignee_role,
            within=handoff.within,
            name=handoff.name,
        )
        self._nodes[step.id] = step
        self._assignments.pop(step.id, None)  # a reassignment was for the earlier ask
        self._escalated_to.pop(step.id, None)
        visit = self._visits.get(step.id, 0) + 1
        self._visits[step.id] = visit
        now = workflow.now()
        limit = step.time_limit
        self._active[step.id] = ActiveNode(
            node_id=step.id,
            node_type=step.type,
            name=step.name,
            visit=visit,
            since=now,
            human=True,
            assignee=handoff.assignee,
            sla_deadline=now + limit if limit is not None else None,
        )
        entry = TimelineEntry(node_id=step.id, node_type=step.type, visit=visit, started_at=now)
        self._timeline.append(entry)
        self._publish_progress()
        try:
            await self._record_waiting(step)
            with suppress(TimeoutError):
                await workflow.wait_condition(lambda: step.id in self._submitted, timeout=limit)
            if step.id in self._submitted:
                data, actor, _outcome = self._submitted.pop(step.id)
                return {**data, "by": actor.user_id, "roles": list(actor.roles)}
            entry.completed_at, entry.actor = workflow.now(), "system"
            entry.outcome = handoff.on_timeout
            entry.data = {"answer": handoff.on_timeout}
            self._unrecorded.append(entry)
            return {"answer": handoff.on_timeout, "by": "", "roles": []}
        finally:
            del self._active[step.id]

    async def wait_for_step(self, node: BaseNode) -> dict[str, Any]:
        await workflow.wait_condition(lambda: node.id in self._submitted)
        data, _actor, _outcome = self._submitted.pop(node.id)
        self._variables[node.id] = data
        return data

    async def sleep(self, duration: timedelta) -> None:
        await workflow.sleep(duration)

    async def run_branches(self, starts: list[str], join: str) -> None:
        self._branches_open += 1
        try:
            branches = [
                asyncio.create_task(self._walk(s, stop_at=join, main=False)) for s in starts
            ]
            try:
                await asyncio.gather(*branches)
            except BaseException:
                for branch in branches:
                    branch.cancel()
                raise
        finally:
            self._branches_open -= 1

    async def run_child(self, node: BaseNode, key: str, inputs: dict[str, Any]) -> dict[str, Any]:
        definition = self._input.subdefinitions.get(key)
        if definition is None:
            raise LookupError(f"sub-pipeline '{key}' was not part of this order's snapshot")
        child_id = f"{self._input.order_id}.{node.id}.{self._visits[node.id]}"
        child = await workflow.start_child_workflow(
            WorkOrderWorkflow.run,
            StartOrderInput(
                order_id=child_id,
                definition=definition,
                subdefinitions=self._input.subdefinitions,
                variables=inputs,
                context=self._input.context,
                sandbox=self._input.sandbox,
            ),
            id=child_id,
        )
        # Shown only once started, so a caller can address the child's steps at once.
        self._active[node.id].child_workflow_id = child_id
        result = await child
        self._variables[node.id] = result.variables
        return result.variables

    async def run_workflow(
        self, node: BaseNode, workflow_type: str, arg: dict[str, Any], *, workflow_id: str
    ) -> dict[str, Any]:
        """Runs the registered workflow `workflow_type` as a child of this order and waits for
        its result (a node's saga of its own, e.g. a parts transfer); cancelling the order
        cancels the child, which compensates before it ends."""
        if not workflow.patched(PATCH_RUN_WORKFLOW):
            raise LookupError(f"node '{node.id}' runs a child workflow this order predates")
        child = await workflow.start_child_workflow(
            workflow_type,
            arg,
            id=workflow_id,
            # Closing the order asks the child to cancel, never kills it mid-compensation.
            parent_close_policy=workflow.ParentClosePolicy.REQUEST_CANCEL,
        )
        active = self._active.get(node.id)
        if active is not None:
            shown = [w for w in active.child_workflow_id.split(",") if w]
            active.child_workflow_id = ",".join([*shown, workflow_id])
        result = await child
        return result if isinstance(result, dict) else {"result": result}

    def evaluate(self, source: str) -> Any:
        names = {**self._variables, "order": self._order_facts()}
        return evaluate(source, names)

    # ---- SLA ---------------------------------------------------------------------------

    async def _with_sla(self, node: BaseNode, work: Awaitable[str | None]) -> str | None:
        assert node.sla is not None
        task = asyncio.ensure_future(work)
        try:
            if node.sla.business and workflow.patched(PATCH_BUSINESS_SLA):
                await self._run_clock(node, task)
            else:
                try:
                    await workflow.wait_condition(task.done, timeout=node.sla.duration)
                except TimeoutError:
                    await self._breach(node)
            return await task
        except BaseException:
            task.cancel()
            raise

    async def _run_clock(self, node: BaseNode, task: asyncio.Future[Any]) -> None:
        """A business-time SLA until `task` (the node's work) is done: its moments come from
        the `sla_clock` activity (working hours, holidays, policy); each ladder level fires
        once, in order; a hold (signal `sla_pause`) stops the clock until `sla_resume`."""
        plan = await self._clock(node, "start")
        fired: set[int] = set()
        try:
            while not task.done():
                held = node.id in self._sla_held
                if held != plan.paused:
                    plan = await self._clock(node, "pause" if held else "resume")
                    continue
                due = [v for v in plan.levels if v.index not in fired and v.at is not None]
                if not held and due and due[0].at is not None and due[0].at <= workflow.now():
                    fired.add(due[0].index)
                    await self._escalate(node, plan, due[0])
                    continue
                next_at = due[0].at if due and not held else None
                timeout = next_at - workflow.now() if next_at is not None else None
                with suppress(TimeoutError):
                    await workflow.wait_condition(
                        self._clock_moves(node.id, task, paused=plan.paused), timeout=timeout
                    )
        finally:
            self._sla_held.pop(node.id, None)

    def _clock_moves(
        self, node_id: str, task: asyncio.Future[Any], *, paused: bool
    ) -> Callable[[], bool]:
        """True once the node's work is done or its clock is to pause or resume."""
        return lambda: task.done() or (node_id in self._sla_held) != paused

    async def _clock(self, node: BaseNode, event: str) -> SlaPlan:
        """Starts, pauses or resumes the node's clock (activity `sla_clock`); the step's
        deadline follows it, in the read model too."""
        assert node.sla is not None
        sla, active = node.sla, self._active[node.id]
        count = self._sla_events[node.id] = self._sla_events.get(node.id, 0) + 1
        hold = self._sla_held.get(node.id)
        params = SlaClockParams(
            event=event,  # type: ignore[arg-type]
            at=workflow.now(),
            within=sla.within,
            policy=sla.policy,
            node_name=node.name,
            assignee=active.assignee,
            on_breach=sla.on_breach,
            notify=list(sla.notify),
            escalate_to=sla.escalate_to,
            reassign_to=sla.reassign_to,
            reason=hold.reason if hold is not None and event == "pause" else "",
        )
        result = await self._call_activity(
            c.ACTIVITY_SLA_CLOCK,
            node,
            status=self._status,
            params=params.model_dump(mode="json"),
            key_suffix=f"sla-{event}-{count}",
        )
        plan = SlaPlan.model_validate(result.output)
        active.sla_deadline = plan.deadline
        if node.human:
            await self._record_waiting(node)
        return plan

    async def _escalate(self, node: BaseNode, plan: SlaPlan, level: SlaLevelPlan) -> None:
        """Fires one ladder level: reassign or raise priority here, then the activity
        `sla_escalate` tells whom the level names and marks it fired."""
        active = self._active[node.id]
        detail = f"level {level.index + 1} at {level.percent}%" + (
            f" + {level.after}" if level.after else ""
        )
        if level.action == "reassign":
            if level.reassign_to:
                self._assignments[node.id] = level.reassign_to
                detail += f", reassigned to {level.reassign_to}"
            if level.escalate_to:
                self._escalated_to[node.id] = level.escalate_to
                detail += f", escalated to {level.escalate_to}"
            active.assignee = self._assignee_label(node)
            if node.human:
                await self._record_waiting(node)
        elif level.action == "raise_priority":
            context = self._input.context
            context.priority = level.priority or max(1, context.priority - 1)
            detail += f", priority {context.priority}"
            self._upsert([c.SA_PRIORITY.value_set(context.priority)])
        breached = level.percent >= 100
        if breached and plan.deadline is not None:
            self._breaches.append(
                SlaBreach(
                    node_id=node.id,
                    visit=active.visit,
                    deadline=plan.deadline,
                    breached_at=workflow.now(),
                    action=level.action,
                    detail=detail,
                    level=level.index + 1,
                )
            )
        what = "breached" if breached else "at risk"
        step = node.name or node.id
        message = f"SLA {what} ({detail}): order {self._input.order_id}, step {step}"
        await self._call_activity(
            c.ACTIVITY_SLA_ESCALATE,
            node,
            status=self._status,
            params={"level": level.model_dump(mode="json"), "message": message},
            key_suffix=f"sla{level.index + 1}",
        )

    async def _breach(self, node: BaseNode) -> None:
        assert node.sla is not None
        sla, active = node.sla, self._active[node.id]
        detail = ""
        if sla.on_breach == "escalate":
            self._escalated_to[node.id] = sla.escalate_to
            detail = f"escalated to {sla.escalate_to}"
        elif sla.on_breach == "reassign":
            self._assignments[node.id] = sla.reassign_to
            detail = f"reassigned to {sla.reassign_to}"
        active.assignee = self._assignee_label(node)
        if sla.on_breach in ("escalate", "reassign"):
            await self._record_waiting(node)
        assert active.sla_deadline is not None
        breach = SlaBreach(
            node_id=node.id,
            visit=active.visit,
            deadline=active.sla_deadline,
            breached_at=workflow.now(),
            action=sla.on_breach,
            detail=detail,
        )
        self._breaches.append(breach)
        message = f"SLA breached: order {self._input.order_id}, step {node.name or node.id}"
        params = sla.breach_notice(message)
        if params is not None:
            await self._call_activity(
                c.ACTIVITY_NOTIFY, node, status=self._status, params=params, key_suffix="sla"
            )

    # ---- signals, updates, queries -------------------------------------------------------

    @workflow.update(name=c.UPDATE_SUBMIT_STEP)
    async def submit_step(self, submission: StepSubmission) -> StepAccepted:
        # Two submissions can pass their validators in the same activation: re-check here.
        self._check_submission(submission)
        node = self._nodes[submission.node_id]
        cleaned, _ = check_submission(node.form_fields(), submission.data)
        entry = self._timeline[self._entry_index(node)]
        entry.completed_at = workflow.now()
        entry.actor = submission.actor.user_id
        entry.outcome = submission.outcome
        entry.data = cleaned
        self._unrecorded.append(entry)
        self._submitted[node.id] = (cleaned, submission.actor, submission.outcome)
        if workflow.patched(PATCH_STEP_ANSWER_SHOWS_NEXT):
            # The walk leaves the node within this same activation; answering after it means
            # the field app learns what waits next (often its own next step) without asking.
            waiting = self._active.get(node.id)
            await workflow.wait_condition(
                lambda: (
                    self._active.get(node.id) is not waiting
                    or self._main is None
                    or self._main.done()
                )
            )
        return StepAccepted(
            node_id=node.id,
            visit=entry.visit,
            completed_at=entry.completed_at,
            step=entry,
            status=self._status,
            definition_key=self._definition.key,
            definition_version=self._definition.version,
            context=self._input.context,
            active=list(self._active.values()),
        )

    @submit_step.validator
    def _validate_submit_step(self, submission: StepSubmission) -> None:
        # Validators do not run on replay: the proof (its key, its clock) and the rule for
        # unassigned steps are checked here only, so neither needs a patch, and the key may
        # change between a recording and its replay.
        try:
            trust.check(workflow.info().workflow_id, submission, workflow.now())
        except trust.NotProven as err:
            raise ApplicationError(
                str(err), type=StepRefusal.NOT_PROVEN, non_retryable=True
            ) from None
        self._check_submission(submission, managed_unassigned=True)

    @workflow.signal(name=c.SIGNAL_CANCEL)
    def cancel(self, request: Cancellation) -> None:
        if self._cancel is not None or (self._main is not None and self._main.done()):
            return
        self._cancel = request
        if self._main is not None:
            self._main.cancel()

    @workflow.signal(name=c.SIGNAL_ADD_NOTE)
    def add_note(self, note: Note) -> None:
        # State only (no command): the next step's write carries it to the read model.
        visit = sum(1 for e in self._timeline if e.node_id == NOTE_NODE) + 1
        now = workflow.now()
        entry = TimelineEntry(
            node_id=NOTE_NODE,
            node_type="note",
            visit=visit,
            started_at=now,
            completed_at=now,
            actor=note.by,
            outcome=note.summary,
            data=note.data,
        )
        self._timeline.append(entry)
        self._unrecorded.append(entry)

    @workflow.signal(name=c.SIGNAL_REASSIGN)
    def reassign(self, request: Reassignment) -> None:
        self._assignments[request.node_id] = request.user_id
        if request.node_id in self._active:
            self._active[request.node_id].assignee = request.user_id

    @workflow.signal(name=c.SIGNAL_SLA_PAUSE)
    def sla_pause(self, hold: SlaHold) -> None:
        node = self._nodes.get(hold.node_id)
        if (
            hold.node_id in self._active
            and node is not None
            and node.sla is not None
            and node.sla.business
        ):
            self._sla_held.setdefault(hold.node_id, hold)

    @workflow.signal(name=c.SIGNAL_SLA_RESUME)
    def sla_resume(self, hold: SlaHold) -> None:
        self._sla_held.pop(hold.node_id, None)

    @workflow.query(name=c.QUERY_STATE)
    def state(self) -> OrderState:
        return OrderState(
            order_id=self._input.order_id,
            definition_key=self._definition.key,
            definition_version=self._definition.version,
            status=self._status,
            context=self._input.context,
            active=list(self._active.values()),
            variables=self._variables,
            timeline=self._timeline,
            breaches=self._breaches,
            runs=self._runs,
        )

    # ---- helpers -------------------------------------------------------------------------

    def _check_submission(
        self, submission: StepSubmission, *, managed_unassigned: bool = False
    ) -> None:
        """Refuses a submission the order cannot take (ApplicationError, a StepRefusal).

        `managed_unassigned` (the validator): a step without an assignee rule is for the
        order's managers only. The handler's re-check leaves it out: it cannot change
        between validator and handler, and orders recorded before it replay the handler.
        """
        node = self._nodes.get(submission.node_id)
        if node is None or not node.human:
            raise ApplicationError(
                f"'{submission.node_id}' is not a human step of this order",
                type=StepRefusal.NOT_ACTIVE,
                non_retryable=True,
            )
        if submission.node_id not in self._active or submission.node_id in self._submitted:
            waiting = ", ".join(n for n, a in self._active.items() if a.human) or "none"
            raise ApplicationError(
                f"step '{submission.node_id}' is not waiting for input (waiting: {waiting})",
                type=StepRefusal.NOT_ACTIVE,
                non_retryable=True,
            )
        if not self._actor_allowed(node, submission.actor, managed_unassigned):
            raise ApplicationError(
                f"user '{submission.actor.user_id}' may not complete step '{node.id}'"
                f" (assigned to {self._assignee_label(node) or 'nobody'})",
                type=StepRefusal.ACTOR_NOT_ALLOWED,
                non_retryable=True,
            )
        _, errors = check_submission(node.form_fields(), submission.data)
        if errors:
            raise ApplicationError(
                f"the form of step '{node.id}' has errors: "
                + "; ".join(f"{k} {v}" for k, v in errors.items()),
                errors,
                type=StepRefusal.FORM_INVALID,
                non_retryable=True,
            )

    def _actor_allowed(self, node: BaseNode, actor: Actor, managed_unassigned: bool) -> bool:
        if self._input.sandbox and actor.user_id == sandbox_starter(self._input.context.started_by):
            return True  # a designer's test run: its starter plays every part
        if node.customer_completes and CUSTOMER_ROLE in actor.roles:
            return True  # the customer through their sign-off link (proven by the API)
        escalated = self._escalated_to.get(node.id)
        if escalated and escalated in actor.roles:
            return True
        if node.id in self._assignments:
            return actor.user_id == self._assignments[node.id]
        rule = node.assignee
        if rule is None:
            return not managed_unassigned or any(r in actor.roles for r in MANAGING_ROLES)
        if rule.kind == "role":
            return rule.value in actor.roles
        if rule.kind == "user":
            return actor.user_id == rule.value
        if rule.kind == "dispatched_engineer":
            return self._engineer is not None and actor.user_id == self._engineer
        try:
            return actor.user_id == str(self.evaluate(rule.value))
        except ExpressionError:
            return False

    def _assignee_label(self, node: BaseNode) -> str:
        if node.id in self._assignments:
            return self._assignments[node.id]
        rule = node.assignee
        if rule is None:
            return ""
        if rule.kind == "dispatched_engineer":
            return self._engineer or ""
        if rule.kind == "role":
            return role_assignee(rule.value)
        if rule.kind == "user":
            return rule.value
        try:
            return str(self.evaluate(rule.value))
        except ExpressionError:
            return ""

    def _latest_engineer(self) -> str | None:
        engineer = None
        for node in self._definition.nodes:
            if node.assigns_engineer and isinstance(self._variables.get(node.id), dict):
                engineer = node.engineer_in(self._variables[node.id]) or engineer
        return engineer

    def _entry_index(self, node: BaseNode) -> int:
        visit = self._visits[node.id]
        for i in range(len(self._timeline) - 1, -1, -1):
            entry = self._timeline[i]
            if entry.node_id == node.id and entry.visit == visit:
                return i
        raise LookupError(node.id)

    def _ends_after(self, node: BaseNode) -> bool:
        following = self._nodes.get(node.next) if node.next else None
        return isinstance(following, EndNode) and self._branches_open == 0

    def _order_facts(self) -> dict[str, Any]:
        ctx = self._input.context
        return {
            "order_id": self._input.order_id,
            "region": ctx.region,
            "outlet": ctx.outlet,
            "priority": ctx.priority,
            "customer": ctx.customer,
        }

    async def _record_waiting(self, node: BaseNode) -> None:
        """Tells the read model (local activity) that `node` waits, and for whom.

        A local activity in this workflow task rather than a hint to the activity before it:
        the row must not show before the step can be submitted, and Temporal delivers an
        Update only after the workflow task in flight (this one) has completed.
        """
        if not workflow.patched(PATCH_READ_MODEL_WAITING):
            return
        active = self._active[node.id]
        steps, self._unrecorded = self._unrecorded, []
        waiting = WaitingStep(
            order_id=self._input.order_id,
            node_id=node.id,
            node_type=node.type,
            visit=active.visit,
            assignee=active.assignee,
            since=active.since,
            sla_deadline=active.sla_deadline,
            status=self._status,
            context=self._input.context,
            definition_key=self._definition.key,
            definition_version=self._definition.version,
            unrecorded_steps=steps,
            sandbox=self._input.sandbox,
        )
        try:
            await workflow.execute_local_activity(
                c.ACTIVITY_RECORD_WAITING,
                waiting,
                start_to_close_timeout=c.RECORD_WAITING_TIMEOUT,
                retry_policy=c.RECORD_WAITING_RETRY,
            )
        except FailureError as err:
            if not self._read_model_may_lag(err):
                raise
            # Only the read model's copy is late; the step itself waits all the same.
            self._unrecorded = steps + self._unrecorded
            workflow.logger.warning(
                "order %s: waiting step %s not recorded (%s)", waiting.order_id, node.id, err
            )

    @staticmethod
    def _read_model_may_lag(err: FailureError) -> bool:
        """True when the order goes on after `record_waiting` failed with `err`.

        A local activity's timeout arrives as ActivityError live but as TimeoutError on
        replay: both were always let pass. Any other failure (the activity's own
        ApplicationError, a cancellation) failed the order until the patch; since, a
        read-model write never does, unless this order is being cancelled itself.
        """
        if isinstance(err, ActivityError | TemporalTimeoutError) and not _is_cancel(err):
            return True
        if not workflow.patched(PATCH_READ_MODEL_NEVER_FAILS):
            return isinstance(err, ActivityError)
        task = asyncio.current_task()
        if _is_cancel(err) and task is not None and task.cancelling():
            raise asyncio.CancelledError() from err  # the order's own cancel goes on
        return True

    async def _call_activity(
        self,
        name: str,
        node: BaseNode,
        *,
        status: str,
        final: bool = False,
        params: dict[str, Any] | None = None,
        key_suffix: str = "",
    ) -> StepResult:
        visit = self._visits.get(node.id, 1)
        key = f"{self._input.order_id}/{node.id}/{visit}" + (f"/{key_suffix}" if key_suffix else "")
        steps, self._unrecorded = self._unrecorded, []
        step = StepInput(
            order_id=self._input.order_id,
            node_id=node.id,
            node_type=node.type if not key_suffix else f"{node.type}:{key_suffix}",
            visit=visit,
            idempotency_key=key,
            params=params if params is not None else _params_of(node),
            variables=self._variables,
            context=self._input.context,
            definition_key=self._definition.key,
            definition_version=self._definition.version,
            status=status,  # type: ignore[arg-type]
            unrecorded_steps=steps,
            final=final,
            sandbox=self._input.sandbox,
        )
        try:
            return await workflow.execute_activity(
                name,
                step,
                result_type=StepResult,
                start_to_close_timeout=c.ACTIVITY_START_TO_CLOSE,
                retry_policy=c.ACTIVITY_RETRY,
            )
        except BaseException:
            self._unrecorded = steps + self._unrecorded
            raise

    async def _close(self, status: str = "completed") -> None:
        """Tell the read model the order ended, unless the last activity already did."""
        if self._closed:
            return
        last = self._timeline[-1].node_id if self._timeline else ""
        node = self._nodes.get(last) or next(
            n for n in self._nodes.values() if isinstance(n, EndNode)
        )
        await self._call_activity(
            c.ACTIVITY_CLOSE_ORDER, node, status=status, final=True, params={}, key_suffix="close"
        )
        self._closed = True

    async def _finish_cancelled(self) -> None:
        self._status = "cancelled"
        reason = self._cancel.reason if self._cancel else "cancelled in Temporal"
        self._timeline.append(
            TimelineEntry(
                node_id="",
                node_type="cancel",
                visit=1,
                started_at=workflow.now(),
                completed_at=workflow.now(),
                actor=self._cancel.by if self._cancel else "",
                outcome=reason,
            )
        )
        self._unrecorded.append(self._timeline[-1])
        self._publish_progress()
        await self._close("cancelled")

    async def _finish_failed(self, err: BaseException) -> None:
        cause = err.cause if isinstance(err, ActivityError | ChildWorkflowError) else err
        message = str(cause) if cause is not None else str(err)
        self._status = "failed"
        failed = self._timeline[-1] if self._timeline else None
        if failed is not None:
            failed.outcome = f"failed: {message}"
            failed.completed_at = workflow.now()
            self._unrecorded.append(failed)
        self._publish_progress()
        self._closed = False
        await self._close("failed")
        raise ApplicationError(
            f"order failed: {message}", type=c.ERROR_ORDER_FAILED, non_retryable=True
        )

    def _should_continue_as_new(self) -> bool:
        info = workflow.info()
        if self._active or self._branches_open:
            return False
        limit = self._input.continue_as_new_after_events or c.CONTINUE_AS_NEW_AFTER_EVENTS
        return info.is_continue_as_new_suggested() or info.get_current_history_length() >= limit

    def _continued_input(self, node_id: str) -> StartOrderInput:
        return self._input.model_copy(
            update={
                "variables": {},
                "resume": ResumeState(
                    node_id=node_id,
                    variables=self._variables,
                    timeline=self._timeline,
                    breaches=self._breaches,
                    visits=self._visits,
                    assignments=self._assignments,
                    status=self._status,
                    runs=self._runs,
                ),
            }
        )

    # ---- search attributes ---------------------------------------------------------------

    def _publish_identity(self) -> None:
        ctx = self._input.context
        self._upsert(
            [
                c.SA_REGION.value_set(ctx.region),
                c.SA_OUTLET.value_set(ctx.outlet),
                c.SA_DEFINITION_KEY.value_set(self._definition.key),
                c.SA_DEFINITION_VERSION.value_set(self._definition.version),
                c.SA_PRIORITY.value_set(ctx.priority),
            ]
        )

    def _publish_placement(self, report: dict[str, Any]) -> None:
        """An order started without region or outlet is placed by its report step."""
        ctx = self._input.context
        updates = []
        if not ctx.region and report.get("region_name"):
            updates.append(c.SA_REGION.value_set(str(report["region_name"])))
        if not ctx.outlet and report.get("outlet"):
            updates.append(c.SA_OUTLET.value_set(str(report["outlet"])))
        self._upsert(updates)

    def _publish_progress(self) -> None:
        current = (
            ",".join(self._active)
            if self._status not in ("completed", "cancelled", "failed")
            else ""
        )
        self._upsert([c.SA_STATUS.value_set(self._status), c.SA_CURRENT_NODE.value_set(current)])

    def _upsert(self, updates: list[Any]) -> None:
        """Upsert only what changed, or what the starter did not set already."""
        existing: TypedSearchAttributes = workflow.info().typed_search_attributes
        changed = []
        for update in updates:
            name, value = update.key.name, update.value
            known = self._published_sa.get(name, existing.get(update.key))
            if known != value:
                changed.append(update)
                self._published_sa[name] = value
        if changed:
            workflow.upsert_search_attributes(changed)


def _is_cancel(err: FailureError) -> bool:
    """True for a cancellation reported as a Temporal failure (itself or as its cause)."""
    return isinstance(err, CancelledError) or isinstance(err.cause, CancelledError)


def _params_of(node: BaseNode) -> dict[str, Any]:
    params = getattr(node, "params", None)
    return params.model_dump(mode="json") if params is not None else {}
