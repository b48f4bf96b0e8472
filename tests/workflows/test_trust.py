"""Who may complete a step: proven actors (not claimed ones), unassigned steps for the
order's managers, and the starter of a sandbox run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from servflow.orders import engine
from servflow.platform.errors import Forbidden
from tests.conftest import TEST_ACTOR_KEY
from tests.workflows.fakes import ENGINEER_USER, FakeActivities
from tests.workflows.support import (
    SERVICE_OK,
    definition,
    load_example,
    start_order,
    submit,
    wait_for_step,
)
from workflows import trust
from workflows.contracts import MANAGING_ROLES, Actor, StepRefusal, StepSubmission
from workflows.interpreter import WorkOrderWorkflow

pytestmark = pytest.mark.usefixtures("worker")

UNASSIGNED = [
    {"id": "check", "type": "task", "next": "end", "form": [{"name": "ok", "type": "boolean"}]},
    {"id": "end", "type": "end"},
]


def as_engineer(data: dict[str, Any] | None = None) -> StepSubmission:
    actor = Actor(user_id=ENGINEER_USER, roles=["engineer"])
    return StepSubmission(node_id="service", actor=actor, data=data or SERVICE_OK)


async def refusal(handle: WorkflowHandle[Any, Any], submission: StepSubmission) -> str:
    """The StepRefusal type the order answers `submission` with."""
    with pytest.raises(WorkflowUpdateFailedError) as caught:
        await handle.execute_update(WorkOrderWorkflow.submit_step, submission)
    cause = caught.value.cause
    assert isinstance(cause, ApplicationError)
    return str(cause.type)


async def updates_in_history(handle: WorkflowHandle[Any, Any]) -> int:
    history = await handle.fetch_history()
    return sum(
        e.HasField("workflow_execution_update_accepted_event_attributes") for e in history.events
    )


async def ac_repair_waiting(
    client: Client, task_queue: str, **start: Any
) -> WorkflowHandle[Any, Any]:
    """An ac-repair order (`start`: more of start_order's options) waiting at service."""
    handle = await start_order(
        client, load_example("ac-repair"), task_queue, variables={"fault": "x"}, **start
    )
    await wait_for_step(handle, "service")
    return handle


# ---- proofs ----------------------------------------------------------------------------


def test_canonical_text_is_independent_of_role_order_and_time_zone() -> None:
    at = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)
    common: dict[str, Any] = {
        "order_id": "o1",
        "node_id": "n",
        "user_id": "u",
        "data": {},
        "outcome": "done",
    }
    a = trust.canonical(roles=["b", "a"], issued_at=at, **common)
    beijing = at.astimezone(timezone(timedelta(hours=8)))
    b = trust.canonical(roles=["a", "b"], issued_at=beijing, **common)
    assert a == b


def test_canonical_text_keeps_fields_apart() -> None:
    at = datetime(2026, 12, 3, tzinfo=UTC)
    one = trust.canonical(
        order_id="o1", node_id="n,u", user_id="x", roles=[], issued_at=at, data={}, outcome=""
    )
    two = trust.canonical(
        order_id="o1", node_id="n", user_id="u,x", roles=[], issued_at=at, data={}, outcome=""
    )
    assert one != two


async def test_submission_without_proof_is_refused_and_leaves_no_trace(
    client: Client, task_queue: str
) -> None:
    handle = await ac_repair_waiting(client, task_queue)
    assert await refusal(handle, as_engineer()) == StepRefusal.NOT_PROVEN
    assert await updates_in_history(handle) == 0
    assert (await wait_for_step(handle, "service")).active[0].node_id == "service"


async def test_forged_or_borrowed_proofs_are_refused(client: Client, task_queue: str) -> None:
    handle = await ac_repair_waiting(client, task_queue)
    now = datetime.now(UTC)
    forged = trust.prove("an-attacker-guessing-the-key-0123456789", handle.id, as_engineer(), now)
    assert await refusal(handle, forged) == StepRefusal.NOT_PROVEN
    # A genuine proof does not carry over to another actor, another answer or another order.
    genuine = trust.prove(TEST_ACTOR_KEY, handle.id, as_engineer(), now)
    other_actor = genuine.model_copy(
        update={"actor": Actor(user_id="engineer_bj_02", roles=["engineer"])}
    )
    other_answer = genuine.model_copy(update={"data": {**SERVICE_OK, "diagnosis": "改过的"}})
    other_order = trust.prove(TEST_ACTOR_KEY, "order-elsewhere", as_engineer(), now)
    for submission in (other_actor, other_answer, other_order):
        assert await refusal(handle, submission) == StepRefusal.NOT_PROVEN
    assert await updates_in_history(handle) == 0
    await handle.execute_update(WorkOrderWorkflow.submit_step, genuine)
    await wait_for_step(handle, "signoff")


async def test_proof_older_or_newer_than_five_minutes_is_refused(
    client: Client, task_queue: str
) -> None:
    handle = await ac_repair_waiting(client, task_queue)
    for skew in (timedelta(minutes=6), -timedelta(minutes=6)):
        late = trust.prove(TEST_ACTOR_KEY, handle.id, as_engineer(), datetime.now(UTC) - skew)
        assert await refusal(handle, late) == StepRefusal.NOT_PROVEN
    assert await updates_in_history(handle) == 0


async def test_engine_signs_with_the_api_key_and_an_unproven_step_is_forbidden(
    client: Client, task_queue: str
) -> None:
    handle = await ac_repair_waiting(client, task_queue)
    with pytest.raises(Forbidden, match="proof"):
        await engine.submit(client, handle.id, as_engineer(), actor_key="x" * 40)
    accepted = await engine.submit(client, handle.id, as_engineer(), actor_key=TEST_ACTOR_KEY)
    assert accepted.node_id == "service" and accepted.step is not None
    assert accepted.step.actor == ENGINEER_USER


# ---- steps without an assignee: the order's managers only ------------------------------


@pytest.mark.parametrize("roles", [["finance"], ["designer"], ["api_client"], ["engineer"]])
async def test_unassigned_step_is_refused_to_anyone_but_managers(
    client: Client, task_queue: str, roles: list[str]
) -> None:
    handle = await start_order(client, definition(UNASSIGNED), task_queue)
    await wait_for_step(handle, "check")
    with pytest.raises(WorkflowUpdateFailedError) as caught:
        await submit(handle, "check", {"ok": True}, user="someone", roles=roles)
    assert isinstance(caught.value.cause, ApplicationError)
    assert caught.value.cause.type == StepRefusal.ACTOR_NOT_ALLOWED


@pytest.mark.parametrize("role", MANAGING_ROLES)
async def test_unassigned_step_is_completed_by_a_manager(
    client: Client, task_queue: str, role: str
) -> None:
    handle = await start_order(client, definition(UNASSIGNED), task_queue)
    await wait_for_step(handle, "check")
    await submit(handle, "check", {"ok": True}, user=f"{role}_1", roles=[role])
    assert (await handle.result()).status == "completed"


# ---- sandbox runs ------------------------------------------------------------------------


async def test_sandbox_starter_plays_every_part_and_every_step_knows_it_is_a_test(
    client: Client, task_queue: str, fakes: FakeActivities
) -> None:
    handle = await ac_repair_waiting(
        client, task_queue, sandbox=True, started_by="test-run:designer_li"
    )
    with pytest.raises(WorkflowUpdateFailedError):  # nobody else gains anything
        await submit(handle, "service", SERVICE_OK, user="designer_wang", roles=["designer"])
    await submit(handle, "service", SERVICE_OK, user="designer_li", roles=["designer"])
    await wait_for_step(handle, "signoff")
    signoff = {"signature": "s", "photos": ["p"], "rating": "5"}
    await submit(handle, "signoff", signoff, user="designer_li", roles=["designer"])
    result = await handle.result()
    assert result.status == "completed"
    dispatched = next(entry for entry in result.timeline if entry.node_id == "dispatch")
    assert dispatched.data["engineer_user_id"] == ENGINEER_USER  # the simulated effect
    steps = [step for calls in fakes.calls.values() for step in calls]
    assert steps and all(step.sandbox for step in steps)
    assert fakes.waiting and all(waiting.sandbox for waiting in fakes.waiting)


async def test_test_run_starter_of_a_real_order_gains_nothing(
    client: Client, task_queue: str
) -> None:
    handle = await ac_repair_waiting(client, task_queue, started_by="test-run:designer_li")
    with pytest.raises(WorkflowUpdateFailedError):
        await submit(handle, "service", SERVICE_OK, user="designer_li", roles=["designer"])


async def test_sandbox_reaches_sub_pipeline_orders(
    client: Client, task_queue: str, fakes: FakeActivities
) -> None:
    child = definition(
        [
            {
                "id": "note",
                "type": "notify",
                "next": "stop",
                "params": {"to_roles": ["dispatcher"], "message": "m"},
            },
            {"id": "stop", "type": "end"},
        ],
        key="inspection",
    )
    parent = definition(
        [
            {
                "id": "sub",
                "type": "subpipeline",
                "next": "stop",
                "params": {"definition": "inspection"},
            },
            {"id": "stop", "type": "end"},
        ]
    )
    handle = await start_order(
        client,
        parent,
        task_queue,
        subdefinitions={"inspection": child},
        sandbox=True,
        started_by="test-run:d",
    )
    assert (await handle.result()).status == "completed"
    [notice] = fakes.calls["notify"]
    assert notice.sandbox and notice.order_id.startswith(f"{handle.id}.sub.")
