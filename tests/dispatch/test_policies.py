"""Dispatch by a stored policy, with real coordinates around 北京建国路 (the test customer):
唐山 is 150 km away, 石家庄 267 km, 上海 1066 km (华东)."""

from datetime import date

from sqlalchemy import select

from servflow.dispatch import service
from servflow.dispatch.models import DispatchDecision, Engineer
from tests.world import make_step

TANGSHAN = (39.6305, 118.1802)
SHIJIAZHUANG = (38.0428, 114.5149)
SHANGHAI = (31.2304, 121.4737)
GAS_POLICY = {
    "key": "gas-huabei",
    "region": "huabei",
    "skills": ["gas"],
    "ladder": [
        {"name": "in_region_200km", "radius_km": 200},
        {"name": "in_region_400km", "radius_km": 400},
        {"name": "neighbours_1500km", "radius_km": 1500, "regions": "neighbours"},
    ],
    "neighbours": {"huabei": ["huadong"]},
}


def gas_engineer(world, session, code, where, outlet="bj-001", **kw):
    lat, lng = where
    engineer = Engineer(
        code=code,
        name=code,
        outlet=world.units[outlet],
        skills=kw.pop("skills", ["gas"]),
        lat=lat,
        lng=lng,
        state=kw.pop("state", "available"),
        **kw,
    )
    session.add(engineer)
    return engineer


def with_policy(session, **changes):
    service.save_policy(session, body={**GAS_POLICY, **changes}, user="hq_admin")
    session.commit()


async def dispatched(run, session):
    await run("report", make_step("report"))
    result = await run("dispatch", make_step("dispatch"))
    decision = session.scalars(select(DispatchDecision).order_by(DispatchDecision.id)).all()[-1]
    return result, decision


async def test_a_qualified_engineer_150_km_away_is_chosen_over_one_267_km_away(run, world, session):
    gas_engineer(world, session, "ts_gas", TANGSHAN)
    gas_engineer(world, session, "sjz_gas", SHIJIAZHUANG)
    with_policy(session)

    result, decision = await dispatched(run, session)

    assert result.output["engineer_id"] == "ts_gas"
    assert result.output["distance_km"] == "150.2"
    assert result.output["rung"] == "in_region_200km"
    assert decision.policy_key == "gas-huabei" and decision.policy_version == 1
    ranked = [c for c in decision.explanation["candidates"] if "rank" in c]
    assert ranked[0]["code"] == "ts_gas"
    assert set(ranked[0]["parts"]) == {
        "distance",
        "load",
        "skill_level",
        "first_time_fix",
        "urgency",
    }
    assert decision.explanation["rungs"][0]["excluded"]["too_far"] == 1  # 石家庄


async def test_none_inside_200_km_goes_to_the_next_rung_and_says_so(run, world, session):
    gas_engineer(world, session, "sjz_gas", SHIJIAZHUANG)
    with_policy(session)

    result, decision = await dispatched(run, session)

    assert result.output["engineer_id"] == "sjz_gas"
    assert decision.rung == "in_region_400km"
    first, second = decision.explanation["rungs"]
    assert first["qualified"] == 0 and first["excluded"]["too_far"] == 1
    assert second["qualified"] == 1
    assert "(第 2 级: in_region_400km)" in result.output["reason"]
    explained = service.decisions_explained(session, order_id="order-1", lang="en")[-1]
    assert explained["rung"] == "in_region_400km"


async def test_none_in_the_region_goes_to_a_neighbour_flagged_cross_region(run, world, session):
    gas_engineer(world, session, "sh_gas", SHANGHAI, outlet="sh-001")
    with_policy(session)

    result, decision = await dispatched(run, session)

    assert result.output["engineer_id"] == "sh_gas"
    assert result.output["cross_region"] is True
    assert decision.rung == "neighbours_1500km"
    assert decision.explanation["cross_region"] is True


async def test_an_uncertified_nearer_engineer_is_skipped_for_a_certified_one_with_the_reason(
    run, world, session
):
    # Right next to the customer, but the gas certificate expired last year.
    gas_engineer(
        world,
        session,
        "bj_gas_expired",
        (39.9090, 116.4610),
        skills=[],
        certificates=[{"skill": "gas", "level": 2, "expires": "2025-06-30"}],
    )
    gas_engineer(
        world,
        session,
        "ts_gas",
        TANGSHAN,
        skills=[],
        certificates=[{"skill": "gas", "level": 1, "expires": str(date(2099, 1, 1))}],
    )
    with_policy(session)

    result, decision = await dispatched(run, session)

    assert result.output["engineer_id"] == "ts_gas"
    refused = {c["code"]: c for c in decision.explanation["candidates"] if "reason" in c}
    assert refused["bj_gas_expired"]["reason"] == "certificate_expired"
    assert refused["bj_gas_expired"]["rejected"] == "资质 燃气 已于 2025-06-30 过期"
    explained = service.decisions_explained(session, order_id="order-1", lang="en")[-1]
    english = {c["code"]: c.get("rejected") for c in explained["candidates"]}
    assert english["bj_gas_expired"] == "certificate in Gas expired on 2025-06-30"


async def test_a_policy_is_versioned_and_the_latest_version_dispatches(run, world, session):
    gas_engineer(world, session, "sjz_gas", SHIJIAZHUANG)
    with_policy(session, ladder=[{"name": "in_region_200km", "radius_km": 200}])
    with_policy(session)  # version 2 adds the 400 km rung

    result, decision = await dispatched(run, session)

    assert decision.policy_version == 2
    assert result.output["engineer_id"] == "sjz_gas"
