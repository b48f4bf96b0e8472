"""A test run's dispatch chooses as a real one would, and assigns no one."""

from sqlalchemy import select

from servflow.dispatch.models import DispatchDecision, Engineer
from servflow.orders.models import WorkOrder
from tests.world import make_step

REFRIGERATION = {"skills": ["refrigeration"], "radius_km": 200}


def sandboxed(node_type: str, **kw):
    return make_step(node_type, **kw).model_copy(update={"sandbox": True})


async def test_sandbox_dispatch_shows_the_real_choice_but_takes_no_slot_and_records_nothing(
    run, world, session
):
    await run("report", sandboxed("report"))

    result = await run("dispatch", sandboxed("dispatch", params=REFRIGERATION))

    # The same engineer a real dispatch picks (see test_dispatch), with the ranked list.
    assert result.output["engineer_id"] == "bj_near"
    assert result.output["engineer_name"] == "张伟"
    assert result.output["reason"] == "最近的持证工程师 张伟 (制冷), 2.3 km"
    assert result.output["sandbox"] is True
    ranked = [c["code"] for c in result.output["candidates"] if "rank" in c]
    assert ranked == ["bj_near", "bj_far"]
    assert "模拟派单" in result.summary
    assert session.scalars(select(DispatchDecision)).all() == []
    loads = {e.code: e.current_load for e in session.scalars(select(Engineer))}
    assert set(loads.values()) == {0}
    order = session.scalars(select(WorkOrder)).one()
    assert order.sandbox is True
    assert order.current_engineer_id is None
    assert order.org_path == "/hq/huabei/bj-branch/bj-001"  # placed as a real one


async def test_sandbox_dispatch_leaves_every_engineer_free_for_real_orders(run, world, session):
    engineer = session.scalars(select(Engineer).where(Engineer.code == "bj_near")).one()
    engineer.max_load = 1
    session.commit()
    for i in range(3):
        await run("report", sandboxed("report", order_id=f"test-{i}"))
        await run("dispatch", sandboxed("dispatch", order_id=f"test-{i}", params=REFRIGERATION))

    await run("report", make_step("report", order_id="real"))
    real = await run("dispatch", make_step("dispatch", order_id="real", params=REFRIGERATION))

    assert real.output["engineer_id"] == "bj_near"
    assert len(session.scalars(select(DispatchDecision)).all()) == 1
