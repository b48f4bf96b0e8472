"""Engine and session factory for SQLite (default) and PostgreSQL (psycopg 3)."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

DEFAULT_DATABASE_URL = "sqlite:///var/servflow.db"
SQLITE_BUSY_TIMEOUT_MS = 15_000


def database_url() -> str:
    """The URL from SERVFLOW_DATABASE_URL, or the SQLite file under var/."""
    return os.environ.get("SERVFLOW_DATABASE_URL") or DEFAULT_DATABASE_URL


def make_engine(url: str | None = None, **kwargs: Any) -> Engine:
    """Creates an engine; SQLite gets WAL, synchronous=NORMAL, foreign keys, busy timeout.

    Args:
        url: SQLAlchemy URL; defaults to `database_url()`.
        **kwargs: passed to `sqlalchemy.create_engine`.
    """
    sa_url = make_url(url or database_url())
    if sa_url.get_backend_name() == "sqlite":
        database = sa_url.database or ""
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        kwargs.setdefault("connect_args", {}).setdefault("check_same_thread", False)
        if database and database != ":memory:":
            # Enough pooled connections for the API's worker threads: an overflow connection
            # is opened (and its pragmas run) per use and closed again, under load each time.
            kwargs.setdefault("pool_size", 20)
            kwargs.setdefault("max_overflow", 20)
        engine = create_engine(sa_url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        _queue_writers(engine)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    return create_engine(sa_url, **kwargs)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    finally:
        cursor.close()


_READS = ("SELECT", "PRAGMA", "WITH")


def _queue_writers(engine: Engine) -> None:
    """Lets this process's write transactions take turns on a lock of their own.

    SQLite has one writer; a connection that finds it busy sleeps and tries again, up to
    100 ms a time, so under load some writers keep losing and wait for seconds. Queued on
    a Python lock, the threads of one process write one after the other, and only whole
    processes (API, worker) meet at SQLite's lock. Reads never wait for it.
    """
    lock = threading.Lock()

    @event.listens_for(engine, "before_cursor_execute")
    def _writer(conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if conn.info.get("writer") or statement.lstrip()[:6].upper().startswith(_READS):
            return
        # Bounded like SQLite's own wait: a nested writer in one thread falls back to it.
        conn.info["writer"] = lock.acquire(timeout=SQLITE_BUSY_TIMEOUT_MS / 1000)

    def _done(conn: Any) -> None:
        if conn.info.pop("writer", False):
            lock.release()

    event.listen(engine, "commit", _done)
    event.listen(engine, "rollback", _done)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded objects usable after commit (the API returns them)."""
    return sessionmaker(bind=engine, expire_on_commit=False)
