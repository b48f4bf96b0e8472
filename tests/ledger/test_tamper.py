"""The journal is append-only and tamper-evident, on SQLite and PostgreSQL: the app cannot
UPDATE or DELETE a row; a DBA who bypasses the trigger and edits, deletes or reorders a row
is caught by the verification, which names the row; a checkpoint signed before the edit
exposes even an edit whose later hashes were all rewritten."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import DatabaseError
from sqlalchemy.orm import Session, sessionmaker

from servflow.ledger import service as ledger
from servflow.ledger.models import SQLITE_TRIGGERS, LedgerEntry
from servflow.ledger.rules import entry_hash, private_key, public_key_text

T0 = datetime(2026, 11, 2, 3, 0, tzinfo=UTC)
KEY = private_key(bytes((11 * i + 5) % 251 for i in range(32)))
TRUSTED = [public_key_text(KEY)]


def journal(session: Session, count: int = 6, stream: str = "huanan") -> None:
    for i in range(count):
        ledger.post(
            session,
            stream=stream,
            kind="accrual",
            debit="expense:service",
            credit=f"payable:agent:a{i % 2}",
            amount=Decimal("10.01") * (i + 1),
            currency="CNY",
            ref=f"settlement:{i + 1}",
            party=f"agent:a{i % 2}",
            period="2026-11",
            now=T0 + timedelta(minutes=i),
        )
    session.commit()


Statement = str | tuple[str, dict[str, object]]


def as_dba(engine: Engine, *statements: Statement) -> None:
    """Runs `statements` (SQL, or SQL and its bound values) with the append-only triggers
    bypassed, as a DBA could."""
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text("SET LOCAL session_replication_role = replica"))
        else:
            connection.execute(text("DROP TRIGGER ledger_entry_no_update"))
            connection.execute(text("DROP TRIGGER ledger_entry_no_delete"))
        for statement in statements:
            sql, values = (statement, {}) if isinstance(statement, str) else statement
            connection.execute(text(sql), values)
        if engine.dialect.name == "sqlite":
            for trigger in SQLITE_TRIGGERS[:2]:
                connection.execute(text(trigger))


def verify(session: Session, **kw):
    session.expire_all()
    return ledger.verify(session, trusted_keys=TRUSTED, **kw)


@pytest.fixture
def engine(session_factory: sessionmaker[Session]) -> Engine:
    bind = session_factory.kw["bind"]
    assert isinstance(bind, Engine)
    return bind


def test_an_intact_journal_verifies(session):
    journal(session)
    report = verify(session)
    assert report.ok and report.entries == 6 and report.streams == {"huanan": 6}


@pytest.mark.parametrize(
    "statement", ["UPDATE ledger_entry SET amount = 1", "DELETE FROM ledger_entry"]
)
def test_the_app_cannot_update_or_delete_journal_rows(session, statement):
    journal(session, count=2)
    with pytest.raises(DatabaseError, match="append-only"):
        session.execute(text(statement))
    session.rollback()
    assert len(session.scalars(select(LedgerEntry)).all()) == 2


def test_an_edited_amount_is_detected_and_the_row_named(session, engine):
    journal(session)
    target = session.scalars(select(LedgerEntry).where(LedgerEntry.seq == 3)).one()
    as_dba(engine, ("UPDATE ledger_entry SET amount = 999.99 WHERE id = :id", {"id": target.id}))

    report = verify(session)

    assert not report.ok
    broken = report.breaks[0]
    assert (broken.stream, broken.seq, broken.entry_id) == ("huanan", 3, target.id)
    assert "edited" in broken.reason


def test_a_deleted_row_is_detected_and_named(session, engine):
    journal(session)
    as_dba(engine, "DELETE FROM ledger_entry WHERE seq = 4")

    broken = verify(session).breaks[0]

    assert broken.seq == 4 and "missing" in broken.reason


def test_a_deleted_last_row_is_detected_by_the_stream_head(session, engine):
    journal(session)
    as_dba(
        engine,
        "UPDATE ledger_stream SET head_entry_id = NULL",
        "DELETE FROM ledger_entry WHERE seq = 6",
    )

    broken = verify(session).breaks[0]

    assert broken.seq == 6 and "deleted" in broken.reason


MOVE = "UPDATE ledger_entry SET seq = :seq WHERE id = :id"
REWRITE = "UPDATE ledger_entry SET amount = :amount, prev_hash = :prev, hash = :hash WHERE id = :id"


def test_reordered_rows_are_detected_and_named(session, engine):
    journal(session)
    rows = {e.seq: e.id for e in session.scalars(select(LedgerEntry))}
    # Swap the places of entries 2 and 5 in the sequence.
    as_dba(
        engine,
        (MOVE, {"seq": 1000, "id": rows[2]}),
        (MOVE, {"seq": 2, "id": rows[5]}),
        (MOVE, {"seq": 5, "id": rows[2]}),
    )

    broken = verify(session).breaks[0]

    assert broken.seq == 2 and broken.entry_id == rows[5]


def test_an_edit_with_every_later_hash_rewritten_is_exposed_by_an_earlier_checkpoint(
    session, engine
):
    journal(session)
    ledger.sign_checkpoints(session, key=KEY, now=T0 + timedelta(hours=1))
    session.commit()
    party_copy = ledger.checkpoint_document(ledger.list_checkpoints(session)[0])
    # The DBA edits entry 2 and recomputes every hash after it: the chain itself holds.
    entries = session.scalars(select(LedgerEntry).order_by(LedgerEntry.seq)).all()
    statements: list[Statement] = []
    previous = None
    for entry in entries:
        if entry.seq == 2:
            entry.amount = Decimal("0.02")
        if previous is not None:
            entry.prev_hash = previous
        entry.hash = entry_hash(entry)
        previous = entry.hash
        values = {"amount": str(entry.amount), "prev": entry.prev_hash, "hash": entry.hash}
        statements.append((REWRITE, {**values, "id": entry.id}))
    session.expunge_all()
    session.rollback()
    head = ("UPDATE ledger_stream SET head_hash = :hash", {"hash": previous})
    as_dba(engine, *statements, head)

    report = verify(session)

    assert not report.ok
    broken = report.breaks[0]
    assert (
        broken.seq == 6 and "checkpoint" in broken.reason and "between seq 1 and 6" in broken.reason
    )
    # Even with the stored checkpoints gone, the party's own copy exposes it.
    as_dba(engine, "DELETE FROM ledger_checkpoint")
    held = ledger.held_checkpoint(party_copy, source="the agent's copy")
    from_copy = verify(session, extra=[held])
    assert not from_copy.ok and "the agent's copy" in from_copy.breaks[0].reason
    assert verify(session).ok  # without any checkpoint, a rewritten chain looks whole


def test_a_forged_checkpoint_is_refused(session):
    journal(session, count=2)
    ledger.sign_checkpoints(session, key=KEY, now=T0)
    session.commit()
    document = ledger.checkpoint_document(ledger.list_checkpoints(session)[0])
    forged = ledger.held_checkpoint({**document, "seq": 1}, source="a forged copy")

    report = verify(session, extra=[forged])

    assert not report.ok and "not signed" in report.breaks[0].reason


def test_corrections_are_reversals_that_keep_the_chain_whole(session):
    journal(session, count=3)
    reversal = ledger.reverse(session, stream="huanan", seq=2, reason="金额录错", now=T0)
    session.commit()

    assert (reversal.seq, reversal.reverses_seq, reversal.amount) == (4, 2, Decimal("20.02"))
    assert reversal.debit_account == "payable:agent:a1"
    with pytest.raises(Exception, match="reversed already"):
        ledger.reverse(session, stream="huanan", seq=2, reason="again", now=T0)
    assert verify(session).ok
