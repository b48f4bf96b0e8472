"""One dispatch decision among many engineers: the spatial index vs a vectorised scan.

100,000 engineers clustered around 300 cities in mainland China's box, each certified in
one or two of 8 skills, some busy or full. A decision: the best available engineer with
the job's skill within 200 km, ranked as a policy ranks (score from distance and load,
then distance, then id). The index (servflow.dispatch.index: per skill, rows sorted by
latitude band and longitude, the unit vectors and the haversine's per-row parts beside
them, and a `ready` mark kept current by `upsert` on every change of state) finds the
ready candidates within the radius and their distances; the scan masks and measures all
100,000 with numpy from the current columns. After the build some engineers move (tail
rows) and some change state (rows rewritten in place), in the columns and the index alike.
Both answer the same decisions (asserted), side by side in one run, ranked by one `best`.

Prints `dispatch_index_vs_scan=<median scan time / median index time>` (the two taking
turns block by block), the p50/p99 of one indexed and one scanned decision in µs, the CPU
time (process_time) per decision of each, and `dispatch_index_vs_scan_cold` (turns job by
job: every indexed decision right after a scan has flushed the caches).
`python -m bench.dispatch [engineers] [decisions]`.
"""

from __future__ import annotations

import statistics
import sys
import time

import numpy as np

from servflow.dispatch.index import EngineerIndex, Entry, haversine_km_many

SKILLS = 8
RADIUS_KM = 200.0
CITIES = 300
MOVES = 200
"""Engineers who move (tail rows) after the index is built, before the decisions."""
BLOCK = 20
"""Jobs per block when the scan and the index take turns."""
CHANGES = 2000
"""Engineers whose state or load changes after the build (rows rewritten in place)."""


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


def ready(w: dict[str, np.ndarray], i: int) -> bool:
    return bool(w["available"][i] and w["load"][i] < w["max_load"][i])


def best(ids: np.ndarray, distance: np.ndarray, w: dict[str, np.ndarray]) -> int:
    """The policy's choice among qualified candidates `ids` at `distance` km (-1: none):
    the highest score (to 4 places), then the nearest, then the lowest id."""
    if ids.size == 0:
        return -1
    score = 0.5 * (1 - distance / RADIUS_KM) + 0.2 * (1 - w["load"][ids] / w["max_load"][ids])
    score = np.rint(score * 1e4)  # np.round(score, 4) without its division
    top = np.flatnonzero(score == score.max())
    if top.size == 1:
        return int(ids[top[0]])
    order = np.lexsort((ids[top], distance[top]))
    return int(ids[top[order[0]]])


def scan(w: dict[str, np.ndarray], lat: float, lng: float, skill: int) -> int:
    qualified = w["skills"][:, skill] & w["available"] & (w["load"] < w["max_load"])
    ids = np.nonzero(qualified)[0]
    distance = haversine_km_many(lat, lng, w["lat"][ids], w["lng"][ids])
    inside = distance <= RADIUS_KM
    return best(ids[inside], distance[inside], w)


def indexed(
    index: EngineerIndex, w: dict[str, np.ndarray], lat: float, lng: float, skill: int
) -> int:
    ids, distance = index.within(lat, lng, RADIUS_KM, str(skill), ready_only=True)
    return best(ids, distance, w)


def build(w: dict[str, np.ndarray]) -> EngineerIndex:
    index = EngineerIndex(rebuild_after=10 * MOVES)
    held = [frozenset(str(s) for s in np.nonzero(row)[0]) for row in w["skills"]]
    index.load_entries(
        (i, Entry(float(w["lat"][i]), float(w["lng"][i]), held[i], ready(w, i)))
        for i in range(len(w["lat"]))
    )
    # Some engineers move after the build (tail rows), some take or finish a job or go
    # busy (rows rewritten in place): the index must keep the answers exact.
    rng = np.random.default_rng(11)
    for i in rng.integers(0, len(w["lat"]), MOVES).tolist():
        w["lat"][i] += rng.normal(0, 0.5)
        w["lng"][i] += rng.normal(0, 0.5)
        index.upsert(i, float(w["lat"][i]), float(w["lng"][i]), held[i], ready=ready(w, i))
    for i in rng.integers(0, len(w["lat"]), CHANGES).tolist():
        w["available"][i] = rng.random() < 0.9
        w["load"][i] = rng.integers(0, 4)
        index.upsert(i, float(w["lat"][i]), float(w["lng"][i]), held[i], ready=ready(w, i))
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
    # Interleaved in blocks of BLOCK jobs (a block scanned, the same block indexed, the
    # next block...): on a shared machine both see the same load, and each runs as it
    # would decision after decision. Then interleaved job by job ("cold"): each indexed
    # decision right after a scan that swept ~5 MB of columns through the caches.
    scanned, found, scan_us, index_us, scan_cpu, index_cpu = run_blocks(index, w, jobs, BLOCK)
    cold = run_blocks(index, w, jobs, 1)
    assert scanned == found == cold[0] == cold[1], "the index and the scan disagree"
    chosen = sum(1 for a in found if a >= 0)
    print(f"dispatch_engineers={n}")
    print(f"dispatch_decisions={decisions} with_an_engineer={chosen}")
    print(f"dispatch_index_build_s={build_s:.2f}")
    print(f"dispatch_index_p50_us={pct(index_us, 0.5):.0f}")
    print(f"dispatch_index_p99_us={pct(index_us, 0.99):.0f}")
    print(f"dispatch_scan_p50_us={pct(scan_us, 0.5):.0f}")
    print(f"dispatch_scan_p99_us={pct(scan_us, 0.99):.0f}")
    print(f"dispatch_index_cpu_us={index_cpu / decisions * 1e6:.0f}")
    print(f"dispatch_scan_cpu_us={scan_cpu / decisions * 1e6:.0f}")
    # The ratio of medians: one preempted decision on a shared machine moves a mean.
    ratio = statistics.median(scan_us) / statistics.median(index_us)
    print(f"dispatch_index_vs_scan={ratio:.1f}")
    print(
        f"dispatch_index_vs_scan_mean={statistics.fmean(scan_us) / statistics.fmean(index_us):.1f}"
    )
    print(f"dispatch_index_cold_p50_us={pct(cold[3], 0.5):.0f}")
    print(
        f"dispatch_index_vs_scan_cold={statistics.median(cold[2]) / statistics.median(cold[3]):.1f}"
    )


def run_blocks(
    index: EngineerIndex, w: dict[str, np.ndarray], jobs: list[tuple[float, float, int]], size: int
) -> tuple[list[int], list[int], list[float], list[float], float, float]:
    """Each block of `size` jobs scanned, then indexed: the answers, the µs of each decision
    and the CPU seconds (process_time) of all."""
    scanned: list[int] = []
    found: list[int] = []
    scan_us: list[float] = []
    index_us: list[float] = []
    scan_cpu = index_cpu = 0.0
    for at in range(0, len(jobs), size):
        block = jobs[at : at + size]
        cpu = time.process_time()
        for lat, lng, skill in block:
            started = time.perf_counter()
            scanned.append(scan(w, lat, lng, skill))
            scan_us.append((time.perf_counter() - started) * 1e6)
        between = time.process_time()
        for lat, lng, skill in block:
            started = time.perf_counter()
            found.append(indexed(index, w, lat, lng, skill))
            index_us.append((time.perf_counter() - started) * 1e6)
        scan_cpu += between - cpu
        index_cpu += time.process_time() - between
    return scanned, found, scan_us, index_us, scan_cpu, index_cpu


if __name__ == "__main__":
    main()
