"""The spatial index answers as a full scan does, and stays current as engineers move."""

import numpy as np
import pytest
from sqlalchemy import select

from servflow.dispatch import nearby, service
from servflow.dispatch.index import EngineerIndex, haversine_km_many
from servflow.dispatch.models import DispatchDecision
from tests.dispatch.test_policies import GAS_POLICY, SHIJIAZHUANG, TANGSHAN, gas_engineer
from tests.world import make_step


def brute(points, lat, lng, radius, skill):
    ids = [i for i, (_la, _ln, skills) in points.items() if skill in skills]
    if not ids:
        return []
    lats = np.array([points[i][0] for i in ids])
    lngs = np.array([points[i][1] for i in ids])
    close = haversine_km_many(lat, lng, lats, lngs) <= radius
    return sorted(i for i, c in zip(ids, close, strict=True) if c)


def test_the_index_finds_exactly_what_a_scan_finds_through_moves_and_removals():
    rng = np.random.default_rng(5)
    points = {
        i: (float(rng.uniform(30, 41)), float(rng.uniform(110, 122)), {f"s{rng.integers(0, 3)}"})
        for i in range(3000)
    }
    index = EngineerIndex(rebuild_after=100)
    index.load((i, la, ln, s) for i, (la, ln, s) in points.items())
    for i in rng.integers(0, 3000, 150):  # past rebuild_after: the trees are rebuilt once
        points[int(i)] = (points[int(i)][0] + 1.0, points[int(i)][1] - 1.0, points[int(i)][2])
        index.upsert(int(i), *points[int(i)])
    for i in rng.integers(0, 3000, 30):
        if int(i) in points:
            del points[int(i)]
            index.remove(int(i))
    for _ in range(50):
        lat, lng, skill = float(rng.uniform(30, 41)), float(rng.uniform(110, 122)), "s1"
        assert list(index.near(lat, lng, 200, skill)) == brute(points, lat, lng, 200, skill)


@pytest.fixture
def indexed(monkeypatch, session):
    monkeypatch.setattr(nearby, "INDEX_FROM", 0)
    nearby.forget(session)
    yield
    nearby.forget(session)


async def test_dispatch_through_the_index_follows_an_engineer_who_moved(
    run, world, session, indexed
):
    ts = gas_engineer(world, session, "ts_gas", TANGSHAN)
    gas_engineer(world, session, "sjz_gas", SHIJIAZHUANG)
    service.save_policy(session, body=GAS_POLICY, user="hq_admin")
    session.commit()
    await run("report", make_step("report"))
    first = await run("dispatch", make_step("dispatch"))
    assert first.output["engineer_id"] == "ts_gas"
    decision = session.scalars(select(DispatchDecision)).one()
    assert decision.explanation["rungs"][0]["excluded"]["too_far"] >= 1  # 石家庄, unseen

    # 唐山's engineer drives to 上海 and says so: the next dispatch knows at once.
    service.save_engineer(
        session,
        scope_path=None,
        code="ts_gas",
        name=ts.name,
        outlet="bj-001",
        skills=["gas"],
        lat=31.2304,
        lng=121.4737,
    )
    session.commit()
    again = await run("dispatch", make_step("dispatch", visit=2))
    assert again.output["engineer_id"] == "sjz_gas"
    assert again.output["rung"] == "in_region_400km"
