"""Ledger use cases: append an entry (the one writer of the journal), reverse one, sign
checkpoints of the stream heads, and verify the chains against them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.orm import Session

from servflow.ledger import repo
from servflow.ledger.models import ENTRY_KINDS, LedgerCheckpoint, LedgerEntry
from servflow.ledger.rules import (
    GENESIS,
    Break,
    ChainWalk,
    checkpoint_message,
    entry_hash,
    key_id,
    private_key,
    public_key_text,
    sign,
    signature_holds,
)
from servflow.platform.errors import Conflict, Invalid, NotFound
from servflow.platform.keys import binary_keys

BATCH = 5000
page_entries = repo.page_entries
list_checkpoints = repo.checkpoints
get_checkpoint = repo.get_checkpoint


def signing_key(configured: str, *, demo: bool) -> Ed25519PrivateKey:
    """The server's checkpoint key: SERVFLOW_LEDGER_KEY (base64 of a 32-byte random seed),
    or in the demo one generated once under var/ (as the other secrets are)."""
    return private_key(binary_keys(configured, setting="ledger_key", demo=demo)[0])


def post(
    session: Session,
    *,
    stream: str,
    kind: str,
    debit: str,
    credit: str,
    amount: Decimal,
    currency: str,
    ref: str,
    now: datetime,
    party: str = "",
    period: str = "",
    memo: str = "",
    reverses_seq: int | None = None,
) -> LedgerEntry:
    """Appends one balanced entry (`amount` from `credit` to `debit`) to `stream`, chained
    to the stream's head; the head row is locked, so a stream is numbered one at a time.

    Raises:
        ValueError: an unknown kind, a non-positive amount or one account on both sides.
    """
    if kind not in ENTRY_KINDS:
        raise ValueError(f"unknown ledger entry kind {kind!r}")
    if amount <= 0 or debit == credit:
        raise ValueError(f"a ledger entry moves a positive amount between two accounts: {amount}")
    head = repo.lock_stream(session, name=stream, genesis=GENESIS)
    entry = LedgerEntry(
        stream=stream,
        seq=head.head_seq + 1,
        kind=kind,
        debit_account=debit,
        credit_account=credit,
        amount=amount,
        currency=currency,
        ref=ref[:120],
        party=party[:160],
        period=period,
        memo=memo[:400],
        reverses_seq=reverses_seq,
        occurred_at=now,
        prev_hash=head.head_hash,
    )
    entry.hash = entry_hash(entry)
    session.add(entry)
    session.flush()
    head.head_seq, head.head_hash, head.head_entry_id = entry.seq, entry.hash, entry.id
    head.updated_at = now
    session.flush()
    return entry


@dataclass(frozen=True)
class Movement:
    """One entry to append with `post_many`."""

    kind: str
    debit: str
    credit: str
    amount: Decimal
    currency: str
    ref: str
    party: str = ""
    period: str = ""
    memo: str = ""


def post_many(session: Session, *, stream: str, movements: list[Movement], now: datetime) -> int:
    """Appends `movements` to `stream` in order, as `post` would one by one, but under one
    lock of the head and in one batched insert (a monthly run pays thousands of parties).

    Returns:
        How many entries were appended.

    Raises:
        ValueError: as `post`.
    """
    if not movements:
        return 0
    head = repo.lock_stream(session, name=stream, genesis=GENESIS)
    seq, previous = head.head_seq, head.head_hash
    rows = []
    for movement in movements:
        if movement.kind not in ENTRY_KINDS:
            raise ValueError(f"unknown ledger entry kind {movement.kind!r}")
        if movement.amount <= 0 or movement.debit == movement.credit:
            raise ValueError("a ledger entry moves a positive amount between two accounts")
        seq += 1
        row: dict[str, Any] = {
            "stream": stream,
            "seq": seq,
            "kind": movement.kind,
            "debit_account": movement.debit,
            "credit_account": movement.credit,
            "amount": movement.amount,
            "currency": movement.currency,
            "ref": movement.ref[:120],
            "party": movement.party[:160],
            "period": movement.period,
            "memo": movement.memo[:400],
            "reverses_seq": None,
            "occurred_at": now,
            "prev_hash": previous,
        }
        row["hash"] = previous = entry_hash(SimpleNamespace(**row))  # type: ignore[arg-type]
        rows.append(row)
    repo.insert_entries(session, rows)
    head.head_seq, head.head_hash = seq, previous
    head.head_entry_id = repo.entry_id(session, stream=stream, seq=seq)
    head.updated_at = now
    session.flush()
    return len(rows)


def reverse(session: Session, *, stream: str, seq: int, reason: str, now: datetime) -> LedgerEntry:
    """Corrects entry `seq` of `stream` the only way the journal allows: a new entry moving
    the same amount back (debit and credit swapped), naming the one it reverses.

    Raises:
        NotFound: no such entry. Conflict: it is a reversal, or was reversed already.
        Invalid: no reason given.
    """
    if not reason.strip():
        raise Invalid("reason: say why the entry is reversed", errors={"reason": "required"})
    original = repo.get_entry(session, stream=stream, seq=seq)
    if original is None:
        raise NotFound(f"no ledger entry {stream}#{seq}")
    if original.kind == "reversal":
        raise Conflict(f"ledger entry {stream}#{seq} is itself a reversal")
    if repo.reversal_of(session, stream=stream, seq=seq) is not None:
        raise Conflict(f"ledger entry {stream}#{seq} was reversed already")
    return post(
        session,
        stream=stream,
        kind="reversal",
        debit=original.credit_account,
        credit=original.debit_account,
        amount=original.amount,
        currency=original.currency,
        ref=original.ref,
        party=original.party,
        period=original.period,
        memo=f"冲销 #{seq}: {reason.strip()}",
        reverses_seq=seq,
        now=now,
    )


def sign_checkpoints(
    session: Session, *, key: Ed25519PrivateKey, now: datetime
) -> list[LedgerCheckpoint]:
    """Signs the head of every stream that has entries (skipping a head signed already by
    this key)."""
    public = public_key_text(key)
    kid = key_id(public)
    known = {(c.stream, c.seq, c.key_id) for c in repo.checkpoints(session)}
    made = []
    for stream in repo.streams(session):
        if stream.head_seq == 0 or (stream.name, stream.head_seq, kid) in known:
            continue
        message = checkpoint_message(
            stream=stream.name, seq=stream.head_seq, head_hash=stream.head_hash, signed_at=now
        )
        checkpoint = LedgerCheckpoint(
            stream=stream.name,
            seq=stream.head_seq,
            entry_id=stream.head_entry_id,
            head_hash=stream.head_hash,
            signed_at=now,
            key_id=kid,
            public_key=public,
            signature=sign(key, message),
        )
        session.add(checkpoint)
        made.append(checkpoint)
    session.flush()
    return made


def checkpoint_document(checkpoint: LedgerCheckpoint) -> dict[str, Any]:
    """A checkpoint as a party downloads and keeps it (and may send back to verify)."""
    return {
        "stream": checkpoint.stream,
        "seq": checkpoint.seq,
        "head_hash": checkpoint.head_hash,
        "signed_at": checkpoint.signed_at.isoformat(timespec="microseconds"),
        "key_id": checkpoint.key_id,
        "public_key": checkpoint.public_key,
        "signature": checkpoint.signature,
        "algorithm": "Ed25519 over canonical JSON {stream, seq, head_hash, signed_at}",
    }


@dataclass(frozen=True)
class HeldCheckpoint:
    """A signed head, from the database or from a party's own copy."""

    stream: str
    seq: int
    head_hash: str
    signed_at: datetime
    public_key: str
    signature: str
    source: str

    def signed(self) -> bool:
        message = checkpoint_message(
            stream=self.stream, seq=self.seq, head_hash=self.head_hash, signed_at=self.signed_at
        )
        return signature_holds(self.public_key, message, self.signature)


@dataclass
class Verification:
    """What a walk of the journal found: entries checked per stream, the first break of
    each broken stream, and the checkpoints that held."""

    entries: int = 0
    streams: dict[str, int] = field(default_factory=dict)
    breaks: list[Break] = field(default_factory=list)
    checkpoints_held: int = 0

    @property
    def ok(self) -> bool:
        return not self.breaks

    def summary(self) -> str:
        if self.ok:
            return (
                f"ok: {self.entries} entries in {len(self.streams)} streams, "
                f"{self.checkpoints_held} checkpoints hold"
            )
        return "BROKEN: " + "; ".join(b.describe() for b in self.breaks)


def held_checkpoint(document: Mapping[str, Any], *, source: str) -> HeldCheckpoint:
    """A party's checkpoint document read back.

    Raises:
        Invalid: a field is missing or malformed (named).
    """
    try:
        return HeldCheckpoint(
            stream=str(document["stream"])[:64],
            seq=int(document["seq"]),
            head_hash=str(document["head_hash"])[:64],
            signed_at=datetime.fromisoformat(str(document["signed_at"])),
            public_key=str(document["public_key"])[:64],
            signature=str(document["signature"])[:128],
            source=source,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise Invalid(
            f"checkpoint: not a ledger checkpoint ({exc})", errors={"checkpoint": str(exc)}
        ) from None


def verify(
    session: Session,
    *,
    stream: str | None = None,
    trusted_keys: Iterable[str] = (),
    extra: Iterable[HeldCheckpoint] = (),
) -> Verification:
    """Walks every stream (or one) from its first entry and names the first entry that does
    not hold: a gap (deleted), an id out of order (reordered), a previous-hash that does
    not match, a content that does not match its hash (edited). Then checks every stored
    checkpoint and every `extra` one (a party's copy) signed by a key of `trusted_keys`:
    the chain must still hash to the signed head at the signed seq, so an edit hidden by
    rewriting every later hash is exposed by a checkpoint signed before it."""
    trusted = set(trusted_keys)
    report = Verification()
    held: dict[str, list[HeldCheckpoint]] = {}
    for c in repo.checkpoints(session, stream=stream):
        held.setdefault(c.stream, []).append(
            HeldCheckpoint(
                c.stream,
                c.seq,
                c.head_hash,
                c.signed_at,
                c.public_key,
                c.signature,
                f"checkpoint #{c.id}",
            )
        )
    for copy in extra:
        if stream is None or copy.stream == stream:
            held.setdefault(copy.stream, []).append(copy)
    heads = {s.name: s for s in repo.streams(session, name=stream)}
    for name in sorted(set(heads) | set(held)):
        _verify_stream(session, name, heads.get(name), held.get(name, []), trusted, report)
    return report


def _verify_stream(
    session: Session,
    name: str,
    head: Any,
    held: list[HeldCheckpoint],
    trusted: set[str],
    report: Verification,
) -> None:
    for checkpoint in held:
        if checkpoint.public_key not in trusted or not checkpoint.signed():
            reason = f"{checkpoint.source} is not signed by a ledger key of this server"
            report.breaks.append(Break(name, checkpoint.seq, None, reason))
            return
    walk = ChainWalk(stream=name, want=frozenset(c.seq for c in held))
    while True:
        rows = repo.entry_rows(session, stream=name, after_seq=walk.seq, limit=BATCH)
        if not rows or not walk.feed(rows):  # type: ignore[arg-type]
            break
        if len(rows) < BATCH:
            break
    report.entries += walk.seq
    report.streams[name] = walk.seq
    if walk.broken is not None:
        report.breaks.append(walk.broken)
        return
    at = walk.at or {}
    if head is not None and (head.head_seq != walk.seq or head.head_hash != walk.head):
        reason = (
            f"the stream's head names seq {head.head_seq} but the chain ends at seq {walk.seq}:"
            " entries after it were deleted"
        )
        report.breaks.append(Break(name, walk.seq + 1, None, reason))
        return
    matched = 0
    for checkpoint in sorted(held, key=lambda c: c.seq):
        if checkpoint.seq > walk.seq:
            reason = (
                f"{checkpoint.source} signed seq {checkpoint.seq} but the chain ends at seq"
                f" {walk.seq}: entries were deleted"
            )
            report.breaks.append(Break(name, walk.seq + 1, None, reason))
            return
        if at.get(checkpoint.seq) != checkpoint.head_hash:
            entry = repo.get_entry(session, stream=name, seq=checkpoint.seq)
            reason = (
                f"differs from {checkpoint.source} signed {checkpoint.signed_at:%Y-%m-%d %H:%M}:"
                f" an entry between seq {matched + 1} and {checkpoint.seq} was changed and"
                " the hashes after it rewritten"
            )
            report.breaks.append(Break(name, checkpoint.seq, entry.id if entry else None, reason))
            return
        matched = checkpoint.seq
        report.checkpoints_held += 1
