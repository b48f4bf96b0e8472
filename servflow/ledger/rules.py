"""The ledger's pure rules: canonical content, the hash chain, walking it, and signing and
checking checkpoints (Ed25519). No database."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

_CANONICAL = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":"))
GENESIS = "0" * 64
"""The `prev_hash` of a stream's first entry."""


class EntryLike(Protocol):
    """What the chain reads of a journal row (the model and test doubles alike)."""

    id: int
    stream: str
    seq: int
    kind: str
    debit_account: str
    credit_account: str
    amount: Decimal
    currency: str
    ref: str
    party: str
    period: str
    memo: str
    reverses_seq: int | None
    occurred_at: datetime
    prev_hash: str
    hash: str


def canonical(entry: EntryLike) -> bytes:
    """The entry's content as canonical JSON (sorted keys, amounts as 2-decimal text,
    times as UTC ISO-8601 with microseconds): what its hash covers. The row id is not
    covered (it is assigned by the database); the order is `seq`."""
    content: dict[str, Any] = {
        "stream": entry.stream,
        "seq": entry.seq,
        "kind": entry.kind,
        "debit": entry.debit_account,
        "credit": entry.credit_account,
        "amount": f"{Decimal(entry.amount):.2f}",
        "currency": entry.currency,
        "ref": entry.ref,
        "party": entry.party,
        "period": entry.period,
        "memo": entry.memo,
        "reverses_seq": entry.reverses_seq,
        "occurred_at": entry.occurred_at.astimezone(UTC).isoformat(timespec="microseconds"),
        "prev_hash": entry.prev_hash,
    }
    return _CANONICAL.encode(content).encode()


def entry_hash(entry: EntryLike) -> str:
    """SHA-256 (hex) of the entry's canonical content, which includes the previous hash."""
    return hashlib.sha256(canonical(entry)).hexdigest()


@dataclass(frozen=True)
class Break:
    """The first entry of a stream that does not hold: which, and why."""

    stream: str
    seq: int
    entry_id: int | None
    reason: str

    def describe(self) -> str:
        row = f" (row id {self.entry_id})" if self.entry_id is not None else ""
        return f"stream {self.stream}: entry seq {self.seq}{row}: {self.reason}"


@dataclass
class ChainWalk:
    """Walks one stream's entries in `seq` order, a batch at a time; remembers the
    computed hash at each seq asked for (checkpoints) and the first break."""

    stream: str
    want: frozenset[int] = frozenset()
    seq: int = 0
    head: str = GENESIS
    last_id: int = 0
    broken: Break | None = None
    at: dict[int, str] | None = None

    def feed(self, entries: Iterable[EntryLike]) -> bool:
        """Checks the next entries; False once the chain is broken (stop feeding)."""
        if self.at is None:
            self.at = {}
        for entry in entries:
            expected = self.seq + 1
            if entry.seq != expected:
                reason = f"entry seq {expected} is missing (next is seq {entry.seq})"
                self.broken = Break(self.stream, expected, None, reason)
                return False
            if entry.id <= self.last_id:
                reason = f"row id {entry.id} is out of order (after row id {self.last_id})"
                self.broken = Break(self.stream, entry.seq, entry.id, reason)
                return False
            if entry.prev_hash != self.head:
                reason = "its previous-hash does not match the entry before it"
                self.broken = Break(self.stream, entry.seq, entry.id, reason)
                return False
            computed = entry_hash(entry)
            if computed != entry.hash:
                reason = "its content does not match its hash (edited)"
                self.broken = Break(self.stream, entry.seq, entry.id, reason)
                return False
            self.seq, self.head, self.last_id = entry.seq, computed, entry.id
            if entry.seq in self.want:
                self.at[entry.seq] = computed
        return True


# ---- checkpoints ---------------------------------------------------------------------------


def checkpoint_message(*, stream: str, seq: int, head_hash: str, signed_at: datetime) -> bytes:
    """The bytes a checkpoint's signature covers."""
    content = {
        "stream": stream,
        "seq": seq,
        "head_hash": head_hash,
        "signed_at": signed_at.astimezone(UTC).isoformat(timespec="microseconds"),
    }
    return json.dumps(content, sort_keys=True, separators=(",", ":")).encode()


def private_key(seed: bytes) -> Ed25519PrivateKey:
    """The Ed25519 signing key made from a 32-byte secret seed."""
    return Ed25519PrivateKey.from_private_bytes(seed)


def public_key_text(key: Ed25519PrivateKey) -> str:
    """The public key, raw 32 bytes in base64: what parties verify checkpoints with."""
    raw = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def key_id(public_key: str) -> str:
    """A short name of a public key: the first 16 hex digits of its SHA-256."""
    return hashlib.sha256(base64.b64decode(public_key)).hexdigest()[:16]


def sign(key: Ed25519PrivateKey, message: bytes) -> str:
    return base64.b64encode(key.sign(message)).decode()


def signature_holds(public_key: str, message: bytes, signature: str) -> bool:
    """True when `signature` (base64) is the key's signature of `message`."""
    try:
        raw = base64.b64decode(public_key, validate=True)
        Ed25519PublicKey.from_public_bytes(raw).verify(base64.b64decode(signature), message)
    except (InvalidSignature, ValueError):
        return False
    return True
