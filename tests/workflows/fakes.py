"""Stand-in activities for tests about the interpreter alone (the real ones are tested in
tests/activities). Each records what it was asked, so tests can assert on the calls."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from decimal import Decimal
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from workflows import constants as c
from workflows.contracts import (
    HANDOFF_ANSWER,
    HANDOFF_OUTPUT,
    StepInput,
    StepResult,
    WaitingStep,
)

ENGINEER_USER = "engineer_bj_01"


class FakeActivities:
    def __init__(
        self,
        *,
        fail_dispatch: bool = False,
        hang_dispatch: bool = False,
        fail_record_waiting: bool = False,
        slow_record_waiting: bool = False,
        hang_record_waiting: bool = False,
        hand_off_dispatch: bool = False,
    ) -> None:
        self.calls: dict[str, list[StepInput]] = defaultdict(list)
        self.waiting: list[WaitingStep] = []
        self.fail_dispatch = fail_dispatch
        self.hang_dispatch = hang_dispatch
        self.fail_record_waiting = fail_record_waiting
        self.slow_record_waiting = slow_record_waiting
        self.hang_record_waiting = hang_record_waiting
        self.hand_off_dispatch = hand_off_dispatch
        self.report_placement: dict[str, str] = {}

    def all(self) -> list[Any]:
        return [
            self.report,
            self.dispatch,
            self.settlement,
            self.notify,
            self.close_order,
            self.record_waiting,
        ]

    def keys(self, name: str) -> list[str]:
        return [call.idempotency_key for call in self.calls[name]]

    @activity.defn(name=c.ACTIVITY_REPORT)
    async def report(self, step: StepInput) -> StepResult:
        self.calls["report"].append(step)
        fault = step.variables.get("fault", "")
        return StepResult(
            output={
                "order_no": f"SF-{step.order_id}",
                "customer_id": "c1",
                "fault": fault,
                **self.report_placement,
            }
        )

    @activity.defn(name=c.ACTIVITY_DISPATCH)
    async def dispatch(self, step: StepInput) -> StepResult:
        self.calls["dispatch"].append(step)
        if self.hang_dispatch:
            await _heartbeat_until_cancelled()
        if self.fail_dispatch:
            raise ApplicationError(
                "no qualified engineer within 200 km",
                type=c.ERROR_BUSINESS_RULE,
                non_retryable=True,
            )
        if self.hand_off_dispatch:
            answer = step.params.get(HANDOFF_ANSWER)
            handoff = _dispatch_handoff(answer, len(self.calls["dispatch"]))
            if handoff is not None:
                return StepResult(output={HANDOFF_OUTPUT: handoff}, summary="asks a person")
        return StepResult(
            output={
                "engineer_id": "e1",
                "engineer_user_id": ENGINEER_USER,
                "outlet_id": "o1",
                "distance_km": "3.2",
                "reason": "nearest certified engineer",
            },
            summary="nearest certified engineer",
        )

    @activity.defn(name=c.ACTIVITY_SETTLEMENT)
    async def settlement(self, step: StepInput) -> StepResult:
        self.calls["settlement"].append(step)
        share = Decimal(str(step.params.get("share", "1")))
        amount = (Decimal("300.00") * share).quantize(Decimal("0.01"))
        return StepResult(
            output={
                "amount": str(amount),
                "currency": "CNY",
                "milestone": step.params.get("milestone"),
                "share": str(share),
                "payouts": [],
            }
        )

    @activity.defn(name=c.ACTIVITY_NOTIFY)
    async def notify(self, step: StepInput) -> StepResult:
        self.calls["notify"].append(step)
        return StepResult(output={"notification_id": step.idempotency_key})

    @activity.defn(name=c.ACTIVITY_CLOSE_ORDER)
    async def close_order(self, step: StepInput) -> StepResult:
        self.calls["close_order"].append(step)
        return StepResult()

    @activity.defn(name=c.ACTIVITY_RECORD_WAITING)
    async def record_waiting(self, step: WaitingStep) -> None:
        if self.slow_record_waiting:
            # Past the local activity's timeout on every try: it ends timed out.
            await asyncio.sleep((c.RECORD_WAITING_TIMEOUT * 2).total_seconds())
        if self.hang_record_waiting:
            self.waiting.append(step)  # seen, so a test knows the write is under way
            await asyncio.Event().wait()  # until the order cancels it
        if self.fail_record_waiting:
            raise ApplicationError("read model unavailable", type="DatabaseUnavailable")
        self.waiting.append(step)


async def _heartbeat_until_cancelled() -> None:
    """An activity that never finishes on its own: it ends when Temporal cancels it."""
    while True:
        activity.heartbeat()
        await asyncio.sleep(0.2)


def _dispatch_handoff(answer: Any, call: int) -> dict[str, Any] | None:
    """Dispatch that asks people: an offer that lapses, an offer declined, then a
    dispatcher's pick, which completes it."""
    if isinstance(answer, dict) and answer.get("answer") == "assign":
        return None
    if call == 1:
        return {"answers": ["accept", "decline"], "assignee_user": "e_slow", "within": "PT2S"}
    if call == 2:
        return {"answers": ["accept", "decline"], "assignee_user": ENGINEER_USER, "within": "PT1H"}
    return {"answers": ["assign"], "assignee_role": "dispatcher"}
