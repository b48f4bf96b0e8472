"""Work-order use cases: where an order belongs, what it runs, who may see it, and the
report and close steps (the Temporal side lives in servflow.orders.engine)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from servflow.customers import service as customers
from servflow.definitions import service as definitions
from servflow.dispatch import service as dispatch
from servflow.orders import repo
from servflow.orders.models import WorkOrder, WorkOrderStep
from servflow.org import service as org
from servflow.org.rules import Principal
from servflow.platform.effects import OrderChanges, OrderFacts, StepOutcome
from servflow.platform.errors import BusinessRuleViolation, Forbidden, Invalid, invalid_field
from servflow.platform.scope import in_scope, region_path
from workflows.contracts import (
    SANDBOX_STARTER_PREFIX,
    OrderState,
    StepInput,
    StepResult,
    role_assignee,
)
from workflows.definition import Definition
from workflows.durations import parse_duration
from workflows.nodes.automatic import ReportParams

if TYPE_CHECKING:
    from servflow.org.models import OrgUnit

get_order = repo.get_order
open_order_counts = repo.open_order_counts
steps_past_deadline = repo.steps_past_deadline
list_orders = repo.list_orders
list_steps = repo.list_steps


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
    the caller's scope is refused exactly like an unknown one, so the answer never tells
    which codes exist elsewhere; none given means the caller's own unit.

    Raises:
        Invalid: a region or outlet that is unknown or outside the caller's scope, or an
            outlet outside the given region.
        Forbidden: the caller has no org unit.
    """
    region_unit: OrgUnit | None = None
    if region:
        region_unit = org.find_region(session, code_or_name=region)
        if region_unit is None or (not outlet and not user.sees(region_unit.path)):
            raise _no_unit("region", region)
    if outlet:
        return _outlet_placement(session, user, outlet, region_unit, region or "")
    if region_unit is not None:
        return Placement(
            region=region_unit.code, path=region_unit.path, region_name=region_unit.name
        )
    return _own_placement(session, user)


def _outlet_placement(
    session: Session, user: Principal, outlet: str, region_unit: OrgUnit | None, region: str
) -> Placement:
    outlet_unit = org.get_unit_by_code(session, code=outlet)
    if outlet_unit is None or outlet_unit.kind != "outlet" or not user.sees(outlet_unit.path):
        raise _no_unit("outlet", outlet)
    outlet_region = org.region_of(session, unit=outlet_unit)
    if region_unit is not None and outlet_region is not None and outlet_region.id != region_unit.id:
        raise Invalid(
            f"outlet: '{outlet}' is not in region '{region}'",
            errors={"outlet": f"not in region '{region}'"},
        )
    return _at_outlet(outlet_unit, outlet_region)


def _no_unit(field: str, code: str) -> Invalid:
    """The one refusal for a unit that is unknown or outside the caller's scope."""
    return invalid_field(field, f"no {field} '{code}' within your scope")


def _at_outlet(outlet: OrgUnit, region: OrgUnit | None) -> Placement:
    return Placement(
        region=region.code if region else "",
        outlet=outlet.code,
        path=outlet.path,
        region_name=region.name if region else "",
    )


def _own_placement(session: Session, user: Principal) -> Placement:
    """No region or outlet given: the caller's own unit (HQ: the report step places it)."""
    own = org.get_unit(session, unit_id=user.org_unit_id) if user.org_unit_id else None
    if own is None:
        raise Forbidden("you have no org scope, so you may not start orders")
    if own.kind == "hq":
        return Placement()  # the report step places it by the customer's location
    if own.kind == "outlet":
        return _at_outlet(own, org.region_of(session, unit=own))
    if own.kind == "branch":
        raise Invalid(
            "outlet: callers scoped to a branch must name the outlet",
            errors={"outlet": "is required"},
        )
    return Placement(region=own.code, path=own.path, region_name=own.name)


def engineer_id_of(session: Session, user: Principal) -> int | None:
    return dispatch.engineer_id_of(session, user_id=user.id)


TEST_ORDER_PREFIX = "test-"


def test_run_by(username: str) -> str:
    """The `started_by` of a test run `username` starts (what the interpreter reads back
    with `sandbox_starter`)."""
    return f"{SANDBOX_STARTER_PREFIX}{username}"


def _test_run_starter(row: WorkOrder | None, state: OrderState | None) -> str | None:
    """The `started_by` of a test run (read-model row, or the live state of one the read
    model has not written yet); None for a real order."""
    if row is not None:
        return row.started_by if row.sandbox else None
    if state is not None and state.order_id.startswith(TEST_ORDER_PREFIX):
        return state.context.started_by
    return None


def may_see(
    session: Session,
    user: Principal,
    *,
    row: WorkOrder | None,
    state: OrderState | None,
) -> bool:
    """Whether `user` may see the order (read-model `row` and/or live `state`); a test run
    only its designer may see."""
    starter = _test_run_starter(row, state)
    if starter is not None:
        return starter == test_run_by(user.username)
    if user.engineer_only:
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
        return user.sees(
            org.path_of_context(session, region=state.context.region, outlet=state.context.outlet)
        )
    return False


def waiting_for(
    session: Session, user: Principal, *, limit: int
) -> list[tuple[WorkOrderStep, WorkOrder]]:
    """Human steps waiting for `user` (read model), most urgent order first: assigned to
    them by name, or to one of their roles on an order they may see."""
    roles = [role_assignee(role) for role in user.roles]
    if user.engineer_only:
        return repo.waiting_steps(
            session,
            username=user.username,
            role_assignees=roles,
            engineer_id=engineer_id_of(session, user) or 0,
            limit=limit,
        )
    return repo.waiting_steps(
        session,
        username=user.username,
        role_assignees=roles,
        scope_path=user.scope_path,
        limit=limit,
    )


def _customer_fields(step: StepInput) -> dict[str, Any]:
    source = step.context.customer or step.variables.get("customer") or {}
    if not isinstance(source, dict):
        raise BusinessRuleViolation("the order's customer must be an object with name and phone")
    lat, lng = source.get("lat"), source.get("lng")
    return {
        "name": str(source.get("name", "")).strip(),
        "phone": str(source.get("phone", "")).strip() or None,
        "address": str(source.get("address", "")).strip(),
        "city": str(source.get("city", "")).strip(),
        "lat": float(lat) if lat not in (None, "") else None,
        "lng": float(lng) if lng not in (None, "") else None,
    }


def _refuse_duplicate(session: Session, facts: OrderFacts, customer: Any, fault: str) -> None:
    open_order = repo.find_open_order(
        session, customer_id=customer.id, fault=fault, exclude_order_id=facts.order_id
    )
    if open_order is not None:
        raise BusinessRuleViolation(
            f"客户 {customer.name} 的故障 {fault} 已有未完成工单 "
            f"{open_order.order_no or open_order.order_id} ({open_order.status}); "
            "duplicate order refused"
        )


def report(session: Session, step: StepInput, now: datetime, facts: OrderFacts) -> StepOutcome:
    """Links or creates the customer, refuses a duplicate open order, places and numbers the
    order (at the outlet nearest to the customer when its context names none)."""
    params = ReportParams.model_validate(step.params)
    fault = params.fault or str(step.variables.get("fault", "") or "")
    fields = _customer_fields(step)
    if not fields["name"] and not fields["phone"]:
        raise BusinessRuleViolation("report needs a customer with a name or phone")
    customer, created = customers.link_or_create_customer(session, **fields)
    # Serialize reports for one customer on PostgreSQL, so the duplicate check holds.
    customers.lock_customer(session, customer_id=customer.id)
    if params.refuse_duplicates and fault:
        _refuse_duplicate(session, facts, customer, fault)
    units = org.units_of(session, region=step.context.region, outlet=step.context.outlet)
    if units.unit is None and fields["lat"] is not None:
        # The outlet whose service area (geofence) holds the customer, else the nearest.
        units = dispatch.outlet_for(session, lat=fields["lat"], lng=fields["lng"] or 0.0)
    order_no = facts.order_no or repo.next_order_no(session, now=now)
    verb = "新建客户" if created else "关联客户"
    result = StepResult(
        output={
            "order_no": order_no,
            "customer_id": customer.id,
            "fault": fault,
            "region": units.region.code if units.region is not None else facts.region,
            "region_name": units.region.name if units.region is not None else "",
            "outlet": units.outlet.code if units.outlet is not None else "",
        },
        summary=f"工单 {order_no} 已登记, {verb} {customer.name}, 故障 {fault or '未填'}",
    )
    changes = OrderChanges(
        org_path=units.unit.path if units.unit is not None else None,
        outlet_id=units.outlet.id if units.outlet is not None else None,
        region=units.region.code if units.region is not None else None,
        customer_id=customer.id,
        fault=fault,
        order_no=order_no,
    )
    return StepOutcome(result=result, changes=changes)


def open_duplicate(
    session: Session,
    *,
    definition: Definition,
    customer: dict[str, Any],
    variables: dict[str, Any],
    now: datetime,
    order_id: str,
) -> WorkOrder | None:
    """The open order a new one would duplicate: same customer (by phone), same fault,
    started within the report node's `duplicate_window`; checked before the order starts
    (`order_id`, the new order's, is not its own duplicate: a retried start). None when
    the pipeline's report lets duplicates through or names no fault."""
    report_node = next((n for n in definition.nodes if n.places_order), None)
    params = getattr(report_node, "params", None)
    if not isinstance(params, ReportParams) or not params.refuse_duplicates:
        return None
    fault = params.fault or str(variables.get("fault", "") or "")
    phone = str(customer.get("phone", "") or "").strip()
    known = customers.customer_by_phone(session, phone=phone) if phone and fault else None
    if known is None:
        return None
    found = repo.find_open_order(
        session, customer_id=known.id, fault=fault, exclude_order_id=order_id
    )
    if found is None or found.created_at < now - parse_duration(params.duplicate_window):
        return None
    return found


def close(session: Session, step: StepInput, now: datetime, facts: OrderFacts) -> StepOutcome:
    """Nothing but the read-model writes the step runner does (steps and completion)."""
    return StepOutcome(
        result=StepResult(output={}, summary=f"工单 {facts.order_no or facts.order_id} 已完成")
    )


def prepare_start(
    session: Session,
    user: Principal,
    *,
    region: str | None,
    outlet: str | None,
    key: str,
    version: int | None,
) -> tuple[Placement, Definition, dict[str, Definition]]:
    """Where a new order belongs and the published pipeline (with sub-pipelines) it runs."""
    placement = resolve_placement(session, user, region=region, outlet=outlet)
    definition, subs = definitions.load_snapshot(session, key=key, version=version)
    return placement, definition, subs


def prepare_test_run(
    session: Session,
    user: Principal,
    *,
    region: str | None,
    outlet: str | None,
    draft: dict[str, Any] | None,
    key: str | None,
    version: int | None,
) -> tuple[Placement, Definition, dict[str, Definition]]:
    """As `prepare_start`, for a draft (validated now) or a published version."""
    if draft is not None:
        placement = resolve_placement(session, user, region=region, outlet=outlet)
        report = definitions.validate_raw(session, draft)
        if report.definition is None:
            raise Invalid(
                f"the definition has {len(report.problems)} problem(s)",
                problems=[p.model_dump() for p in report.problems],
            )
        return (
            placement,
            report.definition,
            definitions.load_subdefinitions(session, report.definition),
        )
    if not key:
        raise Invalid(
            "give a definition or a definition_key",
            errors={"definition": "a definition or a definition_key is required"},
        )
    return prepare_start(session, user, region=region, outlet=outlet, key=key, version=version)


def check_reassign_target(
    session: Session, user: Principal, *, row: WorkOrder | None, state: OrderState, username: str
) -> None:
    """A step may go only to an active engineer working in the order's region, within the
    caller's scope.

    Raises:
        Invalid: not an active engineer within the caller's scope (the same answer for an
            unknown user and one outside the scope), or outside the order's region.
    """
    target = org.get_user_by_username(session, username=username)
    target_path = target.org_unit.path if target and target.org_unit else ""
    if (
        target is None
        or not target.is_active
        or "engineer" not in target.roles
        or not target_path
        or not user.sees(target_path)
    ):
        message = f"no active engineer '{username}' within your scope"
        raise Invalid(f"user_id: {message}", errors={"user_id": message})
    order_path = (
        row.org_path
        if row is not None and row.org_path
        else org.path_of_context(session, region=state.context.region, outlet=state.context.outlet)
    )
    if not in_scope(target_path, region_path(order_path)):
        raise Invalid(
            f"user_id: '{username}' works outside the order's region",
            errors={"user_id": "must work in the order's region"},
        )


@dataclass(frozen=True)
class DeskFilters:
    """What the order desk searches by besides status, region and pipeline."""

    q: str = ""
    outlet: str = ""
    created_from: datetime | None = None
    created_to: datetime | None = None
    definition_version: int | None = None


def _desk_search(
    session: Session, user: Principal, scope: str | None, filters: DeskFilters
) -> tuple[str | None, repo.OrderSearch]:
    """The scope narrowed to `filters.outlet` ("" when that outlet is unknown or out of
    scope: nothing matches) and the remaining filters as a repo search."""
    if filters.outlet:
        unit = org.get_unit_by_code(session, code=filters.outlet)
        visible = unit is not None and (scope is None or in_scope(unit.path, scope))
        scope = unit.path if unit is not None and visible else ""
    text = filters.q.strip()
    # The customers whose name or phone matches (the first 500 within the caller's scope).
    found = (
        customers.search_customers(session, user, text=text, limit=500, offset=0)[0] if text else []
    )
    search = repo.OrderSearch(
        text=text,
        customer_ids=[c.id for c in found] if text else None,
        created_from=filters.created_from,
        created_to=filters.created_to,
        definition_version=filters.definition_version,
    )
    return scope, search


def search_orders(
    session: Session,
    user: Principal,
    *,
    status: str | None,
    region: str | None,
    definition_key: str | None,
    limit: int,
    offset: int,
    filters: DeskFilters | None = None,
) -> tuple[list[WorkOrder], int]:
    """Orders the caller may see, newest first: an engineer's own, anyone else's scope;
    `filters` narrow them as the order desk searches (text, outlet, period, version)."""
    engineer_id = None
    scope: str | None = user.scope_path
    if user.engineer_only:
        engineer_id = engineer_id_of(session, user)
        if engineer_id is None:
            return [], 0
        scope = None
    elif not scope:
        return [], 0
    if region:
        unit = org.find_region(session, code_or_name=region)
        region = unit.code if unit else region
    search = None
    if filters is not None:
        scope, search = _desk_search(session, user, scope, filters)
        if scope == "":
            return [], 0
    return repo.list_orders(
        session,
        scope_path=scope,
        status=status,
        region=region,
        definition_key=definition_key,
        engineer_id=engineer_id,
        limit=limit,
        search=search,
        offset=offset,
    )
