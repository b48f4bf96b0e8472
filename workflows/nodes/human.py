"""Nodes a person completes through the `submit_step` Update: service, signoff, task."""

from __future__ import annotations

from collections import Counter
from typing import Literal

from pydantic import Field

from workflows.forms import FormField
from workflows.nodes.base import BaseNode, Runtime, node_type


class _HumanNode(BaseNode):
    kind = "human"
    human = True
    form: list[FormField] = Field(default_factory=list)

    def form_fields(self) -> list[FormField]:
        return self.form

    def problems(self):  # type: ignore[no-untyped-def]
        yield from super().problems()
        names = [f.name for f in self.form]
        for name, count in Counter(names).items():
            if count > 1:
                repeat = names.index(name, names.index(name) + 1)
                yield (
                    "form_duplicate_field",
                    f"form[{repeat}].name",
                    (f"form field '{name}' appears {count} times"),
                )

    async def execute(self, rt: Runtime) -> str | None:
        await rt.wait_for_step(self)
        return self.next


@node_type("service")
class ServiceNode(_HumanNode):
    """The engineer's on-site work, reported from the field app."""

    status_on_complete = "serviced"
    label_zh, label_en = "上门服务", "On-site service"
    type: Literal["service"]


@node_type("signoff")
class SignoffNode(_HumanNode):
    """The customer's acceptance: signature, photos, rating. The customer may complete it
    themselves through their sign-off link (docs/channels.md)."""

    status_on_complete = "signed_off"
    customer_completes = True
    label_zh, label_en = "客户签收", "Customer sign-off"
    type: Literal["signoff"]


@node_type("task")
class TaskNode(_HumanNode):
    """Any other human step: approval, callback, inspection."""

    label_zh, label_en = "人工任务", "Task"
    type: Literal["task"]
