"""Nodes whose work is an activity: report, dispatch, settlement, notify."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from workflows import constants as c
from workflows.durations import parse_duration
from workflows.nodes.base import DEFAULT_CHANNEL, BaseNode, NotifyChannel, Runtime, node_type


class _AutomaticNode(BaseNode):
    kind = "pipeline"

    async def execute(self, rt: Runtime) -> str | None:
        await rt.run_activity(self)
        return self.next


class ReportParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    fault: str = Field(default="", description="fault code, e.g. ac_leak; empty: from variables")
    refuse_duplicates: bool = Field(
        default=True, description="refuse an order for a customer and fault that is still open"
    )
    duplicate_window: str = Field(
        default="P30D",
        description="ISO-8601 duration: an open order for the same customer and fault started"
        " this long ago or less is a duplicate (409 at start, or merged when asked)",
    )

    @field_validator("duplicate_window")
    @classmethod
    def _window(cls, value: str) -> str:
        parse_duration(value)
        return value


@node_type("report")
class ReportNode(_AutomaticNode):
    """Registers the order and its customer (creating the customer when new)."""

    activity = c.ACTIVITY_REPORT
    status_on_complete = "reported"
    places_order = True
    outputs = ("order_no", "customer_id", "fault", "region", "region_name", "outlet")
    label_zh, label_en = "报修登记", "Report"
    type: Literal["report"]
    params: ReportParams = Field(default_factory=ReportParams)


POLICY_KEY = r"^$|^[a-z][a-z0-9_-]{1,63}$"
MIN_ACCEPT_WITHIN = timedelta(minutes=1)


class DispatchParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    skills: list[str] = Field(default_factory=list, description="certificates required")
    radius_km: Decimal | None = Field(default=None, gt=0, description="farthest engineer")
    strategy: Literal["nearest", "least_loaded"] = "nearest"
    cross_region: bool = Field(default=False, description="may pick from other regions")
    policy: str = Field(
        default="",
        pattern=POLICY_KEY,
        description="dispatch policy key (its latest version); empty: the pipeline's or the"
        " region's policy, else this node's skills and radius, then a dispatcher",
    )
    accept_within: str | None = Field(
        default=None,
        description="ISO-8601 duration the engineer has to accept (overrides the policy);"
        " a decline or the timeout goes to the next candidate",
    )

    @field_validator("accept_within")
    @classmethod
    def _duration(cls, value: str | None) -> str | None:
        if value is not None and parse_duration(value) < MIN_ACCEPT_WITHIN:
            raise ValueError("give the engineer at least one minute (PT1M)")
        return value


@node_type("dispatch")
class DispatchNode(_AutomaticNode):
    """Picks the outlet and engineer for the job, and records why."""

    activity = c.ACTIVITY_DISPATCH
    status_on_complete = "dispatched"
    assigns_engineer = True
    outputs = ("engineer_id", "outlet_id", "distance_km", "reason")
    label_zh, label_en = "智能派单", "Dispatch"
    type: Literal["dispatch"]
    params: DispatchParams = Field(default_factory=DispatchParams)

    def engineer_in(self, output: dict[str, Any]) -> str | None:
        engineer = output.get("engineer_user_id") or output.get("engineer_id")
        return str(engineer) if engineer is not None else None


PARTS_SOURCE = r"^[A-Za-z][A-Za-z0-9_]{0,63}\.[a-z][a-z0-9_]{0,62}$"
"""`<node id>.<form field>`: a human node's field of type parts."""


class SettlementParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    milestone: str = Field(default="completion", min_length=1, max_length=64)
    share: Decimal = Field(default=Decimal("1"), gt=0, le=1, description="part of the job paid")
    currency: str = Field(default="CNY", pattern=r"^[A-Z]{3}$")
    parts_from: list[Annotated[str, Field(pattern=PARTS_SOURCE)]] = Field(
        default_factory=list,
        max_length=20,
        description="parts fields priced, as node.field (e.g. service.parts_used); nothing"
        " else in the order's variables adds money",
    )
    job_type: str = Field(
        default="",
        pattern=r"^$|^[a-z][a-z0-9_]{0,63}$",
        description="price from the price rules of this job type; empty: the region's table",
    )
    mode: Literal["realtime", "periodic"] = Field(
        default="realtime", description="periodic: paid out by the monthly settlement run"
    )
    nps_from: str = Field(
        default="",
        pattern=r"^$|^" + PARTS_SOURCE[1:],
        description="the NPS score (0-10) deduction rules read, as node.field",
    )


@node_type("settlement")
class SettlementNode(_AutomaticNode):
    """Prices the job from the region's table and records this milestone's payouts."""

    activity = c.ACTIVITY_SETTLEMENT
    status_on_complete = "settled"
    outputs = ("amount", "currency", "milestone", "share", "payouts")
    label_zh, label_en = "里程碑结算", "Milestone settlement"
    type: Literal["settlement"]
    params: SettlementParams = Field(default_factory=SettlementParams)


class NotifyParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channel: NotifyChannel = DEFAULT_CHANNEL
    to_roles: list[str] = Field(default_factory=list)
    to_assignee: bool = Field(default=False, description="also tell the dispatched engineer")
    message: str = Field(min_length=1, max_length=2000, description="text; {order_id} etc.")


@node_type("notify")
class NotifyNode(_AutomaticNode):
    """Sends a message (WeCom by default) to roles or the engineer."""

    activity = c.ACTIVITY_NOTIFY
    outputs = ("notification_id",)
    label_zh, label_en = "通知", "Notify"
    type: Literal["notify"]
    params: NotifyParams

    def problems(self):  # type: ignore[no-untyped-def]
        yield from super().problems()
        if not self.params.to_roles and not self.params.to_assignee:
            yield "notify_no_recipient", "params.to_roles", "name at least one role or the assignee"
