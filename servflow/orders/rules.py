"""Orders' pure rules: ids, fingerprints, variable checks, read-model rows of steps."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable
from typing import Any, TypeVar

from pydantic import BaseModel

from workflows.contracts import OrderState, StepInput, TimelineEntry, WaitingStep
from workflows.definition import Definition

CLOSED_STATUSES = ("completed", "cancelled", "failed")
ORDER_NAMESPACE = uuid.UUID("6f1c1f0e-3b7a-5d0e-9a51-5e7f1c0a0001")
TEST_SUFFIX = "-test"
STEP_OUTCOME_LENGTH = 500  # work_order_step.outcome: a failure's or a cancel's message
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
    """Field errors for missing required variables, values of the wrong type and variables
    the definition does not declare (which nothing would check, yet every node could read)."""
    declared = {decl.name for decl in definition.variables}
    errors = {
        f"variables.{name}": "is not a variable of this pipeline"
        for name in variables
        if name not in declared
    }
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
    """Read-model step rows of completed timeline entries, one per (node, visit): the first
    entry of a visit wins (one upsert may not name a row twice — a failed order's close
    step names its failed node), and an outcome is cut to the column's length."""
    rows: dict[tuple[str, int], dict[str, Any]] = {}
    for e in entries:
        rows.setdefault(
            (e.node_id, e.visit),
            {
                "node_id": e.node_id,
                "node_type": e.node_type,
                "visit": e.visit,
                "actor": e.actor,
                "outcome": e.outcome[:STEP_OUTCOME_LENGTH],
                "data": e.model_dump(mode="json")["data"],
                "started_at": e.started_at,
                "completed_at": e.completed_at,
            },
        )
    return list(rows.values())


# What a settlement step's output says about money: removed for callers without money
# rights (org.rules.MONEY_ROLES); milestone, currency, share and status stay.
MONEY_OUTPUTS = frozenset({"amount", "job_amount", "payouts", "breakdown", "hold_reasons"})
SETTLEMENT_NODE = "settlement"
MASKED_OUTCOME = "里程碑结算（金额仅对有财务权限的角色可见）"
StepT = TypeVar("StepT", bound=BaseModel)


def redact_money(
    steps: list[StepT], state: OrderState | None = None
) -> tuple[list[StepT], OrderState | None]:
    """An order's steps and live state with every settlement amount taken out.

    Settlement steps (read-model steps and timeline entries alike) lose the money keys of
    their data and their summary, which states the amounts; the order variable each
    settlement node wrote (keyed by its node id) loses the same keys.

    Args:
        steps: read-model steps or timeline entries (models with node_id, node_type, data,
            outcome).
        state: the order's live state, if any.

    Returns:
        Copies of `steps` and `state`; the arguments are left as they were.
    """
    settled = {s.node_id for s in (*steps, *(state.timeline if state else ())) if _settles(s)}
    out_steps = [_redact_step(s) for s in steps]
    if state is None:
        return out_steps, None
    variables = {
        key: _without_money(value) if key in settled else value
        for key, value in state.variables.items()
    }
    timeline = [_redact_step(entry) for entry in state.timeline]
    return out_steps, state.model_copy(update={"variables": variables, "timeline": timeline})


def _settles(step: BaseModel) -> bool:
    return getattr(step, "node_type", "") == SETTLEMENT_NODE


def _simulated(value: Any) -> bool:
    # A test run's simulated settlement pays nobody; its designer checks the amounts.
    return isinstance(value, dict) and value.get("sandbox") is True


def _without_money(value: Any) -> Any:
    if not isinstance(value, dict) or _simulated(value):
        return value
    return {key: item for key, item in value.items() if key not in MONEY_OUTPUTS}


def _redact_step(step: StepT) -> StepT:
    data = getattr(step, "data", {})
    if not _settles(step) or _simulated(data):
        return step
    outcome = MASKED_OUTCOME if getattr(step, "outcome", "") else ""
    return step.model_copy(update={"data": _without_money(data), "outcome": outcome})


def step_update_id(
    username: str, order_id: str, node_id: str, idempotency_key: str | None
) -> str | None:
    """The Temporal Update id of a step submission with an Idempotency-Key: the same caller
    retrying the same key on the same step gets the first submission's answer."""
    if not idempotency_key:
        return None
    text = json.dumps([username, order_id, node_id, idempotency_key], ensure_ascii=False)
    return "step-" + hashlib.sha256(text.encode()).hexdigest()[:40]
