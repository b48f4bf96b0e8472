from sqlalchemy import select

from servflow.dispatch.models import DispatchDecision, Engineer
from servflow.orders.models import WorkOrder
from tests.world import make_step

REFRIGERATION = {"skills": ["refrigeration"], "radius_km": 200}


async def test_dispatch_picks_nearest_qualified_in_region_engineer_and_records_why(
    run, world, session
):
    await run("report", make_step("report"))

    result = await run("dispatch", make_step("dispatch", params=REFRIGERATION))

    # Closer engineers exist, but one lacks the skill, one is off and one is in 华东.
    assert result.output["engineer_id"] == "bj_near"
    assert result.output["engineer_user_id"] == "engineer_bj_near"
    assert result.output["outlet_id"] == "bj-001"
    assert result.output["distance_km"] == "2.3"
    assert result.output["reason"] == "最近的持证工程师 张伟 (制冷), 2.3 km"
    decision = session.scalars(select(DispatchDecision)).one()
    assert decision.reason == result.output["reason"]
    assert decision.engineer.code == "bj_near"
    rejected = {c["code"]: c.get("rejected") for c in decision.candidates}
    assert rejected["bj_noskill"] == "缺少资质 制冷"
    assert rejected["bj_off"] == "状态 off"
    assert "sh_visiting" not in rejected  # 华东 engineers are not even considered
    order = session.scalars(select(WorkOrder)).one()
    assert order.current_engineer.code == "bj_near"
    assert order.org_path == "/hq/huabei/bj-branch/bj-001"


async def test_dispatch_takes_a_slot_of_the_engineers_load_once(run, world, session):
    await run("report", make_step("report"))
    step = make_step("dispatch", params=REFRIGERATION)
    await run("dispatch", step)
    await run("dispatch", step)  # a retry

    engineer = session.scalars(select(Engineer).where(Engineer.code == "bj_near")).one()
    assert engineer.current_load == 1
    assert len(session.scalars(select(DispatchDecision)).all()) == 1


async def test_least_loaded_strategy_skips_a_busy_nearer_engineer(run, world, session):
    session.execute(
        Engineer.__table__.update().where(Engineer.code == "bj_near").values(current_load=2)
    )
    session.commit()
    await run("report", make_step("report"))
    result = await run(
        "dispatch", make_step("dispatch", params={**REFRIGERATION, "strategy": "least_loaded"})
    )
    assert result.output["engineer_id"] == "bj_far"
    assert result.output["reason"].startswith("负载最低的持证工程师 王强 (制冷)")


async def test_no_qualified_engineer_waits_for_a_dispatcher_with_the_reasons(run, world, session):
    await run("report", make_step("report"))
    result = await run("dispatch", make_step("dispatch", params={"skills": ["medical_imaging"]}))

    handoff = result.output["handoff"]
    assert handoff["assignee_role"] == "dispatcher" and handoff["answers"] == ["assign"]
    assert result.output["rung"] == "dispatcher_queue"
    decision = session.scalars(select(DispatchDecision)).one()
    assert decision.status == "queued" and decision.engineer_id is None
    counts = decision.explanation["rungs"][0]["excluded"]
    assert counts["no_certificate"] == 4  # every 华北 engineer lacks 医疗影像
    assert any("医疗影像" in c.get("rejected", "") for c in result.output["candidates"])


async def test_radius_excludes_engineers_too_far_away(run, world, session):
    await run("report", make_step("report"))
    result = await run(
        "dispatch", make_step("dispatch", params={"skills": ["制冷"], "radius_km": 1})
    )
    assert "handoff" in result.output
    reasons = {c["code"]: c.get("rejected") for c in result.output["candidates"]}
    assert reasons["bj_near"] == "距离 2.3 km 超过 1 km"


async def test_cross_region_dispatch_may_pick_another_regions_engineer(run, world):
    await run("report", make_step("report"))
    result = await run(
        "dispatch", make_step("dispatch", params={**REFRIGERATION, "cross_region": True})
    )
    assert result.output["engineer_id"] == "sh_visiting"


async def test_full_engineers_are_not_dispatched(run, world, session):
    session.execute(
        Engineer.__table__.update().where(Engineer.code == "bj_near").values(current_load=3)
    )
    session.commit()
    await run("report", make_step("report"))
    result = await run("dispatch", make_step("dispatch", params=REFRIGERATION))
    assert result.output["engineer_id"] == "bj_far"


async def test_redispatch_moves_the_load_to_the_new_engineer(run, world, session):
    await run("report", make_step("report"))
    await run("dispatch", make_step("dispatch", params=REFRIGERATION))
    session.execute(
        Engineer.__table__.update().where(Engineer.code == "bj_near").values(state="off")
    )
    session.commit()
    result = await run("dispatch", make_step("dispatch", visit=2, params=REFRIGERATION))

    assert result.output["engineer_id"] == "bj_far"
    loads = dict(session.execute(select(Engineer.code, Engineer.current_load)).all())
    assert loads["bj_near"] == 0
    assert loads["bj_far"] == 1
