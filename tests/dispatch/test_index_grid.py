"""The banded index: exact haversine distances, readiness kept in place, the antimeridian,
the poles, and the benchmark's two ways of deciding agreeing."""

import numpy as np

from bench import dispatch as bench
from servflow.dispatch.index import EngineerIndex, haversine_km_many


def brute(points, lat, lng, radius, skill="", ready_only=False):
    ids = [
        i
        for i, (_la, _ln, skills, ready) in points.items()
        if (not skill or skill in skills) and (ready or not ready_only)
    ]
    if not ids:
        return [], np.empty(0)
    lats = np.array([points[i][0] for i in ids])
    lngs = np.array([points[i][1] for i in ids])
    km = haversine_km_many(lat, lng, lats, lngs)
    inside = km <= radius
    order = np.argsort(np.array(ids)[inside])
    return list(np.array(ids)[inside][order]), km[inside][order]


def ask(index, lat, lng, radius, skill="", ready_only=False):
    ids, km = index.within(lat, lng, radius, skill, ready_only=ready_only)
    order = np.argsort(ids)
    return list(ids[order]), km[order]


def load(points, rebuild_after=64):
    index = EngineerIndex(rebuild_after=rebuild_after)
    index.load((i, la, ln, s) for i, (la, ln, s, _r) in points.items())
    for i, (la, ln, s, r) in points.items():
        if not r:
            index.upsert(i, la, ln, s, ready=False)
    return index


def test_distances_are_the_scans_haversine_bit_for_bit():
    rng = np.random.default_rng(1)
    points = {
        i: (float(rng.uniform(20, 45)), float(rng.uniform(95, 125)), {"gas"}, True)
        for i in range(4000)
    }
    index = load(points)
    for _ in range(40):
        lat, lng = float(rng.uniform(22, 43)), float(rng.uniform(98, 122))
        ids, km = ask(index, lat, lng, 300, "gas")
        want_ids, want_km = brute(points, lat, lng, 300, "gas")
        assert ids == want_ids
        assert np.array_equal(km, want_km)  # equal floats, not close ones


def test_a_change_of_state_is_seen_at_once_without_a_new_row():
    points = {1: (39.9, 116.4, {"gas"}, True), 2: (39.95, 116.5, {"gas"}, True)}
    index = load(points)
    assert ask(index, 39.9, 116.4, 50, "gas", ready_only=True)[0] == [1, 2]
    shard = index._shards["gas"]
    index.upsert(1, 39.9, 116.4, {"gas"}, ready=False)  # took a job, did not move
    assert shard.end == shard.size  # rewritten in place, no tail row
    assert ask(index, 39.9, 116.4, 50, "gas", ready_only=True)[0] == [2]
    assert ask(index, 39.9, 116.4, 50, "gas")[0] == [1, 2]  # still there for explanations
    index.upsert(1, 39.9, 116.4, {"gas"}, ready=True)
    assert ask(index, 39.9, 116.4, 50, "gas", ready_only=True)[0] == [1, 2]


def test_moves_new_skills_and_removals_through_the_tail_and_a_rebuild():
    rng = np.random.default_rng(8)
    points = {
        i: (
            float(rng.uniform(30, 41)),
            float(rng.uniform(110, 122)),
            {f"s{rng.integers(0, 3)}"},
            bool(rng.random() < 0.8),
        )
        for i in range(2000)
    }
    index = load(points, rebuild_after=50)
    for step in range(300):  # past rebuild_after several times; some move twice
        i = int(rng.integers(0, 2500))  # ids above 1999 are new engineers
        kind = rng.random()
        if kind < 0.15 and i in points:
            del points[i]
            index.remove(i)
            continue
        la, ln = float(rng.uniform(30, 41)), float(rng.uniform(110, 122))
        skills = {f"s{rng.integers(0, 4)}"}  # s3: a skill no shard had at the build
        ready = bool(rng.random() < 0.8)
        points[i] = (la, ln, skills, ready)
        index.upsert(i, la, ln, skills, ready=ready)
        if step % 10 == 0:
            lat, lng = float(rng.uniform(30, 41)), float(rng.uniform(110, 122))
            for skill in ("s1", "s3", ""):
                for ready_only in (False, True):
                    got = ask(index, lat, lng, 250, skill, ready_only)
                    want = brute(points, lat, lng, 250, skill, ready_only)
                    assert got[0] == want[0]
                    assert np.array_equal(got[1], want[1])
    assert len(index) == len(points)


def test_the_antimeridian_and_the_poles_are_searched_as_a_scan_would():
    rng = np.random.default_rng(3)
    points = {}
    for i in range(1500):  # around Fiji (±180°) and near both poles
        if i % 3 == 0:
            la, ln = float(rng.uniform(-25, -10)), float(rng.uniform(-180, 180))
            ln = 180 - (ln % 6) if i % 2 else -180 + (ln % 6)
        else:
            la = float(rng.choice([-1, 1]) * rng.uniform(80, 90))
            ln = float(rng.uniform(-180, 180))
        points[i] = (la, ln, {"gas"}, True)
    index = load(points)
    for lat, lng, radius in [
        (-17.7, 179.9, 400),
        (-17.7, -179.9, 400),
        (-18.0, 178.0, 800),
        (89.5, 0.0, 300),
        (-88.0, 120.0, 900),
        (84.0, 170.0, 700),
        (0.0, 0.0, 12000),  # more than a hemisphere: every row is measured
    ]:
        got = ask(index, lat, lng, radius, "gas")
        want = brute(points, lat, lng, radius, "gas")
        assert got[0] == want[0], (lat, lng, radius)
        assert np.array_equal(got[1], want[1])


def test_an_unknown_skill_finds_nobody():
    index = load({1: (39.9, 116.4, {"gas"}, True)})
    ids, km = index.within(39.9, 116.4, 100, "refrigeration")
    assert ids.size == 0 and km.size == 0


def test_the_benchmarks_index_and_scan_choose_the_same_engineers():
    w = bench.world(6000, seed=4)
    index = bench.build(w)
    rng = np.random.default_rng(9)
    for _ in range(150):
        city = w["cities"][int(rng.integers(0, bench.CITIES))]
        lat, lng = float(city[0] + rng.normal(0, 0.3)), float(city[1] + rng.normal(0, 0.3))
        skill = int(rng.integers(0, bench.SKILLS))
        assert bench.indexed(index, w, lat, lng, skill) == bench.scan(w, lat, lng, skill)
