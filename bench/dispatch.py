"""One dispatch decision among many engineers: the spatial index vs a vectorised scan.

100,000 engineers clustered around 300 cities in mainland China's box, each certified in
one or two of 8 skills, some busy or full. A decision: the best available engineer with
the job's skill within 200 km, ranked as a policy ranks (score from distance and load,
then distance, then id). The index (servflow.dispatch.index: a KD-tree per skill, with
the overlay of recent moves) finds the candidates; the scan masks and measures all
100,000 with numpy. Both answer the same decisions (asserted), side by side in one run.

Prints `dispatch_index_vs_scan=<median scan time / median index time>` (the two run
interleaved, job by job) and the p50/p99 of one indexed and one scanned decision in µs.
`python -m bench.dispatch [engineers] [decisions]`.
"""

from __future__ import annotations

import statistics
import sys
import time

import numpy as np

from servflow.dispatch.index import EngineerIndex, haversine_km_many

SKILLS = 8
RADIUS_KM = 200.0
CITIES = 300
MOVES = 200
"""Engineers who move (overlay entries) after the index is built, before the decisions."""


def world(n: int, seed: int = 7) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    cities = np.column_stack([rng.uniform(22, 45, CITIES), rng.uniform(98, 123, CITIES)])
    home = rng.integers(0, CITIES, n)
    spread = rng.normal(0, 0.3, (n, 2))  # about 30 km around the city
    lat, lng = (cities[home] + spread).T
    skills = np.zeros((n, SKILLS), dtype=bool)
    skills[np.arange(n), rng.integers(0, SKILLS, n)] = True
    second = rng.random(n) < 0.3
    skills[np.nonzero(second)[0], rng.integers(0, SKILLS, int(second.sum()))] = True
    available = rng.random(n) < 0.9
    max_load = np.full(n, 3)
    load = rng.integers(0, 4, n)
    return {
        "cities": cities,
        "lat": lat,
        "lng": lng,
        "skills": skills,
        "available": available,
        "load": load,
        "max_load": max_load,
    }


def best(ids: np.ndarray, distance: np.ndarray, w: dict[str, np.ndarray]) -> int:
    """The policy's choice among qualified candidates `ids` at `distance` km (-1: none)."""
    if ids.size == 0:
        return -1
    score = 0.5 * (1 - distance / RADIUS_KM) + 0.2 * (1 - w["load"][ids] / w["max_load"][ids])
    order = np.lexsort((ids, distance, -np.round(score, 4)))
    return int(ids[order[0]])


def scan(w: dict[str, np.ndarray], lat: float, lng: float, skill: int) -> int:
    qualified = w["skills"][:, skill] & w["available"] & (w["load"] < w["max_load"])
    ids = np.nonzero(qualified)[0]
    distance = haversine_km_many(lat, lng, w["lat"][ids], w["lng"][ids])
    inside = distance <= RADIUS_KM
    return best(ids[inside], distance[inside], w)


def indexed(
    index: EngineerIndex, w: dict[str, np.ndarray], lat: float, lng: float, skill: int
) -> int:
    ids = index.near(lat, lng, RADIUS_KM, str(skill))
    ids = ids[w["available"][ids] & (w["load"][ids] < w["max_load"][ids])]
    distance = haversine_km_many(lat, lng, w["lat"][ids], w["lng"][ids])
    return best(ids, distance, w)


def build(w: dict[str, np.ndarray]) -> EngineerIndex:
    index = EngineerIndex(rebuild_after=10 * MOVES)
    index.load(
        (i, float(w["lat"][i]), float(w["lng"][i]), [str(s) for s in np.nonzero(row)[0]])
        for i, row in enumerate(w["skills"])
    )
    # Some engineers move after the build: the overlay must keep the answers exact.
    rng = np.random.default_rng(11)
    for i in rng.integers(0, len(w["lat"]), MOVES):
        w["lat"][i] += rng.normal(0, 0.5)
        w["lng"][i] += rng.normal(0, 0.5)
        held = [str(s) for s in np.nonzero(w["skills"][i])[0]]
        index.upsert(int(i), float(w["lat"][i]), float(w["lng"][i]), held)
    return index


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    decisions = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
    w = world(n)
    started = time.perf_counter()
    index = build(w)
    build_s = time.perf_counter() - started
    rng = np.random.default_rng(3)
    picks = rng.integers(0, CITIES, decisions)
    jobs = [
        (
            float(w["cities"][c][0] + rng.normal(0, 0.2)),
            float(w["cities"][c][1] + rng.normal(0, 0.2)),
            int(rng.integers(0, SKILLS)),
        )
        for c in picks
    ]
    # Interleaved, job by job: on a shared machine both see the same load.
    scanned, found, scan_us, index_us = [], [], [], []
    for lat, lng, skill in jobs:
        started = time.perf_counter()
        scanned.append(scan(w, lat, lng, skill))
        between = time.perf_counter()
        found.append(indexed(index, w, lat, lng, skill))
        scan_us.append((between - started) * 1e6)
        index_us.append((time.perf_counter() - between) * 1e6)
    assert scanned == found, "the index and the scan disagree"
    chosen = sum(1 for a in found if a >= 0)
    print(f"dispatch_engineers={n}")
    print(f"dispatch_decisions={decisions} with_an_engineer={chosen}")
    print(f"dispatch_index_build_s={build_s:.2f}")
    print(f"dispatch_index_p50_us={pct(index_us, 0.5):.0f}")
    print(f"dispatch_index_p99_us={pct(index_us, 0.99):.0f}")
    print(f"dispatch_scan_p50_us={pct(scan_us, 0.5):.0f}")
    print(f"dispatch_scan_p99_us={pct(scan_us, 0.99):.0f}")
    # The ratio of medians: one preempted decision on a shared machine moves a mean.
    ratio = statistics.median(scan_us) / statistics.median(index_us)
    print(f"dispatch_index_vs_scan={ratio:.1f}")
    print(
        f"dispatch_index_vs_scan_mean={statistics.fmean(scan_us) / statistics.fmean(index_us):.1f}"
    )


if __name__ == "__main__":
    main()
