"""The parts transfer saga and the scheduled safety-stock scan (deterministic, no I/O).

A transfer reserves at the source, waits for the source warehouse to ship it (carrier and
tracking number, the `ship` Update), waits for the destination to receive it (`receive`),
and ends with the part held at the destination for the order line; consumption happens at
the order's service step. A cancel at any point (the `cancel` signal, or Temporal's own
cancel, e.g. the order's) compensates what was done, in reverse: the source's reservation
released, shipped units returned to the source. Every step is one idempotent activity
(its journal movements are keyed by the transfer's code), so a worker killed mid-step and
replaced repeats nothing.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from workflows import constants as c
    from workflows.contracts import (
        Cancellation,
        TransferInput,
        TransferReceipt,
        TransferShipment,
        TransferState,
        TransferStep,
    )

SCAN_TIMEOUT = timedelta(minutes=5)
STEP_HEARTBEAT_TIMEOUT = timedelta(seconds=5)
"""A step is one short transaction: a worker that died in one is noticed after this (no
heartbeat), not after the 30 s start-to-close; a step retried needlessly repeats nothing."""


@workflow.defn(name=c.TRANSFER_WORKFLOW)
class TransferWorkflow:
    @workflow.init
    def __init__(self, input: TransferInput) -> None:
        self._input = input
        self._state = TransferState(
            code=input.code,
            status="requested",
            source=input.source,
            destination=input.destination,
            sku=input.sku,
            qty=input.qty,
            order_id=input.order_id,
        )
        self._shipment: TransferShipment | None = None
        self._receipt: TransferReceipt | None = None
        self._cancel: Cancellation | None = None

    @workflow.run
    async def run(self, input: TransferInput) -> TransferState:
        try:
            await self._step("open")
            await self._until(lambda: self._shipment is not None)
            assert self._shipment is not None
            await self._step(
                "ship",
                carrier=self._shipment.carrier,
                tracking_no=self._shipment.tracking_no,
                actor=self._shipment.actor,
            )
            await self._until(lambda: self._receipt is not None)
            assert self._receipt is not None
            await self._step("receive", actor=self._receipt.actor)
        except _CancelRequested:
            await self._compensate()
        except asyncio.CancelledError:
            # Cancelled through Temporal (the order was): compensate, then end cancelled.
            await self._compensate()
            raise
        except ActivityError as err:
            self._state.status, self._state.error = "failed", str(err.cause or err)
            if self._state.steps:
                await self._compensate()
                self._state.status = "failed"
            await workflow.wait_condition(workflow.all_handlers_finished)
            raise ApplicationError(
                f"transfer {input.code} failed: {self._state.error}",
                type=c.ERROR_BUSINESS_RULE,
                non_retryable=True,
            ) from err
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._state

    async def _until(self, ready: object) -> None:
        await workflow.wait_condition(lambda: bool(ready()) or self._cancel is not None)  # type: ignore[operator]
        if self._cancel is not None:
            raise _CancelRequested

    async def _step(self, action: str, **fields: str) -> None:
        if self._cancel is not None and action != "cancel":
            raise _CancelRequested
        result = await workflow.execute_activity(
            c.ACTIVITY_INVENTORY_TRANSFER,
            TransferStep(code=self._input.code, action=action, transfer=self._input, **fields),  # type: ignore[arg-type]
            result_type=TransferState,
            start_to_close_timeout=c.ACTIVITY_START_TO_CLOSE,
            heartbeat_timeout=STEP_HEARTBEAT_TIMEOUT,
            retry_policy=c.ACTIVITY_RETRY,
        )
        steps = [*self._state.steps, action]
        self._state = result.model_copy(update={"steps": steps})

    async def _compensate(self) -> None:
        reason = self._cancel.reason if self._cancel else "cancelled"
        # Shielded: the compensation runs to its end even though the run was cancelled.
        await asyncio.shield(
            asyncio.ensure_future(self._step("cancel", reason=reason, actor=self._by()))
        )

    def _by(self) -> str:
        return self._cancel.by if self._cancel else ""

    @workflow.update(name=c.UPDATE_TRANSFER_SHIP)
    async def ship(self, shipment: TransferShipment) -> TransferState:
        self._shipment = shipment
        await workflow.wait_condition(lambda: self._state.status != "reserved")
        return self._state

    @ship.validator
    def _validate_ship(self, shipment: TransferShipment) -> None:
        if self._state.status != "reserved" or self._shipment is not None or self._cancel:
            raise ApplicationError(
                f"transfer {self._input.code} is {self._state.status}: nothing to ship",
                type="TransferStepRefused",
                non_retryable=True,
            )

    @workflow.update(name=c.UPDATE_TRANSFER_RECEIVE)
    async def receive(self, receipt: TransferReceipt) -> TransferState:
        self._receipt = receipt
        await workflow.wait_condition(lambda: self._state.status != "shipped")
        return self._state

    @receive.validator
    def _validate_receive(self, receipt: TransferReceipt) -> None:
        if self._state.status != "shipped" or self._receipt is not None or self._cancel:
            raise ApplicationError(
                f"transfer {self._input.code} is {self._state.status}: nothing to receive",
                type="TransferStepRefused",
                non_retryable=True,
            )

    @workflow.signal(name=c.SIGNAL_TRANSFER_CANCEL)
    def cancel(self, request: Cancellation) -> None:
        if self._cancel is None:
            self._cancel = request

    @workflow.query(name=c.QUERY_TRANSFER)
    def state(self) -> TransferState:
        return self._state


class _CancelRequested(Exception):
    """The `cancel` signal arrived: stop waiting and compensate."""


@workflow.defn(name=c.INVENTORY_SCAN_WORKFLOW)
class InventoryScanWorkflow:
    """What the Temporal Schedule runs: one scan of every safety level (and expired
    reservations). A Schedule, not a loop, so a missed run is visible and skipped runs
    never pile up."""

    @workflow.run
    async def run(self) -> int:
        result: int = await workflow.execute_activity(
            c.ACTIVITY_INVENTORY_SCAN,
            start_to_close_timeout=SCAN_TIMEOUT,
            retry_policy=c.ACTIVITY_RETRY,
            result_type=int,
        )
        return result
