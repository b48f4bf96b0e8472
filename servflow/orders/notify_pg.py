"""PostgreSQL LISTEN/NOTIFY wakes the long polls of every API replica.

The one writer of waiting steps (servflow.orders.steps) calls `notify` in the transaction
that makes a step wait, records a submitted step or closes an order: PostgreSQL delivers
the notification on commit only, so a listener never hears of a row it cannot read yet.
Each API process runs one `Listener` (a dedicated psycopg connection in a task of its event
loop, reconnecting with backoff) that hands each order id to `StepWatch.wake`. The watch's
timer tick stays as a slower fallback, so a lost notification or a dropped listener never
strands a waiter. On SQLite `notify` does nothing and the watch ticks as before.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import psycopg
from psycopg import sql
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

CHANNEL = "servflow_steps"
MAX_PAYLOAD = 200  # an order id is far shorter; anything longer is not one of ours


def notify(session: Session, order_id: str) -> None:
    """Queues a notification naming `order_id`, sent when `session` commits (PostgreSQL
    only; a rollback drops it)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_notify(CHANNEL, order_id)))


def conninfo(database_url: str) -> str:
    """The libpq URI of a SQLAlchemy PostgreSQL URL (its query, e.g. `options` and
    `application_name`, kept, so faults aimed at the services' connections hit this one)."""
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


class Listener:
    """One LISTEN connection per API process, handing each notified order id to `on_order`.

    `on_up(True)` runs after each (re)connection (notifications sent while it was down are
    lost, so the watch then looks at every order it watches) and `on_up(False)` when the
    connection drops. Every `keepalive` seconds without a notification the connection is
    checked with a query, so a silently dead link is noticed too.
    """

    def __init__(
        self,
        database_url: str,
        on_order: Callable[[str], object],
        on_up: Callable[[bool], object] = lambda _up: None,
        *,
        keepalive: float = 10.0,
        min_backoff: float = 0.1,
        max_backoff: float = 5.0,
    ) -> None:
        self.conninfo = conninfo(database_url)
        self.on_order, self.on_up = on_order, on_up
        self.keepalive, self.min_backoff, self.max_backoff = keepalive, min_backoff, max_backoff
        self.connected = asyncio.Event()
        self.connections = 0  # how many times it connected (a reconnect makes it 2, 3, …)
        self.backend_pid: int | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="servflow-step-listener")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self) -> None:
        delay = self.min_backoff
        while True:
            try:
                await self._listen()
            except Exception:  # a refused or dropped connection, or anything else: reconnect
                log.warning(
                    "step listener lost its connection; retrying in %.1f s", delay, exc_info=True
                )
            finally:
                if self.connected.is_set():
                    self.connected.clear()
                    self.backend_pid = None
                    self.on_up(False)
            await asyncio.sleep(delay)
            delay = self.min_backoff if self._was_up else min(delay * 2, self.max_backoff)

    _was_up = False

    async def _listen(self) -> None:
        self._was_up = False
        async with await psycopg.AsyncConnection.connect(
            self.conninfo, autocommit=True, connect_timeout=10
        ) as conn:
            await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(CHANNEL)))
            self.backend_pid = conn.info.backend_pid
            self.connections += 1
            self._was_up = True
            self.connected.set()
            self.on_up(True)
            while True:
                heard = False
                async for note in conn.notifies(timeout=self.keepalive):
                    heard = True
                    if note.channel == CHANNEL and 0 < len(note.payload) <= MAX_PAYLOAD:
                        self.on_order(note.payload)
                if not heard:
                    await conn.execute("SELECT 1")
