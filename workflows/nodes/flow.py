"""Nodes that shape the flow: decision, parallel fork and join, timer, sub-pipeline, end."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from workflows.durations import parse_duration
from workflows.nodes.base import NODE_ID, BaseNode, Runtime, node_type


class Branch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    when: str = Field(min_length=1, description="expression, e.g. service.parts_needed")
    next: str
    label: str = ""


@node_type("decision")
class DecisionNode(BaseNode):
    """Takes the first branch whose `when` is true, else `default`."""

    transient = True
    label_zh, label_en = "条件分支", "Decision"
    type: Literal["decision"]
    branches: list[Branch] = Field(min_length=1)
    default: str | None = Field(default=None, description="taken when no branch is true")

    def successors(self) -> Iterator[tuple[str, str]]:
        for i, branch in enumerate(self.branches):
            yield f"branches[{i}].next", branch.next
        if self.default is not None:
            yield "default", self.default

    def expressions(self) -> Iterator[tuple[str, str]]:
        yield from super().expressions()
        for i, branch in enumerate(self.branches):
            yield f"branches[{i}].when", branch.when

    def needs_next(self) -> bool:
        return False

    def problems(self):  # type: ignore[no-untyped-def]
        yield from super().problems()
        if self.next is not None:
            yield "decision_has_next", "next", "a decision moves by its branches and default"

    async def execute(self, rt: Runtime) -> str | None:
        for branch in self.branches:
            if rt.evaluate(branch.when):
                return branch.next
        if self.default is None:
            raise LookupError(f"decision '{self.id}': no branch is true and there is no default")
        return self.default


@node_type("parallel")
class ParallelNode(BaseNode):
    """Runs every branch at once; all of them meet again at `join`."""

    transient = True
    label_zh, label_en = "并行分支", "Parallel fork"
    type: Literal["parallel"]
    branches: list[str] = Field(min_length=2, description="first node of each branch")
    join: str = Field(pattern=NODE_ID, description="the join node where the branches meet")

    def successors(self) -> Iterator[tuple[str, str]]:
        for i, start in enumerate(self.branches):
            yield f"branches[{i}]", start

    def needs_next(self) -> bool:
        return False

    def problems(self):  # type: ignore[no-untyped-def]
        yield from super().problems()
        if self.next is not None:
            yield "parallel_has_next", "next", "a parallel fork continues after its join's next"

    async def execute(self, rt: Runtime) -> str | None:
        await rt.run_branches(self.branches, self.join)
        return self.join


@node_type("join")
class JoinNode(BaseNode):
    """Where the branches of one parallel fork meet; waits for all of them."""

    transient = True
    label_zh, label_en = "汇合", "Join"
    type: Literal["join"]

    async def execute(self, rt: Runtime) -> str | None:
        return self.next


class TimerParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    duration: str = Field(description="ISO-8601 duration, e.g. PT2H")

    @field_validator("duration")
    @classmethod
    def _duration(cls, value: str) -> str:
        parse_duration(value)
        return value


@node_type("timer")
class TimerNode(BaseNode):
    """Waits for a span of time (a durable timer: restarts do not reset it)."""

    label_zh, label_en = "定时等待", "Timer"
    type: Literal["timer"]
    params: TimerParams

    async def execute(self, rt: Runtime) -> str | None:
        await rt.sleep(parse_duration(self.params.duration))
        return self.next


class SubpipelineParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    definition: str = Field(min_length=1, description="key of the pipeline to run")
    inputs: dict[str, str] = Field(
        default_factory=dict, description="child variable -> expression over this order"
    )


@node_type("subpipeline")
class SubpipelineNode(BaseNode):
    """Runs another published pipeline as a child order; its variables become the output."""

    label_zh, label_en = "子流程", "Sub-pipeline"
    type: Literal["subpipeline"]
    params: SubpipelineParams

    def expressions(self) -> Iterator[tuple[str, str]]:
        yield from super().expressions()
        for name, source in self.params.inputs.items():
            yield f"params.inputs.{name}", source

    async def execute(self, rt: Runtime) -> str | None:
        inputs = {name: rt.evaluate(src) for name, src in self.params.inputs.items()}
        await rt.run_child(self, self.params.definition, inputs)
        return self.next


@node_type("end")
class EndNode(BaseNode):
    """Finishes the order."""

    status_on_complete = "completed"
    transient = True
    label_zh, label_en = "结束", "End"
    type: Literal["end"]

    def needs_next(self) -> bool:
        return False

    def problems(self):  # type: ignore[no-untyped-def]
        yield from super().problems()
        if self.next is not None:
            yield "end_has_next", "next", "an end node has no next"

    async def execute(self, rt: Runtime) -> str | None:
        return None
