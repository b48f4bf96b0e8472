"""Queries of the journal, its stream heads and checkpoints."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, func, insert, select
from sqlalchemy.orm import Session

from servflow.ledger.models import LedgerCheckpoint, LedgerEntry, LedgerStream
from servflow.platform.sql import insert_ignore

ENTRY = LedgerEntry.__table__
ENTRY_COLUMNS = tuple(c.name for c in ENTRY.columns if c.name != "id")


def lock_stream(session: Session, *, name: str, genesis: str) -> LedgerStream:
    """The stream's head row, created when missing, locked until the transaction ends."""
    insert_ignore(
        session,
        LedgerStream.__table__,  # type: ignore[arg-type]
        [{"name": name, "head_seq": 0, "head_hash": genesis}],
        conflict=["name"],
    )
    stream = session.scalar(
        select(LedgerStream)
        .where(LedgerStream.name == name)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert stream is not None
    return stream


def streams(session: Session, *, name: str | None = None) -> list[LedgerStream]:
    query = select(LedgerStream).order_by(LedgerStream.name)
    if name is not None:
        query = query.where(LedgerStream.name == name)
    return list(session.scalars(query))


def entry_rows(session: Session, *, stream: str, after_seq: int, limit: int) -> Sequence[Row[Any]]:
    """Raw journal rows of `stream` after `after_seq`, in seq order (no ORM objects: a
    verification walks millions)."""
    return session.execute(
        select(ENTRY)
        .where(ENTRY.c.stream == stream, ENTRY.c.seq > after_seq)
        .order_by(ENTRY.c.seq)
        .limit(limit)
    ).all()


def get_entry(session: Session, *, stream: str, seq: int) -> LedgerEntry | None:
    return session.scalar(
        select(LedgerEntry).where(LedgerEntry.stream == stream, LedgerEntry.seq == seq)
    )


def reversal_of(session: Session, *, stream: str, seq: int) -> LedgerEntry | None:
    return session.scalar(
        select(LedgerEntry).where(LedgerEntry.stream == stream, LedgerEntry.reverses_seq == seq)
    )


def page_entries(
    session: Session,
    *,
    stream: str | None,
    ref: str | None,
    party: str | None,
    limit: int,
    offset: int,
) -> tuple[list[LedgerEntry], int]:
    query = select(LedgerEntry)
    if stream:
        query = query.where(LedgerEntry.stream == stream)
    if ref:
        query = query.where(LedgerEntry.ref == ref)
    if party:
        query = query.where(LedgerEntry.party == party)
    count = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(LedgerEntry.stream, LedgerEntry.seq).limit(limit).offset(offset)
    )
    return list(rows), count


def checkpoints(session: Session, *, stream: str | None = None) -> list[LedgerCheckpoint]:
    query = select(LedgerCheckpoint).order_by(LedgerCheckpoint.stream, LedgerCheckpoint.seq)
    if stream is not None:
        query = query.where(LedgerCheckpoint.stream == stream)
    return list(session.scalars(query))


def get_checkpoint(session: Session, *, checkpoint_id: int) -> LedgerCheckpoint | None:
    return session.get(LedgerCheckpoint, checkpoint_id)


def insert_entries(session: Session, rows: list[dict[str, Any]]) -> None:
    """Journal rows in one batched insert (ids ascend with seq: they are inserted in order)."""
    for i in range(0, len(rows), 5000):
        session.execute(insert(LedgerEntry), rows[i : i + 5000])


def entry_id(session: Session, *, stream: str, seq: int) -> int | None:
    return session.scalar(select(ENTRY.c.id).where(ENTRY.c.stream == stream, ENTRY.c.seq == seq))
