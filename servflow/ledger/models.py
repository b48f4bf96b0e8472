"""The ledger's tables: an append-only, hash-chained double-entry journal per stream, the
head of each stream, and the signed checkpoints of those heads.

The journal cannot be changed in place: a trigger refuses UPDATE and DELETE of a journal
row (and of a checkpoint) on PostgreSQL, and UPDATE on SQLite, where DELETE is refused
while the row's stream exists. Corrections are reversing entries
(`servflow.ledger.service.reverse`).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import DDL, CheckConstraint, ForeignKey, String, UniqueConstraint, event
from sqlalchemy.orm import Mapped, mapped_column

from servflow.platform.base import Base, Money, utcnow

ENTRY_KINDS = ("accrual", "payout", "reversal", "adjustment")


class LedgerEntry(Base):
    """One journal entry: `amount` debited to one account and credited to another (so
    every entry balances), chained to its stream's previous entry by `prev_hash`."""

    __tablename__ = "ledger_entry"
    __table_args__ = (
        UniqueConstraint("stream", "seq"),
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("debit_account <> credit_account", name="two_accounts"),
        CheckConstraint(
            "kind IN ('accrual', 'payout', 'reversal', 'adjustment')", name="entry_kind"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    stream: Mapped[str] = mapped_column(String(64))
    seq: Mapped[int] = mapped_column()
    kind: Mapped[str] = mapped_column(String(16))
    debit_account: Mapped[str] = mapped_column(String(160))
    credit_account: Mapped[str] = mapped_column(String(160))
    amount: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3))
    ref: Mapped[str] = mapped_column(String(120), index=True)
    party: Mapped[str] = mapped_column(String(160), default="")
    period: Mapped[str] = mapped_column(String(7), default="")
    memo: Mapped[str] = mapped_column(String(400), default="")
    reverses_seq: Mapped[int | None] = mapped_column()
    occurred_at: Mapped[datetime] = mapped_column()
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class LedgerStream(Base):
    """A stream's head: its last entry, its sequence number and hash. Appending locks this
    row, so entries of one stream are numbered one at a time."""

    __tablename__ = "ledger_stream"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    head_seq: Mapped[int] = mapped_column(default=0)
    head_hash: Mapped[str] = mapped_column(String(64))
    # The FK also orders the tables: a stream is emptied before its entries.
    head_entry_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entry.id"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class LedgerCheckpoint(Base):
    """A stream's head hash at `seq`, signed with the server's Ed25519 key."""

    __tablename__ = "ledger_checkpoint"
    __table_args__ = (UniqueConstraint("stream", "seq", "key_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    stream: Mapped[str] = mapped_column(String(64), index=True)
    seq: Mapped[int] = mapped_column()
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entry.id"))
    head_hash: Mapped[str] = mapped_column(String(64))
    signed_at: Mapped[datetime] = mapped_column()
    key_id: Mapped[str] = mapped_column(String(16))
    public_key: Mapped[str] = mapped_column(String(64))
    signature: Mapped[str] = mapped_column(String(128))


# ---- append-only triggers (created by create_all and by migration 0009) -------------------

PG_FUNCTION = """
CREATE OR REPLACE FUNCTION ledger_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: correct an entry by a reversal', TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$ LANGUAGE plpgsql
"""
PG_TRIGGERS = tuple(
    f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}"
    " FOR EACH ROW EXECUTE FUNCTION ledger_append_only()"
    for table in ("ledger_entry", "ledger_checkpoint")
)
SQLITE_TRIGGERS = (
    "CREATE TRIGGER ledger_entry_no_update BEFORE UPDATE ON ledger_entry"
    " BEGIN SELECT RAISE(ABORT, 'ledger_entry is append-only: correct by a reversal'); END",
    "CREATE TRIGGER ledger_entry_no_delete BEFORE DELETE ON ledger_entry"
    " WHEN EXISTS (SELECT 1 FROM ledger_stream WHERE ledger_stream.name = OLD.stream)"
    " BEGIN SELECT RAISE(ABORT, 'ledger_entry is append-only: correct by a reversal'); END",
    "CREATE TRIGGER ledger_checkpoint_no_update BEFORE UPDATE ON ledger_checkpoint"
    " BEGIN SELECT RAISE(ABORT, 'ledger_checkpoint is append-only'); END",
)
PG_DROP = (
    "DROP TRIGGER IF EXISTS ledger_entry_append_only ON ledger_entry",
    "DROP TRIGGER IF EXISTS ledger_checkpoint_append_only ON ledger_checkpoint",
    "DROP FUNCTION IF EXISTS ledger_append_only()",
)
SQLITE_DROP = (
    "DROP TRIGGER IF EXISTS ledger_entry_no_update",
    "DROP TRIGGER IF EXISTS ledger_entry_no_delete",
    "DROP TRIGGER IF EXISTS ledger_checkpoint_no_update",
)


def _after_create(table: object, statements: tuple[str, ...], dialect: str) -> None:
    for statement in statements:
        # DDL formats its text with %: the function's own % placeholder is doubled.
        ddl = DDL(statement.replace("%", "%%"))
        event.listen(table, "after_create", ddl.execute_if(dialect=dialect))


# The entry table's triggers follow its stream table (which references it, so it is
# created after it, and the SQLite delete trigger reads it).
_after_create(LedgerEntry.__table__, (PG_FUNCTION,), "postgresql")
_after_create(LedgerStream.__table__, PG_TRIGGERS[:1], "postgresql")
_after_create(LedgerCheckpoint.__table__, PG_TRIGGERS[1:], "postgresql")
_after_create(LedgerStream.__table__, SQLITE_TRIGGERS[:2], "sqlite")
_after_create(LedgerCheckpoint.__table__, SQLITE_TRIGGERS[2:], "sqlite")
