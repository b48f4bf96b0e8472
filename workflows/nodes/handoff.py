"""The human step an automatic step waits on when its activity hands off to a person.

Not a node type of the format (not registered): the interpreter builds one at run time from
the activity's `Handoff`, so the step is submitted, assigned, listed and reassigned exactly
as a drawn human step is.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from workflows.durations import parse_duration
from workflows.forms import FormField
from workflows.nodes.base import AssigneeRule, BaseNode, Runtime

HANDOFF_SUFFIX = ".handoff"
"""A handoff waits as the human step `<node id>.handoff` (no drawn node id has a dot)."""
REASON_LENGTH = 500
CHOICE_LENGTH = 64


class HandoffStep(BaseNode):
    """A person answers what an automatic step asked: one of `answers`, a reason, a choice."""

    human = True
    type: Literal["handoff"] = "handoff"
    answers: list[str]
    within: str | None = None

    def form_fields(self) -> list[FormField]:
        return [
            FormField(name="answer", type="choice", choices=list(self.answers)),
            FormField(name="reason", type="text", required=False, max_length=REASON_LENGTH),
            FormField(name="choice", type="text", required=False, max_length=CHOICE_LENGTH),
        ]

    @property
    def time_limit(self) -> timedelta | None:
        return parse_duration(self.within) if self.within else None

    async def execute(self, rt: Runtime) -> str | None:
        raise NotImplementedError("a handoff step is waited on by the interpreter")


def handoff_step(
    node_id: str,
    *,
    answers: list[str],
    assignee_user: str,
    assignee_role: str,
    within: str | None,
    name: str,
) -> HandoffStep:
    """The human step `<node_id>.handoff` (built without the id pattern check: the dot
    keeps it apart from every drawn node), for a user or else everyone with a role."""
    if assignee_user:
        rule = AssigneeRule(kind="user", value=assignee_user)
    else:
        rule = AssigneeRule(kind="role", value=assignee_role)
    return HandoffStep.model_construct(
        id=f"{node_id}{HANDOFF_SUFFIX}",
        type="handoff",
        name=name,
        description="",
        next=None,
        sla=None,
        assignee=rule,
        answers=list(answers),
        within=within,
    )
