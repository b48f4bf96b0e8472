"""Dispatch policies as data: hard filters, a score and a fallback ladder (pure models).

A policy is stored versioned (servflow.dispatch.models.DispatchPolicy): saving a key again
makes the next version, and a dispatch uses the latest version of the policy its node
names (`params.policy`), else the latest policy for its pipeline, else for its region.
Without any, the node's own skills and radius form the one rung. The last rung of every
ladder is a dispatcher's queue, so an order never fails for want of an engineer.

Example (docs/dispatch.md explains every field):

    {
      "key": "huabei-standard", "name": "华北标准派单", "region": "huabei",
      "skills": ["refrigeration"], "min_level": 1,
      "filters": {"certificate": true, "shift": true, "leave": true, "capacity": true},
      "weights": {"distance": 0.5, "load": 0.2, "skill_level": 0.1,
                  "first_time_fix": 0.1, "urgency": 0.1},
      "ladder": [
        {"name": "in_region_200km", "radius_km": 200},
        {"name": "in_region_400km", "radius_km": 400},
        {"name": "neighbours_400km", "radius_km": 400, "regions": "neighbours"}
      ],
      "neighbours": {"huabei": ["huadong"]},
      "accept_within": "PT15M", "top_n": 5, "dispatcher_role": "dispatcher"
    }
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from servflow.platform.errors import Invalid
from workflows.durations import parse_duration

POLICY_KEY = r"^[a-z][a-z0-9_-]{1,63}$"
RUNG_NAME = r"^[a-z][a-z0-9_]{0,62}$"
QUEUE_RUNG = "dispatcher_queue"
"""The rung after the last: the order waits for a dispatcher."""


class Filters(BaseModel):
    """The hard filters: an engineer failing one is excluded (and counted, with the reason)."""

    model_config = ConfigDict(extra="forbid")

    certificate: bool = Field(default=True, description="a certificate valid on the job date")
    shift: bool = Field(default=True, description="on shift at dispatch time")
    leave: bool = Field(default=True, description="not on leave on the job date")
    capacity: bool = Field(default=True, description="open jobs below the engineer's maximum")


class Weights(BaseModel):
    """How much each part of the score counts; each part is between 0 and 1."""

    model_config = ConfigDict(extra="forbid")

    distance: float = Field(default=0.5, ge=0, le=10)
    load: float = Field(default=0.2, ge=0, le=10)
    skill_level: float = Field(default=0.1, ge=0, le=10)
    first_time_fix: float = Field(default=0.1, ge=0, le=10)
    urgency: float = Field(default=0.1, ge=0, le=10)


class Rung(BaseModel):
    """One step of the fallback ladder: where to look, and how far."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=RUNG_NAME)
    radius_km: Decimal | None = Field(default=None, gt=0, le=20000)
    regions: Literal["own", "neighbours", "any"] = "own"


class Policy(BaseModel):
    """A dispatch policy (the `body` of one stored version)."""

    model_config = ConfigDict(extra="forbid")

    key: str = Field(pattern=POLICY_KEY)
    name: str = Field(default="", max_length=200)
    region: str = Field(default="", max_length=64, description="region code it applies to")
    pipeline: str = Field(default="", max_length=64, description="definition key it applies to")
    skills: list[str] = Field(default_factory=list, max_length=20)
    min_level: int = Field(default=1, ge=1, le=10)
    filters: Filters = Field(default_factory=Filters)
    weights: Weights = Field(default_factory=Weights)
    ladder: list[Rung] = Field(min_length=1, max_length=10)
    neighbours: dict[str, list[str]] = Field(default_factory=dict)
    accept_within: str | None = None
    top_n: int = Field(default=5, ge=1, le=50)
    dispatcher_role: Literal["dispatcher", "region_manager"] = "dispatcher"

    @field_validator("accept_within")
    @classmethod
    def _duration(cls, value: str | None) -> str | None:
        if value is not None:
            parse_duration(value)
        return value

    @model_validator(mode="after")
    def _unique_rungs(self) -> Policy:
        names = [r.name for r in self.ladder]
        if len(set(names)) != len(names) or QUEUE_RUNG in names:
            raise ValueError(f"rung names repeat, or use '{QUEUE_RUNG}' (always the last rung)")
        return self


def parse_policy(body: object) -> Policy:
    """The policy `body` describes.

    Raises:
        Invalid: naming each wrong field as `body.<path>`.
    """
    try:
        return Policy.model_validate(body)
    except ValueError as err:
        errors = getattr(err, "errors", None)
        detail = {}
        if callable(errors):
            for e in errors():
                path = ".".join(str(p) for p in e["loc"])
                detail[f"body.{path}" if path else "body"] = e["msg"]
        first = next(iter(detail.items()), ("body", str(err)))
        raise Invalid(f"{first[0]}: {first[1]}", errors=detail or {"body": str(err)}) from None


def node_policy(
    *, skills: list[str], radius_km: Decimal | None, cross_region: bool, accept_within: str | None
) -> Policy:
    """The policy of a node that names none and finds none stored: its own skills and
    radius as the one rung (nearest first, as before policies), then a dispatcher."""
    rung = Rung(name="node", radius_km=radius_km, regions="any" if cross_region else "own")
    return Policy(
        key="node",
        skills=skills,
        weights=Weights(distance=1, load=0, skill_level=0, first_time_fix=0, urgency=0),
        filters=Filters(shift=False, leave=False),
        ladder=[rung],
        accept_within=accept_within,
    )
