"""Recorded histories of real pipelines must replay on today's interpreter (determinism)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from worker import sandbox_runner
from workflows.interpreter import PATCH_READ_MODEL_WAITING, PATCH_STEP_ANSWER_SHOWS_NEXT
from workflows.registry import WORKFLOWS

HISTORIES = sorted((Path(__file__).parent / "histories").glob("*.json"))


def test_histories_are_recorded() -> None:
    assert len(HISTORIES) >= 3


def patches_in(path: Path) -> set[str]:
    """The patch ids whose markers a recorded history holds."""
    found = set()
    for event in json.loads(path.read_text())["events"]:
        marker = event.get("markerRecordedEventAttributes")
        if marker and marker.get("markerName") == "core_patch":
            for payload in marker["details"]["patch-data"]["payloads"]:
                found.add(json.loads(base64.b64decode(payload["data"]))["id"])
    return found


@pytest.mark.parametrize("patch_id", [PATCH_STEP_ANSWER_SHOWS_NEXT, PATCH_READ_MODEL_WAITING])
def test_both_sides_of_each_patch_are_recorded(patch_id: str) -> None:
    """Old orders (no marker) and new ones (marker) must both keep replaying."""
    with_marker = [p.stem for p in HISTORIES if patch_id in patches_in(p)]
    assert with_marker and len(with_marker) < len(HISTORIES)


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
