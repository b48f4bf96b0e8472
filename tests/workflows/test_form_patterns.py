"""Form patterns run on RE2: linear-time matching, unusable patterns refused at validation."""

from __future__ import annotations

import time
from typing import Any

import pytest
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from tests.workflows.support import definition, start_order, submit, wait_for_step
from workflows.forms import MAX_PATTERN_INPUT, MAX_PATTERN_LENGTH, FormField, check_submission
from workflows.validate import validate_definition

EVIL = "(a+)+$"
EVIL_INPUT = "a" * 26 + "!"


def field(**settings: Any) -> FormField:
    return FormField.model_validate({"name": "code", "type": "text", **settings})


def pipeline(**settings: Any) -> dict[str, Any]:
    return {
        "key": "patterns",
        "name": "patterns",
        "start": "a",
        "nodes": [
            {
                "id": "a",
                "type": "task",
                "next": "end",
                "form": [
                    {"name": "ok", "type": "boolean"},
                    {"name": "code", "type": "text", **settings},
                ],
            },
            {"id": "end", "type": "end"},
        ],
    }


def test_catastrophic_backtracking_pattern_answers_at_once() -> None:
    began = time.perf_counter()
    _, errors = check_submission([field(pattern=EVIL)], {"code": EVIL_INPUT})
    assert time.perf_counter() - began < 0.5
    assert errors == {"code": f"does not match the pattern {EVIL}"}
    long = "a" * (MAX_PATTERN_INPUT - 1) + "!"
    began = time.perf_counter()
    assert check_submission([field(pattern=EVIL)], {"code": long})[1]
    assert time.perf_counter() - began < 0.5


def test_matching_input_is_accepted() -> None:
    cleaned, errors = check_submission([field(pattern=r"[A-Z]{2}-\d{4}")], {"code": "UX-2041"})
    assert errors == {} and cleaned == {"code": "UX-2041"}


def test_input_for_pattern_is_bounded_by_max_length_or_default() -> None:
    too_long = "a" * (MAX_PATTERN_INPUT + 1)
    _, errors = check_submission([field(pattern="a*")], {"code": too_long})
    assert errors == {"code": f"must be at most {MAX_PATTERN_INPUT} characters"}
    _, errors = check_submission([field(pattern="a*", max_length=5)], {"code": "aaaaaa"})
    assert errors == {"code": "must be at most 5 characters"}


def test_unpaired_surrogate_in_submitted_text_is_a_field_error() -> None:
    _, errors = check_submission([field(pattern="UX-.*")], {"code": "UX-\ud800"})
    assert "unpaired surrogate" in errors["code"]


@pytest.mark.parametrize(
    ("pattern", "words"),
    [
        (r"(a)\1", "backreferences"),
        (r"(?=a)a", "lookaround"),
        (r"(?<!x)a", "cannot be used"),
        ("(", "cannot be used"),
        ("a" * (MAX_PATTERN_LENGTH + 1), f"longer than {MAX_PATTERN_LENGTH}"),
        ("((a{100}){100}){100}", "cannot be used"),
    ],
)
def test_patterns_re2_cannot_use_are_refused_at_validation(pattern: str, words: str) -> None:
    report = validate_definition(pipeline(pattern=pattern))
    [problem] = report.errors
    assert problem.code == "form_pattern_invalid"
    assert problem.node_id == "a" and problem.path == "$.nodes[0].form[1].pattern"
    assert "'code'" in problem.message and words in problem.message
    assert "「code」" in problem.message_zh


def test_linear_time_pattern_passes_validation() -> None:
    assert validate_definition(pipeline(pattern=EVIL)).ok


def test_unusable_pattern_that_skipped_validation_refuses_the_submission() -> None:
    _, errors = check_submission([field(pattern=r"(a)\1")], {"code": "aa"})
    assert errors["code"].startswith("cannot be checked")


@pytest.mark.usefixtures("worker")
async def test_submission_against_evil_pattern_is_refused_promptly(
    client: Client, task_queue: str
) -> None:
    raw = pipeline(pattern=EVIL)
    handle = await start_order(client, definition(raw["nodes"]), task_queue)
    await wait_for_step(handle, "a")
    began = time.perf_counter()
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await submit(
            handle,
            "a",
            {"ok": True, "code": EVIL_INPUT},
            user="dispatcher_bj",
            roles=["dispatcher"],
        )
    assert time.perf_counter() - began < 5
    cause = refused.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == "FormInvalid"
    await submit(
        handle, "a", {"ok": True, "code": "aaa"}, user="dispatcher_bj", roles=["dispatcher"]
    )
    await handle.result()
