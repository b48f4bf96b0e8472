"""The parts node: the diagnosis's parts start sourcing, the order waits on each transfer
(a child saga) before the repair visit, and the consume node takes the parts used."""

from __future__ import annotations

import asyncio
import uuid

from temporalio.client import Client

from tests.inventory.fakes import PARTS_PIPELINE, FakeInventory
from tests.workflows.fakes import FakeActivities
from tests.workflows.support import definition, start_order, submit, wait_for_step, wait_until
from worker import build_worker
from workflows import constants as c
from workflows.contracts import (
    Cancellation,
    TransferReceipt,
    TransferShipment,
    TransferState,
)
from workflows.interpreter import WorkOrderWorkflow

PARTS = {"parts_needed": [{"sku": "PAD", "qty": 2}]}


async def reserved(transfer) -> None:
    for _ in range(300):
        state = await transfer.query(c.QUERY_TRANSFER, result_type=TransferState)
        if state.status == "reserved":
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the transfer never reserved its source")


async def test_the_order_waits_for_its_transfer_before_the_repair(client: Client):
    queue, fakes, inventory = f"parts-{uuid.uuid4()}", FakeActivities(), FakeInventory()
    async with build_worker(client, task_queue=queue, activities=[*fakes.all(), *inventory.all()]):
        handle = await start_order(client, definition(PARTS_PIPELINE), queue)
        await wait_for_step(handle, "diagnose")
        await submit(handle, "diagnose", PARTS)
        waiting = await wait_until(
            handle, lambda s: bool(s.active and s.active[0].child_workflow_id)
        )
        assert waiting.active[0].node_id == "parts"
        transfer = client.get_workflow_handle(waiting.active[0].child_workflow_id)
        await reserved(transfer)
        shipped = await transfer.execute_update(
            c.UPDATE_TRANSFER_SHIP,
            TransferShipment(carrier="SF", tracking_no="SF1"),
            result_type=TransferState,
        )
        assert shipped.status == "shipped"
        still = await wait_until(handle, lambda s: True)
        assert [a.node_id for a in still.active] == ["parts"]  # not before it arrives
        await transfer.execute_update(
            c.UPDATE_TRANSFER_RECEIVE, TransferReceipt(), result_type=TransferState
        )
        await wait_for_step(handle, "repair")
        await submit(handle, "repair", {"parts_used": [{"sku": "PAD", "qty": 2}]})
        result = await handle.result()
    assert result.status == "completed"
    actions = [s.action for s in inventory.calls["inventory_transfer"]]
    assert actions == ["open", "ship", "receive"]
    assert len(inventory.calls["consume_parts"]) == 1
    assert result.variables["parts"]["transfers"][0]["source"] == "WH-WH"


async def test_cancelling_the_order_compensates_its_transfer(client: Client):
    queue, fakes, inventory = f"parts-{uuid.uuid4()}", FakeActivities(), FakeInventory()
    async with build_worker(client, task_queue=queue, activities=[*fakes.all(), *inventory.all()]):
        handle = await start_order(client, definition(PARTS_PIPELINE), queue)
        await wait_for_step(handle, "diagnose")
        await submit(handle, "diagnose", PARTS)
        waiting = await wait_until(
            handle, lambda s: bool(s.active and s.active[0].child_workflow_id)
        )
        transfer = client.get_workflow_handle(waiting.active[0].child_workflow_id)
        await reserved(transfer)
        await transfer.execute_update(
            c.UPDATE_TRANSFER_SHIP,
            TransferShipment(carrier="SF", tracking_no="SF1"),
            result_type=TransferState,
        )
        await handle.signal(
            WorkOrderWorkflow.cancel, Cancellation(reason="customer cancelled", by="dispatcher")
        )
        result = await handle.result()
    assert result.status == "cancelled"
    actions = [s.action for s in inventory.calls["inventory_transfer"]]
    assert actions == ["open", "ship", "cancel"]
