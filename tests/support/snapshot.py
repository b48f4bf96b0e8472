"""Seeded data captured once per database and written back for each later test.

Loading the demo (validation, prices, engineers, stock, the published pipeline) costs about
a second of CPU; hundreds of tests start from exactly the same rows. The first test on a
database runs the real loader, its rows are read back table by table, and every later test
gets them back as plain INSERTs (parents first), with PostgreSQL's id sequences moved past
them. A database that is not empty when a test seeds it falls back to the real loader.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, Integer, Table, func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from servflow.dispatch import nearby
from servflow.tables import metadata

Rows = list[tuple[Table, list[dict[str, Any]]]]

_TAKEN: dict[tuple[str, str], Rows] = {}  # by database and loader


def seeded(factory: sessionmaker[Session], load: Callable[[sessionmaker[Session]], None]) -> None:
    """Runs `load` on the first call for this database, restores its rows on later ones."""
    engine = _engine(factory)
    key = (
        engine.url.render_as_string(hide_password=False),
        f"{load.__module__}.{load.__qualname__}",
    )
    rows = _TAKEN.get(key)
    if rows is not None:
        try:
            _restore(engine, rows)
        except IntegrityError:
            pass  # the test seeded a database that already had rows: load for real
        else:
            _forget_caches(factory)
            return
    load(factory)
    _TAKEN[key] = _capture(engine)


def _engine(factory: sessionmaker[Session]) -> Engine:
    bind = factory.kw["bind"]
    return bind if isinstance(bind, Engine) else bind.engine


def _capture(engine: Engine) -> Rows:
    with engine.connect() as connection:
        return [
            (table, [dict(row) for row in connection.execute(select(table)).mappings()])
            for table in metadata.sorted_tables
        ]


def _restore(engine: Engine, rows: Rows) -> None:
    with engine.begin() as connection:
        for table, table_rows in rows:
            if table_rows:
                connection.execute(table.insert(), table_rows)
        if engine.dialect.name == "postgresql":
            for table, table_rows in rows:
                column = _serial_column(table)
                if column is not None and table_rows:
                    top = connection.execute(select(func.max(table.c[column]))).scalar_one()
                    connection.execute(
                        text("SELECT setval(pg_get_serial_sequence(:t, :c), :v)"),
                        {"t": table.name, "c": column, "v": top},
                    )


def _serial_column(table: Table) -> str | None:
    """The table's integer id drawn from a sequence, if it has one."""
    keys = list(table.primary_key.columns)
    if (
        len(keys) == 1
        and isinstance(keys[0].type, Integer)
        and keys[0].autoincrement
        in (
            True,
            "auto",
        )
    ):
        return keys[0].name
    return None


def _forget_caches(factory: sessionmaker[Session]) -> None:
    """Process caches that follow the database by its change stamps: restored rows carry the
    first load's stamps, so such a cache would not see that they replaced a test's rows."""
    with factory() as session:
        nearby.forget(session)
