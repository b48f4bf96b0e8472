"""Orders' pure rules: ids, fingerprints, variable checks, read-model rows of steps."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable
from typing import Any

from workflows.contracts import StepInput, TimelineEntry, WaitingStep
from workflows.definition import Definition

CLOSED_STATUSES = ("completed", "cancelled", "failed")
ORDER_NAMESPACE = uuid.UUID("6f1c1f0e-3b7a-5d0e-9a51-5e7f1c0a0001")
TEST_SUFFIX = "-test"
_TYPE_CHECKS: dict[str, tuple[type, ...]] = {
    "text": (str,),
    "number": (int, float),
    "money": (str, int, float),
    "boolean": (bool,),
    "object": (dict,),
    "list": (list,),
}


def order_id_for(username: str, idempotency_key: str | None) -> str:
    """The order (= workflow) id: uuid5 of caller and key, so Temporal itself dedupes."""
    if not idempotency_key:
        return f"wo-{uuid.uuid4()}"
    name = f"{username}/{idempotency_key}"
    return f"wo-{uuid.uuid5(ORDER_NAMESPACE, name)}"


def fingerprint(body: dict[str, Any]) -> str:
    """A stable hash of a request body (key order does not matter)."""
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def check_variables(definition: Definition, variables: dict[str, Any]) -> dict[str, str]:
    """Field errors for missing required variables and values of the wrong type."""
    errors: dict[str, str] = {}
    for decl in definition.variables:
        value = variables.get(decl.name)
        if value is None:
            if decl.required and decl.default is None:
                errors[f"variables.{decl.name}"] = "is required"
            continue
        allowed = _TYPE_CHECKS[decl.type]
        wrong = not isinstance(value, allowed) or (
            decl.type in ("number", "money") and isinstance(value, bool)
        )
        if wrong:
            errors[f"variables.{decl.name}"] = f"must be of type {decl.type}"
    return errors


def test_key(key: str) -> str:
    """The definition key a test run of `key` runs under (fits the 64-character column)."""
    return key[: 64 - len(TEST_SUFFIX)] + TEST_SUFFIX


def order_defaults(step: StepInput | WaitingStep) -> dict[str, Any]:
    """The columns of a new read-model order row, from what a step knows of its order."""
    return {
        "definition_key": step.definition_key,
        "definition_version": step.definition_version,
        "region": step.context.region,
        "priority": step.context.priority,
        "started_by": step.context.started_by,
        "status": step.status,
        "current_node": step.node_id,
    }


def step_rows(entries: Iterable[TimelineEntry]) -> list[dict[str, Any]]:
    """Read-model step rows of completed timeline entries."""
    return [
        {
            "node_id": e.node_id,
            "node_type": e.node_type,
            "visit": e.visit,
            "actor": e.actor,
            "outcome": e.outcome,
            "data": e.model_dump(mode="json")["data"],
            "started_at": e.started_at,
            "completed_at": e.completed_at,
        }
        for e in entries
    ]
