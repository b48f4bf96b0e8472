"""A spatial index of engineers for dispatch: who is within a radius, by skill (pure, numpy;
no database).

One shard per skill (and one, under "", for jobs needing none) holds the engineers who may
take a job needing that skill as one float block of contiguous columns: latitude in
radians, its cosine (the haversine's per-engineer parts), longitude and id — and a second
copy in which the engineers not `ready` (free to take a job now) are blank (NaN), for
callers that keep readiness in the index.

The rows are sorted by latitude band (`BAND_DEG`) then longitude, so the engineers of one
band inside a longitude range are one slice found by `searchsorted`. A query takes the
bounding box of the spherical cap (the bands it spans, asin(sin θ / cos φ) of longitude
either side, split at the antimeridian, whole bands when the cap holds a pole), copies
those slices and measures them with the haversine formula — the operations of
`haversine_km_many` in its order, so the distances are bit for bit the ones a scan
measures. No per-candidate Python: a query is a dozen numpy calls over a few hundred rows.

Changes are cheap: a change of state only (`ready`; same position, same skills) rewrites
the engineer's rows in place; a move, a new engineer or a new skill appends a row to the
shard's tail (read whole by every query) and blanks the old row; `remove` blanks the rows.
Once a tail holds `rebuild_after` rows the shards are rebuilt from the entries.

Chosen over one scipy cKDTree per skill (its `query_ball_point` alone took ≈35–45 µs on
100,000 engineers, answering a Python list; ≈200 µs a decision in all) and scikit-learn's
BallTree on haversine (≈340 µs a query). Figures: docs/dispatch.md, "Fast at scale".

The index narrows, the database decides: dispatch reloads the engineers it returns and
applies every hard filter to the rows as stored (state, load, leave, certificate expiry).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from servflow.platform.geo import EARTH_RADIUS_KM

ANY_SKILL = ""
BAND_DEG = 0.5
"""Height of a latitude band in degrees (≈55 km): a 200 km query reads 8 or 9 slices."""
_KEY_SPAN = 1000.0
"""A row's sort key is band * _KEY_SPAN + longitude in [0, 360): bands never overlap."""
_MARGIN_DEG = 1e-6
"""The bounding box is this much wider (≈0.1 m) so float rounding never cuts a row."""


@dataclass(frozen=True)
class Entry:
    lat: float
    lng: float
    skills: frozenset[str]
    ready: bool = True


def unit_vectors(lats: np.ndarray, lngs: np.ndarray) -> np.ndarray:
    """Points on the unit sphere (x, y, z) for latitudes and longitudes in degrees."""
    phi, lmb = np.radians(lats), np.radians(lngs)
    return np.column_stack([np.cos(phi) * np.cos(lmb), np.cos(phi) * np.sin(lmb), np.sin(phi)])


def chord(radius_km: float) -> float:
    """The straight-line distance on the unit sphere of a great-circle distance in km."""
    return float(2 * np.sin(min(radius_km / EARTH_RADIUS_KM, np.pi) / 2))


def haversine_km_many(lat: float, lng: float, lats: np.ndarray, lngs: np.ndarray) -> np.ndarray:
    """Distances in km from one point to many (vectorised)."""
    phi1, phi2 = np.radians(lat), np.radians(lats)
    dphi = phi2 - phi1
    dlmb = np.radians(lngs - lng)
    a = np.sin(dphi / 2) ** 2 + np.cos(phi1) * np.cos(phi2) * np.sin(dlmb / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.minimum(1.0, np.sqrt(a)))


def _band(lat: float) -> int:
    return math.floor((lat + 90.0) / BAND_DEG)


def _keys(lat: np.ndarray, lng: np.ndarray) -> np.ndarray:
    return np.floor((lat + 90.0) / BAND_DEG) * _KEY_SPAN + np.mod(lng + 180.0, 360.0)


@dataclass(frozen=True)
class _Query:
    """One query's cap, shared by the shards it reads: the keys bounding its box, band by
    band (west keys, then east keys; None: every row)."""

    lat: float
    lng: float
    radius_km: float
    bounds: np.ndarray | None


def _query(lat: float, lng: float, radius_km: float) -> _Query:
    theta = radius_km / EARTH_RADIUS_KM
    if theta >= math.pi / 2:
        return _Query(lat, lng, radius_km, None)  # a hemisphere or more: every row
    dlat = math.degrees(theta) + _MARGIN_DEG
    south, north = lat - dlat, lat + dlat
    spread = math.sin(theta) / max(math.cos(math.radians(lat)), 1e-300)
    if south <= -90.0 or north >= 90.0 or spread >= 1.0:
        spans = [(0.0, 360.0 + _MARGIN_DEG)]  # the cap holds a pole or wraps the band
    else:
        dlng = math.degrees(math.asin(spread)) + _MARGIN_DEG
        west = (lng + 180.0 - dlng) % 360.0
        east = west + 2 * dlng
        spans = (
            [(west, east)]
            if east <= 360.0
            else [(west, 360.0 + _MARGIN_DEG), (-_MARGIN_DEG, east - 360.0)]
        )
    west_keys, east_keys = [], []
    for band in range(_band(max(south, -90.0)), _band(min(north, 90.0)) + 1):
        base = band * _KEY_SPAN
        for west_key, east_key in spans:
            west_keys.append(base + west_key)
            east_keys.append(base + east_key)
    return _Query(lat, lng, radius_km, np.array(west_keys + east_keys))


# The columns of a shard's blocks, one row per engineer: radians(lat) (NaN: a blank row, or
# in the ready block an engineer not ready), its cosine, the longitude and the id.
_PHI, _COS_PHI, _LNG, _ID = 0, 1, 2, 3
_WIDTH = 4


class _Shard:
    """The engineers holding one skill: sorted rows [0, size) then a tail [size, end) of
    rows written since the build; capacity for `spare` tail rows. One float block holds
    every column a query reads (another the same with the rows of engineers not ready
    blank), so the rows of a band's slice are copied in one go."""

    def __init__(
        self, ids: np.ndarray, lat: np.ndarray, lng: np.ndarray, ready: np.ndarray, *, spare: int
    ) -> None:
        keys = _keys(lat, lng)
        order = np.argsort(keys, kind="stable")
        size = len(ids)
        capacity = size + max(spare, 1)
        self.keys = keys[order]
        self.size = size
        self.end = size
        self.lat = np.zeros(capacity)
        self.lat[:size] = lat[order]
        block = np.full((capacity, _WIDTH), np.nan)
        block[:size, _PHI] = np.radians(self.lat[:size])
        block[:size, _COS_PHI] = np.cos(block[:size, _PHI])
        block[:size, _LNG] = lng[order]
        block[:size, _ID] = ids[order]  # ids below 2**53 are exact as floats
        self.block = block
        self.ready = block.copy()
        self.ready[np.nonzero(~ready[order])[0], _PHI] = np.nan
        self.row: dict[int, int] = dict(zip(ids[order].tolist(), range(size), strict=True))

    def put(self, engineer_id: int, entry: Entry) -> bool:
        """Writes the engineer's row (in place when only the state changed or the row is in
        the tail, else a new tail row); False when the tail is full."""
        row = self.row.get(engineer_id)
        if row is not None and (
            row >= self.size or (self.lat[row] == entry.lat and self.block[row, _LNG] == entry.lng)
        ):
            self._write(row, engineer_id, entry)
            return True
        if self.end == len(self.block):
            return False
        if row is not None:
            self._blank(row)
        self._write(self.end, engineer_id, entry)
        self.row[engineer_id] = self.end
        self.end += 1
        return True

    def drop(self, engineer_id: int) -> None:
        row = self.row.pop(engineer_id, None)
        if row is not None:
            self._blank(row)

    def _blank(self, row: int) -> None:
        self.block[row, _PHI] = np.nan
        self.ready[row, _PHI] = np.nan

    def _write(self, row: int, engineer_id: int, entry: Entry) -> None:
        self.lat[row] = entry.lat
        phi = np.radians(np.array([entry.lat]))
        self.block[row] = (phi[0], np.cos(phi)[0], entry.lng, engineer_id)
        self.ready[row] = self.block[row]
        if not entry.ready:
            self.ready[row, _PHI] = np.nan

    def within(self, q: _Query, *, ready_only: bool) -> tuple[np.ndarray, np.ndarray]:
        block = self.ready if ready_only else self.block
        if q.bounds is None:
            rows = block[: self.end]
        else:
            found = np.searchsorted(self.keys, q.bounds).tolist()
            half = len(found) // 2
            parts = [block[a:b] for a, b in zip(found[:half], found[half:], strict=True) if b > a]
            if self.end > self.size:
                parts.append(block[self.size : self.end])
            if not parts:
                return _EMPTY_IDS, _EMPTY_KM
            rows = parts[0] if len(parts) == 1 else np.concatenate(parts)
        # haversine_km_many's operations in its order, with radians(lat) and its cosine read
        # from the block: the same floats a scan measures. A blank row is NaN, never inside.
        phi1 = np.radians(q.lat)
        dphi = rows[:, _PHI] - phi1
        dlmb = np.radians(rows[:, _LNG] - q.lng)
        a = np.sin(dphi / 2) ** 2 + np.cos(phi1) * rows[:, _COS_PHI] * np.sin(dlmb / 2) ** 2
        km = 2 * EARTH_RADIUS_KM * np.arcsin(np.minimum(1.0, np.sqrt(a)))
        inside = km <= q.radius_km
        return rows[:, _ID][inside].astype(np.int64), km[inside]


_EMPTY_IDS = np.empty(0, dtype=np.int64)
_EMPTY_KM = np.empty(0)


class EngineerIndex:
    """Engineers' positions by skill, queried by radius, kept current incrementally."""

    def __init__(self, *, rebuild_after: int = 512) -> None:
        self._entries: dict[int, Entry] = {}
        self._shards: dict[str, _Shard] = {}
        self._rebuild_after = rebuild_after
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def load(self, entries: Iterable[tuple[int, float, float, Iterable[str]]]) -> None:
        """Replaces everything with (id, lat, lng, skills) rows, all ready, and builds once."""
        self.load_entries((i, Entry(lat, lng, frozenset(s))) for i, lat, lng, s in entries)

    def load_entries(self, entries: Iterable[tuple[int, Entry]]) -> None:
        with self._lock:
            self._entries = dict(entries)
            self._rebuild()

    def upsert(
        self, engineer_id: int, lat: float, lng: float, skills: Iterable[str], *, ready: bool = True
    ) -> None:
        """An engineer who may take jobs, at (lat, lng), holding `skills` (valid ones);
        `ready`: free to take one now (what `within(..., ready_only=True)` keeps)."""
        entry = Entry(float(lat), float(lng), frozenset(skills), bool(ready))
        with self._lock:
            old = self._entries.get(engineer_id)
            self._entries[engineer_id] = entry
            wanted = entry.skills | {ANY_SKILL}
            for skill in (old.skills | {ANY_SKILL}) - wanted if old else ():
                if (shard := self._shards.get(skill)) is not None:
                    shard.drop(engineer_id)
            for skill in wanted:
                shard = self._shards.get(skill)
                if shard is None or not shard.put(engineer_id, entry):
                    self._rebuild()  # a new skill, or a full tail
                    return

    def remove(self, engineer_id: int) -> None:
        """An engineer no job goes to (gone, off duty, without a position)."""
        with self._lock:
            old = self._entries.pop(engineer_id, None)
            if old is not None:
                for skill in old.skills | {ANY_SKILL}:
                    if (shard := self._shards.get(skill)) is not None:
                        shard.drop(engineer_id)

    def rebuild(self) -> None:
        """Builds the shards from the entries; the tails are empty afterwards."""
        with self._lock:
            self._rebuild()

    def _rebuild(self) -> None:
        count = len(self._entries)
        ids = np.fromiter(self._entries.keys(), dtype=np.int64, count=count)
        lat = np.fromiter((e.lat for e in self._entries.values()), dtype=float, count=count)
        lng = np.fromiter((e.lng for e in self._entries.values()), dtype=float, count=count)
        ready = np.fromiter((e.ready for e in self._entries.values()), dtype=bool, count=count)
        rows: dict[str, list[int]] = {ANY_SKILL: list(range(count))}
        for at, entry in enumerate(self._entries.values()):
            for skill in entry.skills:
                rows.setdefault(skill, []).append(at)
        shards = {}
        for skill, taken in rows.items():
            pick = np.array(taken, dtype=np.int64)
            shards[skill] = _Shard(
                ids[pick], lat[pick], lng[pick], ready[pick], spare=self._rebuild_after
            )
        self._shards = shards

    def within(
        self,
        lat: float,
        lng: float,
        radius_km: float,
        skill: str = ANY_SKILL,
        *,
        ready_only: bool = False,
    ) -> tuple[np.ndarray, np.ndarray]:
        """(ids, km): the engineers holding `skill` within `radius_km` of (lat, lng) —
        with `ready_only` only those upserted ready — and their haversine distance, in no
        particular order."""
        q = _query(lat, lng, radius_km)
        with self._lock:
            shard = self._shards.get(skill)
            if shard is None:
                return _EMPTY_IDS, _EMPTY_KM
            return shard.within(q, ready_only=ready_only)

    def near(self, lat: float, lng: float, radius_km: float, skill: str = ANY_SKILL) -> np.ndarray:
        """Ids of the engineers holding `skill` within `radius_km` of (lat, lng), sorted."""
        return np.sort(self.within(lat, lng, radius_km, skill)[0])
