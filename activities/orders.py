"""report (register the order and its customer) and close_order."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from activities.common import ActivityDeps, business_error, resolve_units, run_step
from servflow.customers.models import Customer
from servflow.customers.repo import link_or_create_customer
from servflow.dispatch.rules import haversine_km
from servflow.orders import repo as orders
from servflow.orders.models import WorkOrder
from servflow.org.models import OrgUnit
from servflow.org.repo import region_of
from workflows.contracts import StepInput, StepResult
from workflows.nodes.automatic import ReportParams


def _customer_fields(step: StepInput) -> dict[str, Any]:
    source = step.context.customer or step.variables.get("customer") or {}
    if not isinstance(source, dict):
        raise business_error("the order's customer must be an object with name and phone")
    lat, lng = source.get("lat"), source.get("lng")
    return {
        "name": str(source.get("name", "")).strip(),
        "phone": str(source.get("phone", "")).strip() or None,
        "address": str(source.get("address", "")).strip(),
        "city": str(source.get("city", "")).strip(),
        "lat": float(lat) if lat not in (None, "") else None,
        "lng": float(lng) if lng not in (None, "") else None,
    }


def _nearest_outlet(session: Session, lat: float, lng: float) -> OrgUnit | None:
    outlets = session.scalars(
        select(OrgUnit).where(OrgUnit.kind == "outlet", OrgUnit.lat.is_not(None))
    ).all()
    return min(
        outlets,
        key=lambda o: (haversine_km(lat, lng, o.lat or 0.0, o.lng or 0.0), o.code),
        default=None,
    )


def report_effect(session: Session, step: StepInput, now: datetime, order: WorkOrder) -> StepResult:
    """Links or creates the customer, refuses a duplicate open order, numbers the order."""
    params = ReportParams.model_validate(step.params)
    fault = params.fault or str(step.variables.get("fault", "") or "")
    fields = _customer_fields(step)
    if not fields["name"] and not fields["phone"]:
        raise business_error("report needs a customer with a name or phone")
    customer, created = link_or_create_customer(session, **fields)
    # Serialize reports for one customer on PostgreSQL, so the duplicate check holds.
    session.execute(select(Customer.id).where(Customer.id == customer.id).with_for_update())
    if params.refuse_duplicates and fault:
        open_order = orders.find_open_order(
            session, customer_id=customer.id, fault=fault, exclude_order_id=step.order_id
        )
        if open_order is not None:
            raise business_error(
                f"客户 {customer.name} 的故障 {fault} 已有未完成工单 "
                f"{open_order.order_no or open_order.order_id} ({open_order.status}); "
                "duplicate order refused"
            )
    region, outlet = resolve_units(session, step)
    if region is None and outlet is None and fields["lat"] is not None:
        outlet = _nearest_outlet(session, fields["lat"], fields["lng"] or 0.0)
        if outlet is not None:
            region = region_of(session, unit=outlet)
    unit = outlet or region
    if unit is not None:
        order.org_path = unit.path
    if outlet is not None:
        order.outlet_id = outlet.id
    if region is not None:
        order.region = region.code
    order.customer_id = customer.id
    order.fault = fault
    if order.order_no is None:
        order.order_no = orders.next_order_no(session, now=now)
    session.flush()
    verb = "新建客户" if created else "关联客户"
    return StepResult(
        output={
            "order_no": order.order_no,
            "customer_id": customer.id,
            "fault": fault,
            "region": order.region,
            "region_name": region.name if region is not None else "",
            "outlet": outlet.code if outlet is not None else "",
        },
        summary=f"工单 {order.order_no} 已登记, {verb} {customer.name}, 故障 {fault or '未填'}",
    )


def close_effect(session: Session, step: StepInput, now: datetime, order: WorkOrder) -> StepResult:
    """Nothing but the read-model writes `run_step` does (steps and completion)."""
    return StepResult(output={}, summary=f"工单 {order.order_no or order.order_id} 已完成")


def report(deps: ActivityDeps, step: StepInput) -> StepResult:
    return run_step(deps, step, activity="report", effect=report_effect)[0]


def close_order(deps: ActivityDeps, step: StepInput) -> StepResult:
    return run_step(deps, step, activity="close_order", effect=close_effect)[0]
