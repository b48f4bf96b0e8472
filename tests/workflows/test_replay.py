"""Recorded histories of real pipelines must replay on today's interpreter (determinism)."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any, get_args

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from worker import sandbox_runner
from workflows import constants as c
from workflows.interpreter import (
    PATCH_AUTOMATIC_STEP_HANDS_OFF,
    PATCH_BUSINESS_SLA,
    PATCH_CANCEL_DURING_ACTIVITY,
    PATCH_READ_MODEL_NEVER_FAILS,
    PATCH_READ_MODEL_WAITING,
    PATCH_RUN_WORKFLOW,
    PATCH_STEP_ANSWER_SHOWS_NEXT,
)
from workflows.nodes import NODE_TYPES, Sla
from workflows.registry import WORKFLOWS

HISTORIES = sorted((Path(__file__).parent / "histories").glob("*.json"))


def test_histories_are_recorded() -> None:
    assert len(HISTORIES) >= 3


def decoded(payload: dict[str, Any]) -> Any:
    return json.loads(base64.b64decode(payload["data"]))


def patches_in(path: Path) -> set[str]:
    """The patch ids whose markers a recorded history holds."""
    found = set()
    for event in json.loads(path.read_text())["events"]:
        marker = event.get("markerRecordedEventAttributes")
        if marker and marker.get("markerName") == "core_patch":
            for payload in marker["details"]["patch-data"]["payloads"]:
                found.add(decoded(payload)["id"])
    return found


PATCHES = [
    PATCH_STEP_ANSWER_SHOWS_NEXT,
    PATCH_READ_MODEL_WAITING,
    PATCH_READ_MODEL_NEVER_FAILS,
    PATCH_CANCEL_DURING_ACTIVITY,
    PATCH_AUTOMATIC_STEP_HANDS_OFF,
    PATCH_BUSINESS_SLA,
    PATCH_RUN_WORKFLOW,
]
# A history that took each patched path the old way (recorded before the patch).
OLD_SIDE = {
    PATCH_READ_MODEL_NEVER_FAILS: "record_waiting_fails",
    PATCH_CANCEL_DURING_ACTIVITY: "cancelled_during_unguarded_activity_before_patch",
}


@pytest.mark.parametrize("patch_id", PATCHES)
def test_both_sides_of_each_patch_are_recorded(patch_id: str) -> None:
    """Old orders (no marker) and new ones (marker) must both keep replaying."""
    with_marker = [p.stem for p in HISTORIES if patch_id in patches_in(p)]
    assert with_marker and len(with_marker) < len(HISTORIES)
    if patch_id in OLD_SIDE:
        assert OLD_SIDE[patch_id] in {p.stem for p in HISTORIES}
        assert OLD_SIDE[patch_id] not in with_marker


def test_every_patch_is_listed_here() -> None:
    """A patch added to the interpreter without a recorded history fails here."""
    source = (Path(__file__).parents[2] / "workflows" / "interpreter.py").read_text()
    declared = set(re.findall(r'^PATCH_\w+ = "([^"]+)"', source, flags=re.MULTILINE))
    assert declared == set(PATCHES)


@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
async def test_recorded_history_replays(path: Path) -> None:
    replayer = Replayer(
        workflows=WORKFLOWS,
        data_converter=pydantic_data_converter,
        workflow_runner=sandbox_runner(),
    )
    history = WorkflowHistory.from_json(path.stem, path.read_text())
    result = await replayer.replay_workflow(history, raise_on_replay_failure=True)
    assert result.replay_failure is None


def facts_of(path: Path) -> set[str]:
    """What a recorded history shows: its event types, signals, activities, the node types
    its completed order visited and the SLA breach actions it took."""
    found = set()
    for event in json.loads(path.read_text())["events"]:
        found.add(event["eventType"].removeprefix("EVENT_TYPE_"))
        if started := event.get("workflowExecutionStartedEventAttributes"):
            payloads = started.get("input", {}).get("payloads", [])  # a scan takes none
            if payloads and (decoded(payloads[0]) or {}).get("resume"):
                found.add("resumed")
            if "parentWorkflowExecution" in started:
                found.add("child")
        if signal := event.get("workflowExecutionSignaledEventAttributes"):
            found.add(f"signal:{signal['signalName']}")
        if scheduled := event.get("activityTaskScheduledEventAttributes"):
            found.add(f"activity:{scheduled['activityType']['name']}")
        marker = event.get("markerRecordedEventAttributes")
        if marker and marker["markerName"] == "core_local_activity":
            local = decoded(marker["details"]["data"]["payloads"][0])["activity_type"]
            found.add(f"activity:{local}" + (":failed" if "failure" in marker else ""))
            failure = marker.get("failure", {})
            if "timeoutFailureInfo" in failure:
                found.add(f"activity:{local}:timed_out")
            if "canceledFailureInfo" in failure:
                found.add(f"activity:{local}:cancelled")
        if completed := event.get("workflowExecutionCompletedEventAttributes"):
            result = decoded(completed["result"]["payloads"][0])
            if not isinstance(result, dict) or "timeline" not in result:
                continue  # a domain workflow's result (a transfer, a scan), not an order's
            found |= {f"node:{entry['node_type']}" for entry in result["timeline"]}
            found |= {f"breach:{breach['action']}" for breach in result["breaches"]}
    return found


def test_histories_cover_every_node_type_and_behaviour() -> None:
    """Replay is evidence only for what was recorded: every node type (visited by a completed
    order), every activity, every SLA breach action, and the interpreter's other paths."""
    expected = (
        {f"node:{tag}" for tag in NODE_TYPES}
        | {f"activity:{name}" for name in c.ALL_ACTIVITIES}
        | {f"breach:{action}" for action in get_args(Sla.model_fields["on_breach"].annotation)}
        | {
            "signal:cancel",
            "signal:reassign",
            "ACTIVITY_TASK_CANCEL_REQUESTED",  # cancelled while an activity ran
            "WORKFLOW_EXECUTION_FAILED",
            f"activity:{c.ACTIVITY_RECORD_WAITING}:failed",
            f"activity:{c.ACTIVITY_RECORD_WAITING}:timed_out",  # replays as TimeoutError
            f"activity:{c.ACTIVITY_RECORD_WAITING}:cancelled",  # the order cancelled meanwhile
            "WORKFLOW_EXECUTION_CONTINUED_AS_NEW",
            "resumed",  # a run that continued an earlier one
            "CHILD_WORKFLOW_EXECUTION_COMPLETED",
            "child",  # the child order's own history
            "TIMER_FIRED",
            "WORKFLOW_EXECUTION_UPDATE_COMPLETED",
        }
    )
    covered = set().union(*(facts_of(p) for p in HISTORIES))
    assert expected - covered == set()
