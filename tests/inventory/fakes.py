"""Stand-in inventory activities for tests about the parts node and the transfer saga as
workflows (the real ones are tested against the store in this package)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from temporalio import activity

from workflows import constants as c
from workflows.contracts import StepInput, StepResult, TransferInput, TransferState, TransferStep

STATUS_AFTER = {"open": "reserved", "ship": "shipped", "receive": "received", "cancel": "cancelled"}


class FakeInventory:
    def __init__(self) -> None:
        self.calls: dict[str, list[Any]] = defaultdict(list)

    def all(self) -> list[Any]:
        return [self.source_parts, self.consume_parts, self.inventory_transfer, self.scan]

    @activity.defn(name=c.ACTIVITY_SOURCE_PARTS)
    async def source_parts(self, step: StepInput) -> StepResult:
        self.calls["source_parts"].append(step)
        transfer = TransferInput(
            code=f"{step.order_id}.PAD.0.{step.visit}",
            order_id=step.order_id,
            line_key=f"{step.order_id}/PAD/0",
            sku="PAD",
            qty=2,
            source="WH-WH",
            destination="WH-ZZ",
        )
        output = {
            "destination": "WH-ZZ",
            "reserved": [],
            "transfers": [transfer.model_dump(mode="json")],
            "shortfall": [],
            "reason": "PAD: WH-WH nearest able to fill 2",
        }
        return StepResult(output=output, summary="0 reserved, 1 transfers, 0 short")

    @activity.defn(name=c.ACTIVITY_CONSUME_PARTS)
    async def consume_parts(self, step: StepInput) -> StepResult:
        self.calls["consume_parts"].append(step)
        return StepResult(output={"consumed": [{"sku": "PAD", "qty": 2, "warehouse": "WH-ZZ"}]})

    @activity.defn(name=c.ACTIVITY_INVENTORY_TRANSFER)
    async def inventory_transfer(self, step: TransferStep) -> TransferState:
        self.calls["inventory_transfer"].append(step)
        t = step.transfer
        return TransferState(
            code=t.code,
            status=STATUS_AFTER[step.action],  # type: ignore[arg-type]
            source=t.source,
            destination=t.destination,
            sku=t.sku,
            qty=t.qty,
            carrier=step.carrier,
            tracking_no=step.tracking_no,
            order_id=t.order_id,
        )

    @activity.defn(name=c.ACTIVITY_INVENTORY_SCAN)
    async def scan(self) -> int:
        self.calls["scan"].append(None)
        return 3


PARTS_PIPELINE = [
    {
        "id": "diagnose",
        "type": "task",
        "assignee": {"kind": "user", "value": "engineer_bj_01"},
        "next": "parts",
        "form": [{"name": "parts_needed", "type": "parts", "label": "parts"}],
    },
    {
        "id": "parts",
        "type": "parts",
        "next": "repair",
        "params": {"parts_from": ["diagnose.parts_needed"]},
        "sla": {"within": "P3D", "notify": ["dispatcher"]},
    },
    {
        "id": "repair",
        "type": "task",
        "assignee": {"kind": "user", "value": "engineer_bj_01"},
        "next": "consume",
        "form": [{"name": "parts_used", "type": "parts", "label": "parts"}],
    },
    {
        "id": "consume",
        "type": "consume",
        "next": "end",
        "params": {"parts_from": ["repair.parts_used"]},
    },
    {"id": "end", "type": "end"},
]
