import asyncio
import re
import threading

import pytest
from sqlalchemy import func, select
from temporalio.exceptions import ApplicationError

from activities.orders import report
from servflow.customers.models import Customer
from servflow.orders.models import WorkOrder, WorkOrderStep
from servflow.platform.models import ActivityEffect
from tests.world import make_step


async def test_report_registers_the_order_and_creates_the_customer(run, world, session):
    result = await run("report", make_step("report", status="reported"))

    assert re.fullmatch(r"SF20261122-000001", result.output["order_no"])
    assert result.output["fault"] == "ac_leak"
    order = session.scalars(select(WorkOrder)).one()
    assert order.order_no == result.output["order_no"]
    assert order.status == "reported"
    assert order.region == "huabei"
    assert order.org_path == "/hq/huabei"
    assert order.customer.phone == "13800010001"
    assert order.customer_id == result.output["customer_id"]
    step = session.scalars(select(WorkOrderStep)).one()
    assert (step.node_id, step.visit, step.actor) == ("report", 1, "system")


async def test_order_numbers_follow_a_daily_counter(run, world):
    first = await run("report", make_step("report", order_id="o-1"))
    second = await run(
        "report", make_step("report", order_id="o-2", variables={"fault": "fridge_warm"})
    )
    assert first.output["order_no"] == "SF20261122-000001"
    assert second.output["order_no"] == "SF20261122-000002"


async def test_a_known_phone_links_the_existing_customer(run, world, session):
    first = await run("report", make_step("report", order_id="o-1"))
    second = await run("report", make_step("report", order_id="o-2", variables={"fault": "noise"}))
    assert first.output["customer_id"] == second.output["customer_id"]
    assert session.scalar(select(func.count(Customer.id))) == 1


async def test_duplicate_open_order_for_same_customer_and_fault_is_refused(run, world, session):
    await run("report", make_step("report", order_id="o-1"))

    with pytest.raises(ApplicationError) as caught:
        await run("report", make_step("report", order_id="o-2"))

    assert caught.value.type == "BusinessRuleViolation"
    assert caught.value.non_retryable
    assert "SF20261122-000001" in caught.value.message
    assert "duplicate order refused" in caught.value.message
    assert session.scalar(select(func.count(WorkOrder.id))) == 1
    assert session.scalar(select(func.count(ActivityEffect.id))) == 1


async def test_same_fault_is_accepted_again_once_the_first_order_is_completed(run, world):
    await run("report", make_step("report", order_id="o-1"))
    await run("close_order", make_step("end", order_id="o-1", final=True))

    result = await run("report", make_step("report", order_id="o-2"))
    assert result.output["order_no"] == "SF20261122-000002"


async def test_duplicates_are_allowed_when_the_node_says_so(run, world):
    await run("report", make_step("report", order_id="o-1"))
    result = await run(
        "report", make_step("report", order_id="o-2", params={"refuse_duplicates": False})
    )
    assert result.output["order_no"] == "SF20261122-000002"


async def test_report_retry_returns_the_stored_result_without_a_second_order_number(
    run, world, session
):
    step = make_step("report")
    first = await run("report", step)
    again = await run("report", step)
    assert again == first
    assert session.scalar(select(func.count(WorkOrder.id))) == 1
    assert session.scalar(select(func.count(WorkOrderStep.id))) == 1


async def test_report_without_customer_is_refused(run, world):
    with pytest.raises(ApplicationError, match="needs a customer"):
        await run("report", make_step("report", customer={}, variables={"fault": "x"}))


async def test_region_comes_from_the_nearest_outlet_when_not_given(run, world, session):
    result = await run("report", make_step("report", region=""))
    assert result.output["region"] == "huabei"
    assert result.output["region_name"] == "华北"
    assert result.output["outlet"] == "bj-001"
    order = session.scalars(select(WorkOrder)).one()
    assert order.org_path == "/hq/huabei/bj-branch/bj-001"


async def test_concurrent_reports_of_one_fault_create_one_order(deps, world, session):
    barrier = threading.Barrier(2)

    def execute(order_id):
        barrier.wait()
        try:
            return report(deps, make_step("report", order_id=order_id))
        except ApplicationError as exc:
            return exc

    outcomes = await asyncio.gather(*(asyncio.to_thread(execute, o) for o in ("o-1", "o-2")))

    assert sum(isinstance(o, ApplicationError) for o in outcomes) == 1
    assert session.scalar(select(func.count(WorkOrder.id))) == 1
    assert session.scalar(select(func.count(Customer.id))) == 1
