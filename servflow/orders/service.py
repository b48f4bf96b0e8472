"""Work orders: where an order belongs, what it runs, and who may see or touch it.

The pure parts (ids, fingerprints, variable checks) and the store parts run without
Temporal; the routes in api.routes.orders add the Temporal calls.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections import deque
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, false, func, or_, select
from sqlalchemy.orm import Session, selectinload

from api.deps import Principal
from servflow.billing.models import Settlement
from servflow.definitions import repo as definition_repo
from servflow.dispatch.repo import get_engineer_by_user
from servflow.orders.models import CLOSED_STATUSES, WorkOrder, WorkOrderStep
from servflow.org import repo as org
from servflow.org.models import OrgUnit
from servflow.platform.errors import Forbidden, Invalid
from workflows.contracts import OrderState
from workflows.definition import Definition
from workflows.nodes.flow import SubpipelineNode

ORDER_NAMESPACE = uuid.UUID("6f1c1f0e-3b7a-5d0e-9a51-5e7f1c0a0001")
TEST_SUFFIX = "-test"
_TYPE_CHECKS: dict[str, tuple[type, ...]] = {
    "text": (str,),
    "number": (int, float),
    "money": (str, int, float),
    "boolean": (bool,),
    "object": (dict,),
    "list": (list,),
}


def order_id_for(username: str, idempotency_key: str | None) -> str:
    """The order (= workflow) id: uuid5 of caller and key, so Temporal itself dedupes."""
    if not idempotency_key:
        return f"wo-{uuid.uuid4()}"
    name = f"{username}/{idempotency_key}"
    return f"wo-{uuid.uuid5(ORDER_NAMESPACE, name)}"


def fingerprint(body: dict[str, Any]) -> str:
    """A stable hash of a request body (key order does not matter)."""
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def check_variables(definition: Definition, variables: dict[str, Any]) -> dict[str, str]:
    """Field errors for missing required variables and values of the wrong type."""
    errors: dict[str, str] = {}
    for decl in definition.variables:
        value = variables.get(decl.name)
        if value is None:
            if decl.required and decl.default is None:
                errors[f"variables.{decl.name}"] = "is required"
            continue
        allowed = _TYPE_CHECKS[decl.type]
        wrong = not isinstance(value, allowed) or (
            decl.type in ("number", "money") and isinstance(value, bool)
        )
        if wrong:
            errors[f"variables.{decl.name}"] = f"must be of type {decl.type}"
    return errors


@dataclass(frozen=True)
class Placement:
    """Where a new order belongs: codes for its context, and the org path for scope."""

    region: str = ""
    outlet: str = ""
    path: str = ""
    region_name: str = ""  # what operators search by: Region="华北"

    @property
    def region_label(self) -> str:
        return self.region_name or self.region


def resolve_placement(
    session: Session, user: Principal, *, region: str | None, outlet: str | None
) -> Placement:
    """The order's region and outlet, checked against the caller's scope.

    Nothing the client sends widens what the caller may do: a region or outlet outside
    the caller's scope is refused (403); none given means the caller's own unit.

    Raises:
        Invalid: an unknown region or outlet, or an outlet outside the given region.
        Forbidden: a region or outlet outside the caller's scope.
    """
    region_unit: OrgUnit | None = None
    if region:
        region_unit = org.find_region(session, code_or_name=region)
        if region_unit is None:
            raise Invalid(f"region: no region '{region}'", errors={"region": "unknown region"})
    if outlet:
        outlet_unit = org.get_unit_by_code(session, code=outlet)
        if outlet_unit is None or outlet_unit.kind != "outlet":
            raise Invalid(f"outlet: no outlet '{outlet}'", errors={"outlet": "unknown outlet"})
        outlet_region = org.region_of(session, unit=outlet_unit)
        if (
            region_unit is not None
            and outlet_region is not None
            and (outlet_region.id != region_unit.id)
        ):
            raise Invalid(
                f"outlet: '{outlet}' is not in region '{region}'",
                errors={"outlet": f"not in region '{region}'"},
            )
        if not user.sees(outlet_unit.path):
            raise Forbidden(f"outlet '{outlet}' is outside your scope ({user.scope_path})")
        return Placement(
            region=outlet_region.code if outlet_region else "",
            outlet=outlet_unit.code,
            path=outlet_unit.path,
            region_name=outlet_region.name if outlet_region else "",
        )
    if region_unit is not None:
        if not user.sees(region_unit.path):
            raise Forbidden(f"region '{region}' is outside your scope ({user.scope_path})")
        return Placement(
            region=region_unit.code, path=region_unit.path, region_name=region_unit.name
        )
    own = org.get_unit(session, unit_id=user.org_unit_id) if user.org_unit_id else None
    if own is None:
        raise Forbidden("you have no org scope, so you may not start orders")
    if own.kind == "hq":
        return Placement()  # the report step places it by the customer's location
    own_region = org.region_of(session, unit=own)
    if own.kind == "outlet":
        return Placement(
            region=own_region.code if own_region else "",
            outlet=own.code,
            path=own.path,
            region_name=own_region.name if own_region else "",
        )
    if own.kind == "branch":
        raise Invalid(
            "outlet: callers scoped to a branch must name the outlet",
            errors={"outlet": "is required"},
        )
    return Placement(region=own.code, path=own.path, region_name=own.name)


def load_snapshot(
    session: Session, *, key: str, version: int | None
) -> tuple[Definition, dict[str, Definition]]:
    """The published definition and every pipeline it calls, recursively (latest versions).

    Raises:
        Invalid: the definition (or a sub-pipeline it calls) is not published.
    """
    row = definition_repo.get_version(session, key=key, version=version)
    if row is None:
        which = f"version {version}" if version else "published version"
        raise Invalid(
            f"definition_key: '{key}' has no {which}",
            errors={"definition_key" if version is None else "version": f"no {which} of '{key}'"},
        )
    definition = Definition.model_validate(row.body)
    return definition, load_subdefinitions(session, definition)


def load_subdefinitions(session: Session, definition: Definition) -> dict[str, Definition]:
    subs: dict[str, Definition] = {}
    queue = deque([definition])
    while queue:
        current = queue.popleft()
        for node in current.nodes:
            if not isinstance(node, SubpipelineNode):
                continue
            key = node.params.definition
            if key in subs or key == definition.key:
                continue
            row = definition_repo.get_version(session, key=key)
            if row is None:
                raise Invalid(
                    f"sub-pipeline '{key}' called by node '{node.id}' is not published",
                    errors={"definition_key": f"calls unpublished pipeline '{key}'"},
                )
            subs[key] = Definition.model_validate(row.body)
            queue.append(subs[key])
    return subs


# ---- who sees what -----------------------------------------------------------------------


def engineer_id_of(session: Session, user: Principal) -> int | None:
    engineer = get_engineer_by_user(session, user_id=user.id)
    return engineer.id if engineer else None


def is_engineer_only(user: Principal) -> bool:
    """Engineers see the orders assigned to them, not everything in their outlet."""
    return user.has("engineer") and not user.has(
        "hq_admin",
        "region_manager",
        "outlet_manager",
        "dispatcher",
        "finance",
        "designer",
        "api_client",
    )


def path_of_context(session: Session, region: str, outlet: str) -> str:
    """The org path of an order known only from its workflow context."""
    if outlet:
        unit = org.get_unit_by_code(session, code=outlet)
        if unit is not None:
            return unit.path
    if region:
        unit = org.find_region(session, code_or_name=region)
        if unit is not None:
            return unit.path
    hq = session.scalar(select(OrgUnit).where(OrgUnit.kind == "hq"))
    return hq.path if hq else "/"


def may_see(
    session: Session,
    user: Principal,
    *,
    row: WorkOrder | None,
    state: OrderState | None,
) -> bool:
    """Whether `user` may see the order (read-model `row` and/or live `state`)."""
    if is_engineer_only(user):
        if (
            row is not None
            and row.current_engineer_id is not None
            and (row.current_engineer_id == engineer_id_of(session, user))
        ):
            return True
        if state is not None:
            return any(a.assignee == user.username for a in state.active) or any(
                e.actor == user.username for e in state.timeline
            )
        return False
    if row is not None and row.org_path:
        return user.sees(row.org_path)
    if state is not None:
        return user.sees(path_of_context(session, state.context.region, state.context.outlet))
    return False


def region_path_of(session: Session, path: str) -> str:
    parts = path.strip("/").split("/")
    return "/" + "/".join(parts[:2]) if len(parts) >= 2 else path


def waiting_for(
    session: Session, user: Principal, *, limit: int
) -> list[tuple[WorkOrderStep, WorkOrder]]:
    """Human steps waiting for `user` (read model), most urgent order first: assigned to
    them by name, or to one of their roles on an order they may see."""
    query = (
        select(WorkOrderStep, WorkOrder)
        .join(WorkOrder, WorkOrder.order_id == WorkOrderStep.order_id)
        .where(
            WorkOrderStep.completed_at.is_(None),
            WorkOrder.status.not_in(CLOSED_STATUSES),
        )
    )
    by_name = WorkOrderStep.assignee == user.username
    by_role = WorkOrderStep.assignee.in_([f"role:{role}" for role in user.roles])
    if is_engineer_only(user):
        engineer_id = engineer_id_of(session, user)
        seen = WorkOrder.current_engineer_id == engineer_id if engineer_id else false()
    else:
        prefix = user.scope_path.rstrip("/")
        seen = (
            or_(WorkOrder.org_path == prefix, WorkOrder.org_path.startswith(prefix + "/"))
            if prefix
            else false()
        )
    query = query.where(or_(by_name, and_(by_role, seen)))
    query = query.order_by(WorkOrder.priority, WorkOrderStep.started_at).limit(limit)
    return [(step, order) for step, order in session.execute(query).tuples()]


def node_names(session: Session, versions: set[tuple[str, int]]) -> dict[tuple[str, int, str], str]:
    """Node names by (definition key, version, node id), for the given published versions."""
    names: dict[tuple[str, int, str], str] = {}
    for key, version in versions:
        row = definition_repo.get_version(session, key=key, version=version)
        for node in row.body.get("nodes", []) if row is not None else []:
            names[(key, version, node["id"])] = node.get("name") or node["id"]
    return names


def search_settlements(
    session: Session,
    user: Principal,
    *,
    region: str | None,
    start: datetime | None,
    end: datetime | None,
    limit: int,
    offset: int,
) -> tuple[list[Settlement], int]:
    """Settlements of orders within the caller's scope, newest first."""
    prefix = user.scope_path.rstrip("/")
    query = (
        select(Settlement)
        .join(WorkOrder, WorkOrder.order_id == Settlement.order_id)
        .where(or_(WorkOrder.org_path == prefix, WorkOrder.org_path.startswith(prefix + "/")))
    )
    if region:
        unit = org.find_region(session, code_or_name=region)
        query = query.where(WorkOrder.region == (unit.code if unit else region))
    if start is not None:
        query = query.where(Settlement.created_at >= start)
    if end is not None:
        query = query.where(Settlement.created_at < end)
    count = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.options(selectinload(Settlement.payouts))
        .order_by(Settlement.created_at.desc(), Settlement.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return list(rows), count
