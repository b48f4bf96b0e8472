"""Small portable SQL helpers (INSERT ... ON CONFLICT on SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def insert_ignore(
    session: Session, table: Table, rows: Sequence[dict[str, Any]], *, conflict: Sequence[str]
) -> int:
    """Inserts `rows`, skipping any that collide on the unique columns `conflict`.

    Returns:
        How many rows were inserted.
    """
    if not rows:
        return 0
    dialect = session.get_bind().dialect.name
    module: Any = postgresql if dialect == "postgresql" else sqlite
    statement = (
        module.insert(table)
        .values(list(rows))
        .on_conflict_do_nothing(index_elements=list(conflict))
        .returning(table.c[conflict[0]])
    )
    # RETURNING, not rowcount: drivers disagree on rowcount for multi-row upserts.
    return len(session.execute(statement).all())


def upsert(
    session: Session,
    table: Table,
    rows: Sequence[dict[str, Any]],
    *,
    conflict: Sequence[str],
    update: Sequence[str],
    where: Callable[[Any], ColumnElement[bool]],
) -> None:
    """Inserts `rows`; a row colliding on `conflict` instead sets its `update` columns to the
    new values, but only where `where(excluded)` holds (`excluded`: the proposed row)."""
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    module: Any = postgresql if dialect == "postgresql" else sqlite
    statement = module.insert(table).values(list(rows))
    excluded = statement.excluded
    session.execute(
        statement.on_conflict_do_update(
            index_elements=list(conflict),
            set_={name: excluded[name] for name in update},
            where=where(excluded),
        )
    )
