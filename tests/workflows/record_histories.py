"""Records the histories the replay tests keep: `python -m tests.workflows.record_histories`
(all scenarios) or `... record_histories <scenario> ...` (only those).

Re-record only on purpose (a deliberate, `workflow.patched`-gated interpreter change): the
point of the stored files is that today's interpreter must replay yesterday's orders.

Each scenario writes `<name>.json`, the history of the order's first run; an order that
continued as new also writes `<name>.run2.json`, ..., and a child order (sub-pipeline)
`<name>.child1.json`. Scenarios marked `time_skipping` run on the time-skipping test server
(SLAs and timers of hours or days); the others on the dev server.
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack, suppress
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from tests.conftest import SEARCH_KEYS, TEMPORAL, TEST_ACTOR_KEY, TEST_SERVER
from tests.sla.fakes import FakeSlaClocks
from tests.workflows.fakes import ENGINEER_USER, FakeActivities
from tests.workflows.support import (
    SERVICE_OK,
    SIGNOFF_OK,
    definition,
    load_example,
    start_order,
    submit,
    wait_for_step,
    wait_until,
)
from tests.workflows.test_flow_nodes import LOOP, PARALLEL, inspection_pipelines
from worker import build_worker
from workflows import trust
from workflows.constants import SIGNAL_SLA_PAUSE, SIGNAL_SLA_RESUME
from workflows.contracts import Cancellation, Reassignment, SlaHold
from workflows.definition import Definition
from workflows.interpreter import WorkOrderWorkflow

HISTORIES = Path(__file__).parent / "histories"


@dataclass
class Rig:
    """What a scenario drives its order with: a server, a task queue and the worker's fakes."""

    env: WorkflowEnvironment
    queue: str
    fakes: FakeActivities

    @property
    def client(self) -> Client:
        return self.env.client


ScenarioFn = Callable[[Rig], Awaitable[WorkflowHandle[Any, Any]]]


@dataclass(frozen=True)
class Scenario:
    run: ScenarioFn
    time_skipping: bool = False
    fakes: dict[str, bool] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.run.__name__


SCENARIOS: list[Scenario] = []


def scenario(*, time_skipping: bool = False, **fakes: bool) -> Callable[[ScenarioFn], ScenarioFn]:
    """Registers a scenario; `fakes` are FakeActivities flags (e.g. fail_dispatch=True)."""

    def register(run: ScenarioFn) -> ScenarioFn:
        SCENARIOS.append(Scenario(run, time_skipping, fakes))
        return run

    return register


async def until(check: Callable[[], object], timeout: float = 15) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition never held")
        await asyncio.sleep(0.05)


async def ac_repair_order(rig: Rig, fault: str = "x") -> WorkflowHandle[Any, Any]:
    return await start_order(
        rig.client, load_example("ac-repair"), rig.queue, variables={"fault": fault}
    )


async def finish_ac_repair(
    handle: WorkflowHandle[Any, Any], engineer: str = ENGINEER_USER, rig: Rig | None = None
) -> None:
    """Service (by `engineer`) and sign-off, then the order completes; `rig` gives the
    clock of a time-skipping server, which the steps' proofs must match."""
    at = await rig.env.get_current_time() if rig is not None else None
    await submit(handle, "service", SERVICE_OK, user=engineer, issued_at=at)
    await wait_for_step(handle, "signoff")
    await submit(handle, "signoff", SIGNOFF_OK, issued_at=at)
    await handle.result()


async def cancel_once(
    handle: WorkflowHandle[Any, Any], running: Callable[[], object], reason: str = "重复报修"
) -> WorkflowHandle[Any, Any]:
    """Cancels the order once `running` holds (a fake was called), and waits for its end."""
    await until(running)
    await handle.signal(WorkOrderWorkflow.cancel, Cancellation(reason=reason, by="dispatcher"))
    await handle.result()
    return handle


def one_task(node: dict[str, Any]) -> list[dict[str, Any]]:
    """A pipeline of one human task (`node` adds to it), then the end."""
    return [{"id": "step", "type": "task", "next": "end", **node}, {"id": "end", "type": "end"}]


# ---- the first four (recorded before the patches, except the last) ---------------------


@scenario()
async def ac_repair_with_parts(rig: Rig) -> WorkflowHandle[Any, Any]:
    handle = await ac_repair_order(rig, fault="ac_leak")
    await wait_for_step(handle, "service")
    await submit(handle, "service", {**SERVICE_OK, "parts_needed": True})
    await wait_for_step(handle, "parts_fitting")
    await submit(handle, "parts_fitting", {"fitted": True})
    await wait_for_step(handle, "signoff")
    await submit(handle, "signoff", SIGNOFF_OK)
    await handle.result()
    return handle


@scenario()
async def parallel_branches(rig: Rig) -> WorkflowHandle[Any, Any]:
    handle = await start_order(rig.client, definition(PARALLEL), rig.queue)
    await wait_for_step(handle, "inspect")
    await submit(handle, "order_parts", {"sku": "CMP-1"})
    await submit(handle, "inspect", {"ok": True})
    await handle.result()
    return handle


@scenario()
async def cancelled_in_service(rig: Rig) -> WorkflowHandle[Any, Any]:
    handle = await ac_repair_order(rig)
    await wait_for_step(handle, "service")
    await handle.signal(WorkOrderWorkflow.cancel, Cancellation(reason="客户取消", by="dispatcher"))
    await handle.result()
    return handle


@scenario()
async def ac_repair_step_answers_next(rig: Rig) -> WorkflowHandle[Any, Any]:
    """The same order after the patches `step-answer-shows-next` and
    `read-model-shows-waiting-steps` (their markers in the history)."""
    return await ac_repair_with_parts(rig)


# ---- recorded before the move into domain packages --------------------------------------


@scenario(hang_dispatch=True)
async def cancelled_during_activity(rig: Rig) -> WorkflowHandle[Any, Any]:
    """Cancelled while the dispatch activity (under its SLA) is still running."""
    handle = await ac_repair_order(rig)
    return await cancel_once(handle, lambda: rig.fakes.calls["dispatch"])


@scenario(fail_dispatch=True)
async def failed_on_business_rule(rig: Rig) -> WorkflowHandle[Any, Any]:
    """Dispatch raises a non-retryable BusinessRuleViolation: the order fails."""
    handle = await ac_repair_order(rig)
    with suppress(WorkflowFailureError):
        await handle.result()
    return handle


@scenario(fail_record_waiting=True)
async def record_waiting_fails(rig: Rig) -> WorkflowHandle[Any, Any]:
    """The read-model local activity fails all five tries at the service step.

    As recorded, the order then fails (DatabaseUnavailable, without close_order): the local
    activity's ApplicationError is not the ActivityError `_record_waiting` catches.
    """
    handle = await ac_repair_order(rig)
    with suppress(WorkflowFailureError):
        await handle.result()
    return handle


@scenario()
async def reassigned_by_signal(rig: Rig) -> WorkflowHandle[Any, Any]:
    handle = await ac_repair_order(rig)
    await wait_for_step(handle, "service")
    moved_to = "engineer_bj_02"
    await handle.signal(
        WorkOrderWorkflow.reassign,
        Reassignment(node_id="service", user_id=moved_to, by="dispatcher"),
    )
    await wait_until(handle, lambda s: s.active[0].assignee == moved_to)
    await finish_ac_repair(handle, engineer=moved_to)
    return handle


@scenario()
async def continues_as_new(rig: Rig) -> WorkflowHandle[Any, Any]:
    """A loop that continues as new twice (three runs) before its last visit completes it."""
    handle = await start_order(
        rig.client, definition(LOOP), rig.queue, continue_as_new_after_events=20
    )
    visit = 1
    while True:
        current = await wait_until(
            handle, lambda s, n=visit: any(a.node_id == "visit" and a.visit == n for a in s.active)
        )
        done = current.runs >= 3
        await submit(handle, "visit", {"fixed": done})
        if done:
            break
        visit += 1
    await handle.result()
    return handle


@scenario()
async def subpipeline_child_order(rig: Rig) -> WorkflowHandle[Any, Any]:
    child, parent = inspection_pipelines()
    handle = await start_order(rig.client, parent, rig.queue, subdefinitions={"inspection": child})
    waiting = await wait_until(handle, lambda s: bool(s.active and s.active[0].child_workflow_id))
    child_handle = rig.client.get_workflow_handle(waiting.active[0].child_workflow_id or "")
    await wait_for_step(child_handle, "check")
    await submit(child_handle, "check", {"passed": True})
    await handle.result()
    return handle


@scenario(time_skipping=True)
async def timer_waits(rig: Rig) -> WorkflowHandle[Any, Any]:
    nodes = [
        {"id": "cool_down", "type": "timer", "params": {"duration": "P3D"}, "next": "end"},
        {"id": "end", "type": "end"},
    ]
    handle = await start_order(rig.client, definition(nodes), rig.queue)
    await handle.result()  # the test server skips the three days
    return handle


@scenario(time_skipping=True)
async def sla_breach_notifies(rig: Rig) -> WorkflowHandle[Any, Any]:
    """ac-repair's service SLA (PT24H, notify) breaches; the engineer finishes after."""
    handle = await ac_repair_order(rig)
    await wait_for_step(handle, "service")
    await rig.env.sleep(timedelta(hours=25))
    await wait_until(handle, lambda s: bool(s.breaches))
    await finish_ac_repair(handle, rig=rig)
    return handle


@scenario(time_skipping=True)
async def sla_breach_escalates(rig: Rig) -> WorkflowHandle[Any, Any]:
    sla = {"within": "P2D", "on_breach": "escalate", "escalate_to": "region_manager"}
    nodes = one_task({"assignee": {"kind": "user", "value": ENGINEER_USER}, "sla": sla})
    handle = await start_order(rig.client, definition(nodes), rig.queue)
    await wait_for_step(handle, "step")
    await rig.env.sleep(timedelta(days=2, minutes=1))
    await wait_until(handle, lambda s: bool(s.breaches))
    at = await rig.env.get_current_time()
    await submit(
        handle, "step", {}, user="region_mgr_huabei", roles=["region_manager"], issued_at=at
    )
    await handle.result()
    return handle


@scenario(time_skipping=True)
async def sla_breach_reassigns(rig: Rig) -> WorkflowHandle[Any, Any]:
    sla = {"within": "PT4H", "on_breach": "reassign", "reassign_to": "engineer_bj_02"}
    nodes = one_task({"assignee": {"kind": "user", "value": ENGINEER_USER}, "sla": sla})
    handle = await start_order(rig.client, definition(nodes), rig.queue)
    await wait_for_step(handle, "step")
    await rig.env.sleep(timedelta(hours=5))
    await wait_until(handle, lambda s: bool(s.breaches))
    at = await rig.env.get_current_time()
    await submit(handle, "step", {}, user="engineer_bj_02", issued_at=at)
    await handle.result()
    return handle


# ---- recorded with proven actors (issue 9) and the read-model and cancel patches (10) ----


@scenario(fail_record_waiting=True)
async def record_waiting_fails_order_goes_on(rig: Rig) -> WorkflowHandle[Any, Any]:
    """As record_waiting_fails, after `read-model-write-never-fails-order`: each waiting
    step goes unrecorded, and the order completes all the same."""
    handle = await ac_repair_order(rig)
    await wait_for_step(handle, "service")
    await finish_ac_repair(handle)
    return handle


@scenario(slow_record_waiting=True)
async def record_waiting_times_out(rig: Rig) -> WorkflowHandle[Any, Any]:
    """The read-model local activity times out on all five tries (about a minute); the
    step waits all the same. Replay once met TimeoutError where live met ActivityError."""
    nodes = one_task({"assignee": {"kind": "user", "value": ENGINEER_USER}})
    handle = await start_order(rig.client, definition(nodes), rig.queue)
    await wait_for_step(handle, "step", timeout=120)
    await submit(handle, "step", {})
    await handle.result()
    return handle


def unguarded_ac_repair() -> Any:
    """ac-repair whose dispatch has no SLA: nothing but the activity itself is awaited."""
    raw = load_example("ac-repair").model_dump(mode="json")
    dispatch = next(n for n in raw["nodes"] if n["id"] == "dispatch")
    dispatch["sla"] = None
    return Definition.model_validate(raw)


@scenario(hang_dispatch=True)
async def cancelled_during_unguarded_activity(rig: Rig) -> WorkflowHandle[Any, Any]:
    """Cancelled while dispatch (no SLA) runs: after `cancel-during-activity-ends-cancelled`
    the order ends cancelled, not failed with "Cancelled".

    `cancelled_during_unguarded_activity_before_patch.json` is this scenario as the
    interpreter before the patch ran it (commit 52c5e12: it ends failed); it cannot be
    recorded again from here, and must keep replaying as the patch's old side.
    """
    handle = await start_order(
        rig.client, unguarded_ac_repair(), rig.queue, variables={"fault": "x"}
    )
    return await cancel_once(handle, lambda: rig.fakes.calls["dispatch"])


@scenario(hang_record_waiting=True)
async def cancelled_while_recording_waiting(rig: Rig) -> WorkflowHandle[Any, Any]:
    """Cancelled while the read-model local activity of a waiting step still runs: the
    order ends cancelled (before, it went on waiting for a step nobody could submit)."""
    nodes = one_task({"assignee": {"kind": "user", "value": ENGINEER_USER}})
    handle = await start_order(rig.client, definition(nodes), rig.queue)
    return await cancel_once(handle, lambda: rig.fakes.waiting, reason="客户取消")


@scenario(hand_off_dispatch=True)
async def dispatch_hands_off(rig: Rig) -> WorkflowHandle[Any, Any]:
    """Dispatch asks people before it completes (`automatic-step-hands-off`): an offer that
    lapses (2 s), one declined with a reason, then a dispatcher's pick; the order goes on."""
    handle = await ac_repair_order(rig)
    await wait_for_step(handle, "dispatch.handoff")
    await until(lambda: len(rig.fakes.calls["dispatch"]) >= 2, timeout=20)
    await wait_for_step(handle, "dispatch.handoff")
    await submit(handle, "dispatch.handoff", {"answer": "decline", "reason": "车坏了"})
    await until(lambda: len(rig.fakes.calls["dispatch"]) >= 3)
    await wait_for_step(handle, "dispatch.handoff")
    await submit(
        handle,
        "dispatch.handoff",
        {"answer": "assign", "choice": "e1"},
        user="dispatcher_huabei",
        roles=["dispatcher"],
    )
    await wait_for_step(handle, "service")
    await finish_ac_repair(handle)
    return handle


# ---- business-time SLA clocks (issue 11): patch `sla-business-time-clock` ----------------


async def sla_clock_order(
    rig: Rig, clocks: FakeSlaClocks, queue: str, sla: dict[str, Any]
) -> WorkflowHandle[Any, Any]:
    nodes = one_task({"assignee": {"kind": "user", "value": ENGINEER_USER}, "sla": sla})
    handle = await start_order(rig.client, definition(nodes), queue)
    await until(lambda: clocks.events)
    return handle


@scenario(time_skipping=True)
async def sla_business_ladder(rig: Rig) -> WorkflowHandle[Any, Any]:
    """Policy `onsite` (7×12, PT4H): paused for parts and resumed, then every ladder level
    fires once (remind, notify, raise priority, reassign); the new engineer completes it."""
    clocks, queue = FakeSlaClocks(), f"{rig.queue}-sla"
    activities = [*rig.fakes.all(), *clocks.all()]
    async with build_worker(rig.client, task_queue=queue, activities=activities):
        handle = await sla_clock_order(rig, clocks, queue, {"within": "P2D", "policy": "onsite"})
        await rig.env.sleep(timedelta(minutes=30))
        await handle.signal(SIGNAL_SLA_PAUSE, SlaHold(node_id="step", reason="parts"))
        await until(lambda: len(clocks.events) >= 2)
        await handle.signal(SIGNAL_SLA_RESUME, SlaHold(node_id="step"))
        await until(lambda: len(clocks.events) >= 3)
        await rig.env.sleep(timedelta(days=2))
        await wait_until(handle, lambda s: len(s.breaches) == 3)
        at = await rig.env.get_current_time()
        await submit(handle, "step", {}, user="engineer_bj_02", issued_at=at)
        await handle.result()
    return handle


@scenario(time_skipping=True)
async def sla_business_paused(rig: Rig) -> WorkflowHandle[Any, Any]:
    """A business-time SLA (PT2H) paused waiting for the customer for days: no breach."""
    clocks, queue = FakeSlaClocks(), f"{rig.queue}-sla"
    activities = [*rig.fakes.all(), *clocks.all()]
    async with build_worker(rig.client, task_queue=queue, activities=activities):
        sla = {"within": "PT2H", "clock": "business", "notify": ["region_manager"]}
        handle = await sla_clock_order(rig, clocks, queue, sla)
        await handle.signal(SIGNAL_SLA_PAUSE, SlaHold(node_id="step", reason="customer"))
        await until(lambda: len(clocks.events) >= 2)
        await rig.env.sleep(timedelta(days=3))
        at = await rig.env.get_current_time()
        await submit(handle, "step", {}, issued_at=at)
        await handle.result()
    return handle


# ---- recording ------------------------------------------------------------------------


# ---- spare parts (issue 12): patch `node-runs-child-workflow` ------------------------------


@scenario()
async def parts_transfer_then_consume(rig: Rig) -> WorkflowHandle[Any, Any]:
    """The diagnosis names a part; the parts node sources it and waits on its transfer (a
    child saga: reserve, ship, receive) before the repair; the consume node takes it."""
    from tests.inventory.fakes import PARTS_PIPELINE, FakeInventory
    from workflows.contracts import TransferReceipt, TransferShipment, TransferState

    inventory, queue = FakeInventory(), f"{rig.queue}-parts"
    activities = [*rig.fakes.all(), *inventory.all()]
    async with build_worker(rig.client, task_queue=queue, activities=activities):
        handle = await start_order(rig.client, definition(PARTS_PIPELINE), queue)
        await wait_for_step(handle, "diagnose")
        await submit(handle, "diagnose", {"parts_needed": [{"sku": "PAD", "qty": 2}]})
        waiting = await wait_until(
            handle, lambda s: bool(s.active and s.active[0].child_workflow_id)
        )
        transfer = rig.client.get_workflow_handle(waiting.active[0].child_workflow_id)
        for _ in range(300):
            live = await transfer.query("transfer", result_type=TransferState)
            if live.status == "reserved":
                break
            await asyncio.sleep(0.05)
        await transfer.execute_update(
            "ship", TransferShipment(carrier="SF", tracking_no="SF1"), result_type=TransferState
        )
        await transfer.execute_update("receive", TransferReceipt(), result_type=TransferState)
        await wait_for_step(handle, "repair")
        await submit(handle, "repair", {"parts_used": [{"sku": "PAD", "qty": 2}]})
        await handle.result()
    return handle


@scenario()
async def inventory_scan_runs(rig: Rig) -> WorkflowHandle[Any, Any]:
    """What the Temporal Schedule starts: one safety-stock scan."""
    from tests.inventory.fakes import FakeInventory

    inventory, queue = FakeInventory(), f"{rig.queue}-scan"
    async with build_worker(rig.client, task_queue=queue, activities=inventory.all()):
        handle = await rig.client.start_workflow(
            "InventoryScan", id=f"scan-{uuid.uuid4()}", task_queue=queue
        )
        await handle.result()
    return handle


# ---- money (issue 13) ---------------------------------------------------------------------


@scenario()
async def settlement_run_monthly(rig: Rig) -> WorkflowHandle[Any, Any]:
    """What the monthly Temporal Schedule starts: one settlement run of the month before."""
    from temporalio import activity

    from workflows.settlement_run import SettlementRunInput, SettlementRunResult

    # Unannotated: the local names are not resolvable as the hints' strings; the input
    # arrives as a dict.
    @activity.defn(name="settlement_run")
    async def settlement_run(run):  # type: ignore[no-untyped-def]
        return SettlementRunResult(period=run["period"], applied=True, statements=3, total="1")

    queue = f"{rig.queue}-run"
    async with build_worker(rig.client, task_queue=queue, activities=[settlement_run]):
        handle = await rig.client.start_workflow(
            "SettlementRun",
            SettlementRunInput(period="2026-11"),
            id=f"run-{uuid.uuid4()}",
            task_queue=queue,
        )
        await handle.result()
    return handle


async def record(client: Client, stem: str, workflow_id: str, run_id: str) -> None:
    """Writes the history of this run, of the runs it continued as, and of its children."""
    run = 1
    while run_id:
        history = await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
        name = stem if run == 1 else f"{stem}.run{run}"
        (HISTORIES / f"{name}.json").write_text(history.to_json())
        print(f"recorded {name}: {len(history.events)} events")
        children = [
            e.child_workflow_execution_started_event_attributes.workflow_execution
            for e in history.events
            if e.HasField("child_workflow_execution_started_event_attributes")
        ]
        for i, child in enumerate(children, 1):
            await record(client, f"{name}.child{i}", child.workflow_id, child.run_id)
        last = history.events[-1]
        run_id = last.workflow_execution_continued_as_new_event_attributes.new_execution_run_id
        run += 1


async def start_server(time_skipping: bool) -> WorkflowEnvironment:
    if not time_skipping:
        return await WorkflowEnvironment.start_local(
            dev_server_existing_path=str(TEMPORAL),
            data_converter=pydantic_data_converter,
            search_attributes=SEARCH_KEYS,
        )
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(TEST_SERVER), data_converter=pydantic_data_converter
    )
    # The test server knows no custom search attributes until they are added.
    await env.client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace=env.client.namespace,
            search_attributes={key.name: key.indexed_value_type for key in SEARCH_KEYS},
        )
    )
    return env


async def main() -> None:
    HISTORIES.mkdir(exist_ok=True)
    trust.configure(TEST_ACTOR_KEY)  # the worker's key; submit() proves steps with it
    chosen = set(sys.argv[1:])
    unknown = chosen - {s.name for s in SCENARIOS}
    if unknown:
        raise SystemExit(f"unknown scenarios: {', '.join(sorted(unknown))}")
    async with AsyncExitStack() as stack:
        servers: dict[bool, WorkflowEnvironment] = {}
        for s in [s for s in SCENARIOS if not chosen or s.name in chosen]:
            if s.time_skipping not in servers:
                server = await start_server(s.time_skipping)
                servers[s.time_skipping] = await stack.enter_async_context(server)
            rig = Rig(servers[s.time_skipping], f"record-{uuid.uuid4()}", FakeActivities(**s.fakes))
            async with build_worker(rig.client, task_queue=rig.queue, activities=rig.fakes.all()):
                handle = await s.run(rig)
            assert handle.result_run_id is not None
            await record(rig.client, s.name, handle.id, handle.result_run_id)


if __name__ == "__main__":
    asyncio.run(main())
