"""sla_clock and sla_escalate without a database, for workflow tests and recorded histories:
the real clock logic (servflow.sla.service) on clocks kept in memory."""

from __future__ import annotations

from typing import Any

from temporalio import activity

from servflow.sla import service
from servflow.sla.models import SlaClock
from servflow.sla.rules import PolicyBody
from workflows import constants as c
from workflows.business_time import SEVEN_BY_TWELVE, BusinessCalendar
from workflows.contracts import SlaClockParams, SlaLevelPlan, StepInput, StepResult

ONSITE = PolicyBody.model_validate(
    {
        "name": "上门服务 7×12",
        "rules": [
            {
                "within": "PT4H",
                "ladder": [
                    {"at": 80, "action": "notify", "to_assignee": True},
                    {"at": 100, "action": "notify", "to_roles": ["dispatcher", "region_manager"]},
                    {"at": 100, "after": "PT2H", "action": "raise_priority"},
                    {"at": 150, "action": "reassign", "reassign_to": "engineer_bj_02"},
                ],
            }
        ],
    }
)
"""The policy `onsite` as the fakes know it."""


class FakeSlaClocks:
    def __init__(self, calendar: BusinessCalendar = SEVEN_BY_TWELVE) -> None:
        self.calendar = calendar
        self.clocks: dict[tuple[str, str, int], SlaClock] = {}
        self.events: list[SlaClockParams] = []
        self.levels: list[SlaLevelPlan] = []

    def all(self) -> list[Any]:
        return [self.clock, self.escalate]

    @activity.defn(name=c.ACTIVITY_SLA_CLOCK)
    async def clock(self, step: StepInput) -> StepResult:
        params = SlaClockParams.model_validate(step.params)
        self.events.append(params)
        key = (step.order_id, step.node_id, step.visit)
        if key not in self.clocks:
            body = ONSITE if params.policy == "onsite" else None
            terms, _ = service.terms_for(step, params, body, 1)
            self.clocks[key] = service.new_clock(
                step,
                params,
                terms=terms,
                calendar_key="cn-7x12",
                calendar=self.calendar,
                org_path="/hq/huabei",
                region="huabei",
            )
        service.apply_event(self.clocks[key], params)
        return StepResult(output=service.plan_of(self.clocks[key]).model_dump(mode="json"))

    @activity.defn(name=c.ACTIVITY_SLA_ESCALATE)
    async def escalate(self, step: StepInput) -> StepResult:
        level = SlaLevelPlan.model_validate(step.params["level"])
        self.levels.append(level)
        return StepResult(output={"level": level.index + 1, "action": level.action})
