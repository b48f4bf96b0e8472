"""The ac-repair pipeline's activities, in order, on the demo data."""

import json
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from servflow.billing.models import Settlement
from servflow.demo.loader import DATA_DIR, load_demo
from servflow.orders.models import WorkOrder
from tests.support.snapshot import seeded
from tests.world import make_step

CITIES = {
    region["code"]: region["cities"][0]
    for region in json.loads(Path(DATA_DIR, "org.json").read_text(encoding="utf-8"))["regions"]
}
FEES = {"huabei": "100.00", "huadong": "120.00", "huanan": "110.00", "huazhong": "90.00"}
PRICED_PARTS = ["service.parts_used"]  # the parts field the settlement prices
FEES |= {"xinan": "90.00", "xibei": "80.00", "dongbei": "85.00"}


def _load(factory):
    with factory() as session:
        load_demo(session)
        session.commit()


@pytest.fixture
def demo(session_factory):
    seeded(session_factory, _load)  # loaded once per database, restored for the others


@pytest.mark.parametrize("region", sorted(CITIES))
async def test_an_ac_repair_order_runs_on_demo_data_in_every_region(run, demo, session, region):
    city = CITIES[region]
    customer = {
        "name": "测试客户",
        "phone": f"1590000{len(region):04d}{region[:2]}",
        "address": f"{city['name']}市中心",
        "lat": city["lat"] + 0.01,
        "lng": city["lng"] + 0.01,
    }
    common = {"order_id": f"demo-{region}", "region": region, "customer": customer}
    variables = {"fault": "ac_leak"}

    await run("report", make_step("report", variables=variables, **common))
    dispatched = await run(
        "dispatch",
        make_step(
            "dispatch",
            params={"skills": ["refrigeration"], "radius_km": 200},
            variables=variables,
            **common,
        ),
    )
    variables["service"] = {"parts_used": [{"sku": "AC-CAP-35UF", "qty": 1}]}
    first = await run(
        "settlement",
        make_step(
            "settlement",
            node_id="commissioning",
            params={"milestone": "commissioning", "share": "0.6", "parts_from": PRICED_PARTS},
            variables=variables,
            **common,
        ),
    )
    second = await run(
        "settlement",
        make_step(
            "settlement",
            node_id="final_settlement",
            params={"milestone": "signoff", "share": "0.4", "parts_from": PRICED_PARTS},
            variables=variables,
            final=True,
            **common,
        ),
    )

    assert dispatched.output["reason"].startswith("最近的持证工程师")
    assert dispatched.output["outlet_id"].startswith(city["code"] + "-")
    # 35UF capacitor: base 18.00 + 4 × 3.00 = 30.00; within the free km of every table.
    job = Decimal(FEES[region]) + Decimal("30.00")
    assert Decimal(first.output["job_amount"]) == job
    assert Decimal(first.output["amount"]) + Decimal(second.output["amount"]) == job
    order = session.scalars(select(WorkOrder).where(WorkOrder.order_id == common["order_id"])).one()
    assert order.status == "completed"
    assert order.region == region
    settled = session.scalars(select(Settlement.amount)).all()
    assert sum(settled) == job
