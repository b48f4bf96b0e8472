"""The spatial index of each database's engineers, kept current from `engineer.updated_at`.

Every write dispatch sees (position, state, certificates: `save_engineer`) moves the
engineer's `updated_at`. Before a query the index asks the database three numbers (how
many engineers, the largest id, the latest change) and catches up: the engineers changed
since its last look are upserted (or removed when off duty or without a position), and a
count or id it cannot explain (rows deleted, or written with an older `updated_at`)
reloads everything. Each worker process keeps its own index; the database decides (the
rows the index names are reloaded and filtered as stored).

PostgreSQL path at larger scale (documented in docs/dispatch.md): the same query as one
SQL statement with PostGIS (`ST_DWithin(position::geography, point, radius)` over a GiST
index on a `geography(Point)` column, and a GIN index on the certificates), or H3 cells
in an indexed column; this in-process index needs neither extension.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from servflow.dispatch import repo
from servflow.dispatch.index import EngineerIndex
from servflow.dispatch.rules import normalize_skill

INDEX_FROM = 2000
"""Engineers from which a rung with a radius asks the index instead of scanning its pool."""
SKEW = timedelta(seconds=5)
"""Rows changed this long before the last one seen are read again (clocks of writers)."""


@dataclass
class _Synced:
    index: EngineerIndex = field(default_factory=EngineerIndex)
    count: int = -1
    top_id: int = -1
    latest: datetime | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


_BY_DATABASE: dict[str, _Synced] = {}
_GUARD = threading.Lock()


def _entry(row: tuple[Any, ...]) -> tuple[int, float, float, list[str]] | None:
    engineer_id, lat, lng, state, skills, certificates = row
    if lat is None or lng is None or state == "off":
        return None
    held = {normalize_skill(s) for s in skills or []}
    held |= {normalize_skill(str(c.get("skill", ""))) for c in certificates or []}
    return int(engineer_id), float(lat), float(lng), sorted(held)


def _database(session: Session) -> str:
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    return str(engine.url)


def _synced(session: Session) -> _Synced:
    key = _database(session)
    with _GUARD:
        return _BY_DATABASE.setdefault(key, _Synced())


def engineer_count(session: Session) -> int:
    return repo.engineer_stats(session)[0]


def index_for(session: Session) -> EngineerIndex:
    """This database's index, caught up with the engineers as stored now."""
    synced = _synced(session)
    count, top_id, latest = repo.engineer_stats(session)
    with synced.lock:
        if synced.count < 0:
            _reload(session, synced)
            return synced.index
        if latest is not None and (synced.latest is None or latest > synced.latest):
            since = synced.latest - SKEW if synced.latest is not None else None
            for row in repo.engineer_positions(session, changed_since=since):
                entry = _entry(row)
                if entry is None:
                    synced.index.remove(int(row[0]))
                else:
                    synced.index.upsert(*entry)
            synced.latest = latest
        added = count - synced.count
        # New rows carry a fresh `updated_at` (caught up above); anything else — a row
        # deleted, ids skipped — is not explained by changes, so everything is read again.
        if added < 0 or top_id - synced.top_id != added:
            _reload(session, synced)
        synced.count, synced.top_id = count, top_id
    return synced.index


def _reload(session: Session, synced: _Synced) -> None:
    rows = repo.engineer_positions(session)
    synced.index.load(e for row in rows if (e := _entry(row)) is not None)
    count, top_id, latest = repo.engineer_stats(session)
    synced.count, synced.top_id, synced.latest = count, top_id, latest


def forget(session: Session) -> None:
    """Drops this database's index (tests that rebuild their database)."""
    with _GUARD:
        _BY_DATABASE.pop(_database(session), None)
