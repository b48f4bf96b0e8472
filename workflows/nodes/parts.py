"""Nodes of the parts flow: `parts` sources the parts a step named and waits for their
transfers (each a child transfer saga, with the node's own SLA); `consume` takes the parts
used out of stock, once."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, Literal, Protocol, cast

from pydantic import BaseModel, ConfigDict, Field

from workflows import constants as c
from workflows.nodes.automatic import PARTS_SOURCE
from workflows.nodes.base import BaseNode, Runtime, node_type


class ChildRuntime(Runtime, Protocol):
    """The runtime's generic construct for a node with a saga of its own: run a registered
    workflow as a child of the order and wait for its result."""

    async def run_workflow(
        self, node: BaseNode, workflow_type: str, arg: dict[str, Any], *, workflow_id: str
    ) -> dict[str, Any]: ...


class PartsParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    parts_from: list[Annotated[str, Field(pattern=PARTS_SOURCE)]] = Field(
        min_length=1,
        max_length=20,
        description="parts fields sourced, as node.field (e.g. diagnose.parts_needed)",
    )


@node_type("parts")
class PartsNode(BaseNode):
    """Sources the parts a step asked for (the engineer's van, the job's store, else the
    warehouse sourcing picks) and waits until every transfer has arrived."""

    kind = "pipeline"
    activity = c.ACTIVITY_SOURCE_PARTS
    outputs = ("destination", "reserved", "transfers", "shortfall", "reason")
    label_zh, label_en = "备件调拨", "Parts sourcing"
    type: Literal["parts"]
    params: PartsParams

    async def execute(self, rt: Runtime) -> str | None:
        output = await rt.run_activity(self)
        transfers = [t for t in output.get("transfers", []) if isinstance(t, dict)]
        runtime = cast(ChildRuntime, rt)
        await asyncio.gather(
            *(
                runtime.run_workflow(
                    self, c.TRANSFER_WORKFLOW, transfer, workflow_id=str(transfer["code"])
                )
                for transfer in transfers
            )
        )
        return self.next


@node_type("consume")
class ConsumeNode(BaseNode):
    """Takes the parts a step reported used out of stock, once: the engineer's van first,
    else the order's reservation."""

    kind = "pipeline"
    activity = c.ACTIVITY_CONSUME_PARTS
    outputs = ("consumed",)
    label_zh, label_en = "备件出库", "Consume parts"
    type: Literal["consume"]
    params: PartsParams

    async def execute(self, rt: Runtime) -> str | None:
        await rt.run_activity(self)
        return self.next
