"""The interpreter on a real Temporal dev server, with stand-in activities."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from tests.workflows.fakes import ENGINEER_USER, FakeActivities
from tests.workflows.support import (
    SERVICE_OK,
    SIGNOFF_OK,
    c,
    definition,
    load_example,
    start_order,
    submit,
    wait_for_step,
)
from workflows.contracts import ROLE_PREFIX, StepRefusal, assignee_role, role_assignee
from workflows.nodes import NODE_TYPES

pytestmark = pytest.mark.usefixtures("worker")


async def test_ac_repair_order_runs_report_to_settlement(
    client: Client, task_queue: str, fakes: FakeActivities
) -> None:
    handle = await start_order(
        client, load_example("ac-repair"), task_queue, variables={"fault": "ac_leak"}
    )
    waiting = await wait_for_step(handle, "service")
    assert waiting.status == "dispatched"
    assert waiting.active[0].assignee == ENGINEER_USER
    assert waiting.active[0].sla_deadline is not None
    await submit(handle, "service", SERVICE_OK)
    await wait_for_step(handle, "signoff")
    await submit(handle, "signoff", SIGNOFF_OK)
    result = await handle.result()

    assert result.status == "completed"
    visited = [e.node_id for e in result.timeline]
    assert visited == [
        "report",
        "dispatch",
        "service",
        "commissioning",
        "parts",
        "signoff",
        "final_settlement",
        "end",
    ]
    signoff = next(e for e in result.timeline if e.node_id == "signoff")
    assert signoff.actor == ENGINEER_USER and signoff.data["rating"] == "5"
    amounts = [
        Decimal(result.variables[n]["amount"]) for n in ("commissioning", "final_settlement")
    ]
    assert amounts == [Decimal("180.00"), Decimal("120.00")]
    # The final settlement closed the order itself: no extra close_order activity.
    assert fakes.calls["close_order"] == []
    assert fakes.calls["settlement"][-1].final is True
    # Each human step told the read model when it began to wait, and for whom.
    assert [(w.node_id, w.assignee, w.status) for w in fakes.waiting] == [
        ("service", ENGINEER_USER, "dispatched"),
        ("signoff", ENGINEER_USER, "settled"),  # commissioning was paid in between
    ]
    assert fakes.waiting[0].sla_deadline == waiting.active[0].sla_deadline
    # Human steps reach the read model through the next activity's input.
    carried = [s.node_id for call in fakes.calls["settlement"] for s in call.unrecorded_steps]
    assert carried == ["service", "signoff"]


async def test_step_answer_shows_what_waits_next(client: Client, task_queue: str) -> None:
    """A field app learns its next step (or the automatic work now running) from the answer."""
    steps = definition(
        [
            {"id": "report", "type": "report", "next": "dispatch"},
            {"id": "dispatch", "type": "dispatch", "next": "service"},
            {
                "id": "service",
                "type": "service",
                "next": "signoff",
                "assignee": {"kind": "dispatched_engineer"},
                "form": [{"name": "diagnosis", "type": "text", "required": True}],
            },
            {
                "id": "signoff",
                "type": "signoff",
                "next": "settlement",
                "assignee": {"kind": "dispatched_engineer"},
                "form": [{"name": "signature", "type": "signature", "required": True}],
            },
            {"id": "settlement", "type": "settlement", "next": "end"},
            {"id": "end", "type": "end"},
        ]
    )
    handle = await start_order(client, steps, task_queue)
    await wait_for_step(handle, "service")

    after_service = await submit(handle, "service", {"diagnosis": "漏氟"})
    assert [(a.node_id, a.human, a.assignee) for a in after_service.active] == [
        ("signoff", True, ENGINEER_USER)
    ]
    assert after_service.status == "serviced"
    after_signoff = await submit(handle, "signoff", {"signature": "file-1"})
    assert [(a.node_id, a.human) for a in after_signoff.active] == [("settlement", False)]
    assert (await handle.result()).status == "completed"


async def test_step_from_wrong_engineer_is_refused(client: Client, task_queue: str) -> None:
    handle = await start_order(
        client, load_example("ac-repair"), task_queue, variables={"fault": "x"}
    )
    await wait_for_step(handle, "service")
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await submit(handle, "service", SERVICE_OK, user="engineer_sh_07")
    cause = refused.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == StepRefusal.ACTOR_NOT_ALLOWED
    await handle.terminate()


async def test_step_not_active_is_refused(client: Client, task_queue: str) -> None:
    handle = await start_order(
        client, load_example("ac-repair"), task_queue, variables={"fault": "x"}
    )
    await wait_for_step(handle, "service")
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await submit(handle, "signoff", SIGNOFF_OK)
    assert isinstance(refused.value.cause, ApplicationError)
    assert refused.value.cause.type == StepRefusal.NOT_ACTIVE
    assert "service" in str(refused.value.cause)
    await handle.terminate()


async def test_invalid_form_is_refused_with_field_errors_and_not_recorded(
    client: Client, task_queue: str
) -> None:
    handle = await start_order(
        client, load_example("ac-repair"), task_queue, variables={"fault": "x"}
    )
    await wait_for_step(handle, "service")
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await submit(handle, "service", {"diagnosis": 42, "colour": "red"})
    cause = refused.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == StepRefusal.FORM_INVALID
    errors = cause.details[0]
    assert errors == {
        "diagnosis": "must be text",
        "parts_needed": "is required",
        "colour": "is not a field of this step",
    }
    history = await handle.fetch_history()
    assert not [
        e
        for e in history.events
        if e.HasField("workflow_execution_update_accepted_event_attributes")
    ]
    await handle.terminate()


async def test_search_attributes_find_orders_by_region_and_status(
    client: Client, task_queue: str
) -> None:
    handle = await start_order(
        client, load_example("ac-repair"), task_queue, variables={"fault": "x"}, region="华北"
    )
    other = await start_order(
        client, load_example("ac-repair"), task_queue, variables={"fault": "x"}, region="华南"
    )
    await wait_for_step(handle, "service")
    await wait_for_step(other, "service")
    # `Status` needs backticks: this server version parses a bare Status as a keyword.
    query = (
        f'Region="华北" AND `Status`="dispatched" AND CurrentNode="service"'
        f' AND WorkflowId="{handle.id}"'
    )
    found: list[str] = []
    for _ in range(100):  # visibility is eventually consistent
        found = [wf.id async for wf in client.list_workflows(query)]
        if found:
            break
        await asyncio.sleep(0.1)
    assert found == [handle.id]
    assert [
        wf.id async for wf in client.list_workflows(f'Region="华北" AND WorkflowId="{other.id}"')
    ] == []
    described = await handle.describe()
    attributes = described.typed_search_attributes
    assert attributes.get(c.SA_DEFINITION_KEY) == "ac-repair"
    assert attributes.get(c.SA_PRIORITY) == 2
    await handle.terminate()
    await other.terminate()


async def test_order_started_without_region_is_placed_by_its_report(
    client: Client, task_queue: str, fakes: FakeActivities
) -> None:
    fakes.report_placement = {"region": "huadong", "region_name": "华东", "outlet": "sh-001"}
    handle = await start_order(
        client, load_example("ac-repair"), task_queue, variables={"fault": "x"}, region=""
    )
    await wait_for_step(handle, "service")
    attributes = (await handle.describe()).typed_search_attributes
    assert attributes.get(c.SA_REGION) == "华东"
    assert attributes.get(c.SA_OUTLET) == "bj-001"  # given at start: the report does not move it
    await handle.terminate()


def test_role_assignee_and_assignee_role_round_trip() -> None:
    assert ROLE_PREFIX == "role:"
    assert role_assignee("region_manager") == "role:region_manager"
    assert assignee_role(role_assignee("region_manager")) == "region_manager"
    assert assignee_role(ENGINEER_USER) is None


def test_node_types_declare_what_the_interpreter_asks_of_them() -> None:
    def having(flag: str) -> set[str]:
        return {tag for tag, cls in NODE_TYPES.items() if getattr(cls, flag)}

    assert having("assigns_engineer") == {"dispatch"}
    assert having("places_order") == {"report"}
    assert having("transient") == {"decision", "parallel", "join", "end"}
    assert {tag: cls.activity for tag, cls in NODE_TYPES.items() if cls.activity} == {
        "report": c.ACTIVITY_REPORT,
        "dispatch": c.ACTIVITY_DISPATCH,
        "settlement": c.ACTIVITY_SETTLEMENT,
        "notify": c.ACTIVITY_NOTIFY,
        "parts": c.ACTIVITY_SOURCE_PARTS,
        "consume": c.ACTIVITY_CONSUME_PARTS,
    }
