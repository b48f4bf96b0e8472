"""Service areas: a customer belongs to the outlet whose polygon holds them, else the
nearest outlet; routing rules send a report to a queue before engineer dispatch."""

import pytest
from sqlalchemy import select

from servflow.dispatch import areas, service
from servflow.dispatch.models import DispatchDecision
from servflow.orders.models import WorkOrder
from servflow.platform.errors import Invalid
from tests.world import make_step

# 西城, 3.8 km from 朝阳's outlet (bj-001) and 9.3 km from 海淀's (bj-002).
XICHENG = {"name": "刘洋", "phone": "13600001111", "lat": 39.93, "lng": 116.40}
HAIDIAN_AREA = {
    "type": "Polygon",
    "coordinates": [
        [[116.25, 39.90], [116.42, 39.90], [116.42, 39.99], [116.25, 39.99], [116.25, 39.90]]
    ],
}


def collection(*features):
    return {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "properties": {"outlet": code}, "geometry": geometry}
            for code, geometry in features
        ],
    }


async def reported_outlet(run, session, customer):
    await run("report", make_step("report", region="", customer=customer))
    order = session.scalars(select(WorkOrder)).one()
    return order.org_path.rsplit("/", 1)[-1]


async def test_a_customer_inside_an_outlets_area_belongs_to_it_not_to_the_nearest(
    run, world, session
):
    assert (
        service.import_areas(
            session, collection=collection(("bj-002", HAIDIAN_AREA)), scope_path=None
        )
        == 1
    )
    session.commit()
    assert await reported_outlet(run, session, XICHENG) == "bj-002"


async def test_a_customer_outside_every_area_belongs_to_the_nearest_outlet(run, world, session):
    service.import_areas(session, collection=collection(("bj-002", HAIDIAN_AREA)), scope_path=None)
    session.commit()
    outside = {**XICHENG, "phone": "13600002222", "lat": 39.9219, "lng": 116.45}
    assert await reported_outlet(run, session, outside) == "bj-001"


def test_areas_export_as_geojson_in_scope_and_bad_polygons_are_refused(world, session):
    service.import_areas(session, collection=collection(("bj-002", HAIDIAN_AREA)), scope_path=None)
    exported = service.export_areas(session, scope_path="/hq/huabei")
    assert exported["features"][0]["properties"]["outlet"] == "bj-002"
    assert exported["features"][0]["geometry"] == HAIDIAN_AREA
    assert service.export_areas(session, scope_path="/hq/huadong")["features"] == []
    bowtie = {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}
    with pytest.raises(Invalid) as caught:
        service.import_areas(session, collection=collection(("bj-001", bowtie)), scope_path=None)
    assert "features[0].geometry" in caught.value.extra["errors"]
    with pytest.raises(Invalid) as caught:
        service.import_areas(
            session, collection=collection(("sh-001", HAIDIAN_AREA)), scope_path="/hq/huabei"
        )
    assert "features[0].properties.outlet" in caught.value.extra["errors"]


def test_point_in_polygon_uses_geojson_longitude_latitude_order():
    assert areas.containing([(7, HAIDIAN_AREA)], 39.93, 116.40) == 7
    assert areas.containing([(7, HAIDIAN_AREA)], 116.40, 39.93) is None


async def test_a_report_routed_to_logistics_waits_in_that_queue_without_engineer_search(
    run, world, session
):
    service.set_routing_rules(
        session,
        rules=[
            {"channel": "tmall", "service_type": "return", "queue": "logistics"},
            {"channel": "hotline", "up_to_priority": 1, "queue": "customer_care"},
        ],
    )
    session.commit()
    await run("report", make_step("report"))
    step = make_step(
        "dispatch",
        params={"skills": ["refrigeration"]},
        variables={"fault": "ac_leak", "channel": "tmall", "service_type": "return"},
    )
    result = await run("dispatch", step)

    assert result.output["queue"] == "logistics"
    assert result.output["handoff"]["assignee_role"] == "dispatcher"
    decision = session.scalars(select(DispatchDecision)).one()
    assert decision.rung == "queue:logistics" and decision.status == "queued"
    assert decision.explanation["rungs"] == []  # no engineer was searched for
