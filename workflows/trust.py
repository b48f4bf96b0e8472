"""Proofs that a step's actor was authenticated by the API, not claimed by the caller.

The API signs each `submit_step` submission with the actor key (HMAC-SHA256 over a
canonical text of order, node, actor, roles, time and what was submitted); the order's
Update validator checks the proof with the same key. Whoever reaches Temporal's port
without the key cannot act as anyone.

Pure and deterministic: the clock is passed in (`workflow.now()` in the workflow). The
worker sets the key once at startup with `configure`; `workflows` is a sandbox passthrough
module, so the key set here is the one the validators see.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from workflows.contracts import StepSubmission

MAX_SKEW = timedelta(minutes=5)
"""How far a proof's `issued_at` may lie from the order's clock (either way)."""

_key: bytes | None = None


class NotProven(ValueError):
    """The submission carries no valid, timely proof of its actor."""


def configure(key: str) -> None:
    """Sets the actor key the validators check proofs with (the worker, at startup)."""
    global _key
    _key = key.encode()


def configured_key() -> bytes | None:
    """The key `configure` set, or None when the process has none."""
    return _key


def canonical(
    *,
    order_id: str,
    node_id: str,
    user_id: str,
    roles: list[str],
    issued_at: datetime,
    data: dict[str, Any],
    outcome: str,
) -> str:
    """The text a proof signs: a JSON array, so no field can run into the next.

    `data` and `outcome` are bound too (as a digest), so a proof seen in a history cannot
    carry another answer for a later visit within `MAX_SKEW`.
    """
    when = _utc(issued_at).isoformat(timespec="microseconds")
    answer = json.dumps([data, outcome], sort_keys=True, ensure_ascii=False, default=str)
    digest = hashlib.sha256(answer.encode()).hexdigest()
    fields = ["servflow-step/1", order_id, node_id, user_id, sorted(roles), when, digest]
    return json.dumps(fields, ensure_ascii=False, separators=(",", ":"))


def sign(key: str | bytes, text: str) -> str:
    """The hex HMAC-SHA256 of `text` under `key`."""
    raw = key.encode() if isinstance(key, str) else key
    return hmac.new(raw, text.encode(), hashlib.sha256).hexdigest()


def text_of(order_id: str, submission: StepSubmission, issued_at: datetime) -> str:
    """The canonical text of `submission` to order `order_id` (its workflow id)."""
    actor = submission.actor
    return canonical(
        order_id=order_id,
        node_id=submission.node_id,
        user_id=actor.user_id,
        roles=list(actor.roles),
        issued_at=issued_at,
        data=submission.data,
        outcome=submission.outcome,
    )


def prove(key: str, order_id: str, submission: StepSubmission, now: datetime) -> StepSubmission:
    """`submission` with `issued_at` (now) and the proof the order's validator checks."""
    text = text_of(order_id, submission, now)
    return submission.model_copy(update={"issued_at": now, "proof": sign(key, text)})


def check(order_id: str, submission: StepSubmission, now: datetime) -> None:
    """Verifies the proof `submission` carries (see `verify`).

    Raises:
        NotProven: as `verify`.
    """
    issued_at = submission.issued_at
    text = text_of(order_id, submission, issued_at) if issued_at is not None else ""
    verify(proof=submission.proof, issued_at=issued_at, text=text, now=now)


def verify(*, proof: str, issued_at: datetime | None, text: str, now: datetime) -> None:
    """Checks `proof` over `text` with the configured key and `issued_at` against `now`.

    Raises:
        NotProven: no key configured, no proof, a wrong proof, or a stale or future time.
    """
    if _key is None:
        raise NotProven("this worker has no actor key: no step can be proven")
    if not proof or issued_at is None:
        raise NotProven("the submission carries no proof of its actor (submit through the API)")
    if not hmac.compare_digest(sign(_key, text), proof):
        raise NotProven("the proof of the submission's actor is not valid")
    if abs(_utc(now) - _utc(issued_at)) > MAX_SKEW:
        raise NotProven("the proof of the submission's actor has expired; submit again")


def _utc(moment: datetime) -> datetime:
    # A naive time is taken as UTC, so both sides format it the same way.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
