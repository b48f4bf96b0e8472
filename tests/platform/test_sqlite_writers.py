"""SQLite's one writer: a process's threads take turns, reads never wait, nothing hangs."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import OperationalError

from servflow.platform import db
from servflow.platform.models import Counter
from servflow.tables import metadata


@pytest.fixture
def factory(tmp_path):
    engine = db.make_engine(f"sqlite:///{tmp_path / 'writers.db'}")
    metadata.create_all(engine)
    factory = db.make_session_factory(engine)
    with factory() as session:
        session.add(Counter(name="jobs", value=0))
        session.commit()
    yield factory
    engine.dispose()


def increment(factory) -> None:
    with factory() as session:
        session.execute(update(Counter).values(value=Counter.value + 1))
        time.sleep(0.001)  # hold the write a moment, as a real transaction does
        session.commit()


def value(factory) -> int:
    with factory() as session:
        return session.scalar(select(Counter.value).where(Counter.name == "jobs"))


def test_many_threads_writing_at_once_all_land(factory):
    with ThreadPoolExecutor(max_workers=16) as pool:
        for future in [pool.submit(increment, factory) for _ in range(200)]:
            future.result()  # none gave up with "database is locked"
    assert value(factory) == 200


def test_reads_go_on_while_a_write_is_open(factory):
    writing, done = threading.Event(), threading.Event()

    def long_write() -> None:
        with factory() as session:
            session.execute(update(Counter).values(value=41))
            writing.set()
            done.wait(5)
            session.commit()

    writer = threading.Thread(target=long_write)
    writer.start()
    writing.wait(5)
    started = time.monotonic()
    assert value(factory) == 0  # the committed value, at once
    assert time.monotonic() - started < 1
    done.set()
    writer.join()
    assert value(factory) == 41


def test_a_nested_writer_in_one_thread_fails_instead_of_hanging(factory, monkeypatch):
    monkeypatch.setattr(db, "SQLITE_BUSY_TIMEOUT_MS", 200)
    with factory() as outer:
        outer.execute(update(Counter).values(value=1))
        with pytest.raises(OperationalError, match="locked"):
            increment(factory)
        outer.rollback()
    increment(factory)  # the lock was given back on both paths
    assert value(factory) == 1
