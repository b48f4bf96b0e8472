"""Small portable SQL helpers (INSERT ... ON CONFLICT DO NOTHING on SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table
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
