"""The stock journal: the one writer of stock movements (`move`), what a person records,
and the journal read back."""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from servflow.inventory import repo, rules
from servflow.inventory.catalogue import known_part
from servflow.inventory.models import Part, StockMovement, Warehouse
from servflow.inventory.safety import check_safety
from servflow.inventory.warehouses import visible_warehouse
from servflow.org import service as org
from servflow.platform.errors import Conflict, invalid_field


class MovementDone(NamedTuple):
    """A journal line and whether this call wrote it (False: its key was there already)."""

    movement: StockMovement
    applied: bool


def move(
    session: Session,
    *,
    warehouse: Warehouse,
    part: Part,
    kind: str,
    qty: int,
    key: str,
    now: datetime,
    ref: str = "",
    reason: str = "",
    actor: str = "",
    need_available: bool = False,
) -> MovementDone:
    """Appends one movement to the journal and moves the balance with it, once per `key`.

    The balance moves by one conditional UPDATE (`repo.shift_level`) that refuses a result
    below zero or more reserved than on hand, and, with `need_available`, fewer than `qty`
    available; the journal row is written in the same savepoint, so the two never part.
    A movement whose key exists already is returned as it is (a retry moves nothing).

    Raises:
        Conflict: the stock cannot take the move: `shortfall` (units missing) and
            `available` in the body.
        Invalid: an adjustment without a reason, or a bad quantity (field `qty`).
    """
    done = repo.movement_by_key(session, key=key)
    if done is not None:
        return MovementDone(done, False)
    row = _movement_row(
        warehouse, part, kind, qty, key=key, now=now, ref=ref, reason=reason, actor=actor
    )
    try:
        movement, safety_level = _journal_and_shift(
            session, warehouse, part, row, kind=kind, qty=qty, need_available=need_available
        )
    except IntegrityError:
        # The same key committed by a concurrent call: the savepoint undid our move.
        done = repo.movement_by_key(session, key=key)
        if done is None:
            raise
        return MovementDone(done, False)
    if safety_level > 0:
        check_safety(session, warehouse=warehouse, part=part, now=now)
    return MovementDone(movement, True)


def _journal_and_shift(
    session: Session,
    warehouse: Warehouse,
    part: Part,
    row: dict[str, Any],
    *,
    kind: str,
    qty: int,
    need_available: bool,
) -> tuple[StockMovement, int]:
    """Writes the journal row and moves the balance (`qty` units as `kind`) in one
    savepoint; returns the row and the balance's safety level.

    Raises:
        Conflict: the balance cannot take the move (the savepoint is undone).
        IntegrityError: the row's key was committed meanwhile (the savepoint is undone).
    """
    on_hand_delta, reserved_delta = row["on_hand_delta"], row["reserved_delta"]
    with session.begin_nested():
        if on_hand_delta > 0:
            repo.ensure_level(session, warehouse_id=warehouse.id, part_id=part.id)
        # The journal row first, the balance last: the UPDATE takes the balance row's
        # lock, held until commit, so nothing else should run after it.
        movement = repo.add_movement(session, row=row)
        after = repo.shift_level(
            session,
            warehouse_id=warehouse.id,
            part_id=part.id,
            on_hand_delta=on_hand_delta,
            reserved_delta=reserved_delta,
            need_available=qty if need_available else 0,
        )
        if after is None:
            raise _short(session, warehouse, part, kind, qty, on_hand_delta)
    return movement, after[2]


def _movement_row(
    warehouse: Warehouse,
    part: Part,
    kind: str,
    qty: int,
    *,
    key: str,
    now: datetime,
    ref: str,
    reason: str,
    actor: str,
) -> dict[str, Any]:
    """The journal row of moving `qty` units as `kind`, its texts cut to their columns; a
    van's unreserved consumption is journalled as a consumption.

    Raises:
        Invalid: an adjustment without a reason, or a bad quantity (field `qty`).
    """
    if kind == "adjustment" and not reason.strip():
        raise invalid_field("reason", "an adjustment needs a reason")
    try:
        delta = rules.deltas(kind, qty)
    except ValueError as exc:
        raise invalid_field("qty", str(exc)) from None
    return {
        "key": key,
        "warehouse_id": warehouse.id,
        "part_id": part.id,
        "kind": "consumption" if kind == "consumption_unreserved" else kind,
        "qty": abs(qty),
        "on_hand_delta": delta[0],
        "reserved_delta": delta[1],
        "reason": reason[:500],
        "ref": ref[:200],
        "actor": actor[:100],
        "created_at": now,
    }


def _short(
    session: Session, warehouse: Warehouse, part: Part, kind: str, qty: int, on_hand_delta: int
) -> Conflict:
    level = repo.level_of(session, warehouse_id=warehouse.id, part_id=part.id)
    available = level.on_hand - level.reserved if level is not None else 0
    if kind in ("release", "consumption", "transfer_out"):
        have = level.reserved if level is not None else 0
        what = "reserved"
    elif kind == "adjustment" and on_hand_delta < 0:
        have = level.on_hand - level.reserved if level is not None else 0
        what = "available"
    else:
        have, what = available, "available"
    shortfall = max(abs(qty) - have, 1)
    return Conflict(
        f"{warehouse.code} has {have} of {part.sku} {what}, {abs(qty)} asked",
        shortfall=shortfall,
        available=available,
        warehouse=warehouse.code,
        sku=part.sku,
    )


RECORDABLE = ("receipt", "adjustment")


def record_movement(
    session: Session,
    *,
    scope_path: str | None,
    warehouse: str,
    sku: str,
    kind: str,
    qty: int,
    reason: str,
    key: str,
    actor: str,
    now: datetime,
) -> MovementDone:
    """A receipt or an adjustment (with its reason) entered by a person over the API;
    every other kind is written by the use case it belongs to (reserve, transfer, consume).

    Raises:
        Invalid: naming the field (unknown warehouse or part, other kinds, no reason).
        Conflict: an adjustment that would take more than is available.
    """
    if kind not in RECORDABLE:
        raise invalid_field("kind", f"one of {', '.join(RECORDABLE)}")
    store = visible_warehouse(session, warehouse, scope_path, "warehouse")
    return move(
        session,
        warehouse=store,
        part=known_part(session, sku),
        kind=kind,
        qty=qty,
        key=f"manual:{key}",
        now=now,
        reason=reason,
        actor=actor,
        need_available=kind == "adjustment" and qty < 0,
    )


class JournalMismatch(NamedTuple):
    warehouse_id: int
    part_id: int
    on_hand: int
    reserved: int
    journal_on_hand: int
    journal_reserved: int


def journal_mismatches(session: Session) -> list[JournalMismatch]:
    """The balances that differ from the sums of their journal (none, when all is well)."""
    totals = repo.journal_totals(session)
    bad = []
    seen = set()
    for level in repo.all_levels(session):
        pair = (level.warehouse_id, level.part_id)
        seen.add(pair)
        on_hand, reserved = totals.get(pair, (0, 0))
        if (on_hand, reserved) != (level.on_hand, level.reserved):
            bad.append(JournalMismatch(*pair, level.on_hand, level.reserved, on_hand, reserved))
    for pair, (on_hand, reserved) in totals.items():
        if pair not in seen and (on_hand, reserved) != (0, 0):
            bad.append(JournalMismatch(*pair, 0, 0, on_hand, reserved))
    return bad


class MovementEntry(NamedTuple):
    movement: StockMovement
    warehouse: Warehouse
    part: Part


def page_movements(
    session: Session,
    *,
    scope_path: str | None,
    limit: int,
    offset: int,
    warehouse: str | None = None,
    sku: str | None = None,
    ref: str | None = None,
) -> tuple[list[MovementEntry], int]:
    """The journal, newest first, of the warehouses within `scope_path`."""
    rows, count = repo.page_movements(
        session,
        region_ids=org.unit_ids_in_scope(scope_path=scope_path),
        warehouse=warehouse,
        sku=sku,
        ref=ref,
        limit=limit,
        offset=offset,
    )
    return [MovementEntry(*row) for row in rows], count


def codes_of(session: Session, *, warehouse_id: int, part_id: int) -> tuple[str, str]:
    """The warehouse code and SKU of a pair (for answers)."""
    store = repo.warehouse_by_id(session, warehouse_id=warehouse_id)
    part = repo.part_by_id(session, part_id=part_id)
    return (store.code if store else "", part.sku if part else "")


def movement_entry(session: Session, *, movement: StockMovement) -> MovementEntry:
    store = repo.warehouse_by_id(session, warehouse_id=movement.warehouse_id)
    part = repo.part_by_id(session, part_id=movement.part_id)
    assert store is not None and part is not None
    return MovementEntry(movement, store, part)
