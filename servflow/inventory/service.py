"""Inventory use cases: the parts catalogue and stock per warehouse."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, NamedTuple

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from servflow.definitions import service as definitions
from servflow.inventory import repo, rules
from servflow.inventory.models import (
    Part,
    Reservation,
    StockAlert,
    StockLevel,
    StockMovement,
    Transfer,
    Warehouse,
)
from servflow.org import service as org
from servflow.platform.base import utcnow
from servflow.platform.effects import OrderFacts, StepOutcome
from servflow.platform.errors import Conflict, Forbidden, Invalid, NotFound, invalid_field
from workflows.contracts import OrderState, StepInput, StepResult, TransferInput
from workflows.definition import Definition as Pipeline
from workflows.forms import PARTS_MAX_LINES, FormField

if TYPE_CHECKING:
    from servflow.orders.models import WorkOrder

get_part_by_sku = repo.get_part_by_sku
parts_by_sku = repo.parts_by_sku


# ---- master data: warehouses and stock levels ----------------------------------------------


def find_warehouse(session: Session, *, code: str, scope_path: str | None) -> Warehouse | None:
    """The warehouse `code`, when its region lies within `scope_path` (None: anywhere)."""
    warehouse = repo.get_warehouse_by_code(session, code=code)
    if warehouse is None or not org.visible(
        org.path_of_unit(session, unit_id=warehouse.region_id), scope_path
    ):
        return None
    return warehouse


def page_warehouses(
    session: Session, *, scope_path: str | None, limit: int, offset: int
) -> tuple[list[Warehouse], int]:
    """Warehouses of the regions within `scope_path`, by code, and their count."""
    region_ids = org.unit_ids_in_scope(scope_path=scope_path)
    return repo.page_warehouses(session, region_ids=region_ids, limit=limit, offset=offset)


def save_warehouse(
    session: Session,
    *,
    scope_path: str | None,
    code: str,
    name: str,
    region: str,
    city: str = "",
    lat: float | None = None,
    lng: float | None = None,
    kind: str = "regional",
    engineer_code: str = "",
    lead_time_hours: int = 24,
) -> Warehouse:
    """Creates or updates the warehouse `code` of a region (by code or name): its kind
    (central, regional, outlet, or an engineer's van: `engineer_code`), place and lead time.

    Raises:
        Invalid: an unknown region (field `region`).
        Invalid: the region, or the warehouse's current one, is outside `scope_path`
            (answered as if unknown).
    """
    unit = org.region_in_scope(session, code_or_name=region, scope_path=scope_path)
    warehouse = repo.get_warehouse_by_code(session, code=code)
    if warehouse is None:
        warehouse = Warehouse(code=code)
        session.add(warehouse)
    else:
        org.check_in_scope(
            org.path_of_unit(session, unit_id=warehouse.region_id),
            scope_path,
            field="code",
            unknown=f"no warehouse '{code}'",
        )
    warehouse.name, warehouse.region_id, warehouse.city = name, unit.id, city
    warehouse.lat, warehouse.lng = lat, lng
    if kind == "van" and not engineer_code:
        raise invalid_field("engineer_code", "a van belongs to an engineer")
    warehouse.kind, warehouse.engineer_code = kind, engineer_code if kind == "van" else ""
    warehouse.lead_time_hours = lead_time_hours
    session.flush()
    return warehouse


def set_warehouse_kind(session: Session, *, code: str, kind: str) -> None:
    """Sets the kind of an existing warehouse (not a van: a van names its engineer)."""
    store = repo.get_warehouse_by_code(session, code=code)
    if store is not None and kind != "van":
        store.kind = kind
        session.flush()


class StockEntry(NamedTuple):
    """A stock level with the warehouse and part it counts."""

    level: StockLevel
    warehouse: Warehouse
    part: Part


def page_stock(
    session: Session,
    *,
    scope_path: str | None,
    limit: int,
    offset: int,
    warehouse: str | None = None,
    sku: str | None = None,
) -> tuple[list[StockEntry], int]:
    """Stock in the warehouses of the regions within `scope_path` (of one warehouse code and
    one SKU when given), by warehouse and SKU, and its count."""
    rows, count = repo.page_stock(
        session,
        region_ids=org.unit_ids_in_scope(scope_path=scope_path),
        warehouse=warehouse,
        sku=sku,
        limit=limit,
        offset=offset,
    )
    return [StockEntry(*row) for row in rows], count


def save_stock(
    session: Session,
    *,
    scope_path: str | None,
    warehouse: str,
    sku: str,
    on_hand: int,
    reserved: int | None = None,
    now: datetime | None = None,
    actor: str = "",
) -> StockEntry:
    """Sets the counted stock of part `sku` in warehouse `warehouse` (created when missing):
    the differences are journalled ("stock count": a receipt for a new level, else an
    adjustment; a reservation or release for a counted reserved figure), never written
    over. `reserved` None keeps what is reserved.

    Raises:
        Invalid: naming the field: an unknown warehouse or part, more reserved than on hand.
        Invalid: the warehouse's region is outside `scope_path` (answered as if unknown).
    """
    store = _warehouse(session, warehouse, scope_path, "warehouse")
    part = _part(session, sku)
    now = now or utcnow()
    level = repo.get_stock_level(session, warehouse_id=store.id, part_id=part.id)
    before = (level.on_hand, level.reserved) if level is not None else (0, 0)
    if reserved is None:
        reserved = before[1]
    if reserved > on_hand:
        raise invalid_field("reserved", "cannot exceed on_hand")
    repo.ensure_level(session, warehouse_id=store.id, part_id=part.id)
    stamp = f"{store.id}:{part.id}:{now.isoformat()}:{before[0]}:{before[1]}"
    for kind, qty, what in _count_moves(before, on_hand, reserved, new=level is None):
        move(
            session,
            warehouse=store,
            part=part,
            kind=kind,
            qty=qty,
            key=f"count:{what}:{stamp}",
            now=now,
            reason="stock count",
            actor=actor,
        )
    level = repo.level_of(session, warehouse_id=store.id, part_id=part.id)
    assert level is not None
    return StockEntry(level, store, part)


def _count_moves(
    before: tuple[int, int], on_hand: int, reserved: int, *, new: bool
) -> list[tuple[str, int, str]]:
    """The movements that take a balance (on hand, reserved) `before` to a count: (kind,
    qty, "h" for on hand or "r" for reserved). A count is journalled, never written over:
    what is reserved less first, then the on-hand difference (a receipt into a `new`
    balance, else an adjustment), then what is reserved more, so no step passes through an
    invalid balance."""
    steps = []
    if reserved < before[1]:
        steps.append(("release", before[1] - reserved, "r"))
    if on_hand != before[0]:
        kind = "receipt" if new and on_hand > 0 else "adjustment"
        steps.append((kind, on_hand - before[0], "h"))
    if reserved > before[1]:
        steps.append(("reservation", reserved - before[1], "r"))
    return steps


# ---- the parts catalogue (master data "parts") ------------------------------------------------


def page_parts(
    session: Session, *, scope_path: str | None, limit: int, offset: int, q: str | None = None
) -> tuple[list[Part], int]:
    """The catalogue by SKU (every region shares it), those matching `q` when given."""
    return repo.page_parts(session, q=q, limit=limit, offset=offset)


def find_part(session: Session, *, sku: str, scope_path: str | None) -> Part | None:
    return repo.get_part_by_sku(session, sku=sku)


def save_part(
    session: Session,
    *,
    scope_path: str | None,
    sku: str,
    name: str,
    price: Decimal,
    name_en: str = "",
    category: str = "",
    unit: str = "pcs",
    cost: Decimal = Decimal("0"),
    currency: str = "CNY",
    compatible_products: list[str] | None = None,
    fault_types: list[str] | None = None,
) -> Part:
    """Creates or updates the catalogue entry `sku`.

    Raises:
        Forbidden: the caller is not HQ (`scope_path` not None): the catalogue is HQ's.
        Invalid: a negative price or cost (naming the field).
    """
    if scope_path is not None:
        message = "the parts catalogue is kept by HQ"
        raise Forbidden(f"sku: {message}", errors={"sku": message})
    for field, value in (("price", price), ("cost", cost)):
        if value < 0:
            raise invalid_field(field, "cannot be negative")
    part = repo.get_part_by_sku(session, sku=sku)
    if part is None:
        part = Part(sku=sku)
        session.add(part)
    part.name, part.name_en, part.category, part.unit = name, name_en, category, unit
    part.price, part.cost, part.currency = price, cost, currency
    part.compatible_products = list(compatible_products or [])
    part.fault_types = list(fault_types or [])
    session.flush()
    return part


# ---- bulk: the parts catalogue and opening stock (demo data, CSV imports) ------------------


class NewPart(NamedTuple):
    """A catalogue entry to add."""

    sku: str
    name: str
    price: Decimal
    category: str = ""
    currency: str = "CNY"
    name_en: str = ""
    unit: str = "pcs"
    cost: Decimal = Decimal("0")
    compatible_products: list[str] = []  # noqa: RUF012 - never mutated
    fault_types: list[str] = []  # noqa: RUF012 - never mutated


def add_parts(session: Session, *, scope_path: str | None, parts: Iterable[NewPart]) -> list[str]:
    """Adds the parts whose SKU is not in the catalogue yet, in one statement (one lookup
    for all of them); parts already there are left as they are, and a SKU given twice is
    added once.

    Returns:
        The SKUs added.

    Raises:
        Forbidden: `scope_path` is not HQ's (None): every region shares the catalogue.
        Invalid: a negative price (field `price`); nothing is added then.
    """
    if scope_path is not None:
        message = "the parts catalogue is kept by HQ"
        raise Forbidden(f"sku: {message}", errors={"sku": message})
    rows = list(parts)
    known: set[str] = set(repo.parts_by_sku(session, skus=[row.sku for row in rows]))
    added: list[dict[str, object]] = []
    for row in rows:
        if row.price < 0:
            raise invalid_field("price", f"'{row.sku}' has a negative price")
        if row.sku not in known:
            known.add(row.sku)
            added.append(row._asdict())
    repo.insert_parts(session, rows=added)
    return [str(row["sku"]) for row in added]


class OpeningStock(NamedTuple):
    """The stock a warehouse starts with for one part."""

    warehouse: str
    sku: str
    on_hand: int
    reserved: int = 0


def _warehouses_in_scope(
    session: Session, *, codes: set[str], scope_path: str | None
) -> dict[str, Warehouse]:
    stores = repo.warehouses_by_code(session, codes=codes)
    missing = sorted(codes - set(stores))
    if missing:
        raise invalid_field("warehouse", f"no warehouse '{missing[0]}'")
    for store in stores.values():
        path = org.path_of_unit(session, unit_id=store.region_id)
        org.check_in_scope(
            path, scope_path, field="warehouse", unknown=f"no warehouse '{store.code}'"
        )
    return stores


def set_opening_stock(
    session: Session, *, scope_path: str | None, levels: Iterable[OpeningStock]
) -> int:
    """Adds the stock levels of warehouse/part pairs that have none yet, looking up the
    warehouses, the parts and their levels once for all rows. Pairs with a level keep it:
    stock that has moved since opening is not reset.

    Returns:
        How many levels were added.

    Raises:
        Invalid: naming the field: an unknown warehouse or part, or more reserved than on
            hand; nothing is added then.
        Forbidden: a warehouse's region is outside `scope_path`.
    """
    rows = list(levels)
    stores = _warehouses_in_scope(
        session, codes={row.warehouse for row in rows}, scope_path=scope_path
    )
    parts = repo.parts_by_sku(session, skus=[row.sku for row in rows])
    have = repo.stock_pairs(session, warehouse_ids=[store.id for store in stores.values()])
    added: list[dict[str, int]] = []
    for row in rows:
        pair = (stores[row.warehouse].id, _opening_part(row, parts).id)
        if pair in have:
            continue
        have.add(pair)
        added.append(
            {
                "warehouse_id": pair[0],
                "part_id": pair[1],
                "on_hand": row.on_hand,
                "reserved": row.reserved,
            }
        )
    repo.insert_stock_levels(session, rows=added)
    repo.insert_movements(session, rows=_opening_movements(added, now=utcnow()))
    return len(added)


def _opening_part(row: OpeningStock, parts: Mapping[str, Part]) -> Part:
    """The catalogue part of an opening row, once its figures are checked.

    Raises:
        Invalid: an unknown part, a negative on-hand figure or more reserved than on hand.
    """
    part = parts.get(row.sku)
    if part is None:
        raise invalid_field("sku", f"no part '{row.sku}'")
    if row.on_hand < 0:
        raise invalid_field("on_hand", f"'{row.sku}' in '{row.warehouse}': cannot be negative")
    if row.reserved > row.on_hand:
        raise invalid_field("reserved", f"'{row.sku}' in '{row.warehouse}': cannot exceed on_hand")
    return part


def _opening_movements(added: list[dict[str, int]], *, now: datetime) -> list[dict[str, Any]]:
    """The journal rows of new opening balances: the journal is the truth, so an opening
    balance is a receipt (and a reservation)."""
    return [
        {
            "key": f"opening:{row['warehouse_id']}:{row['part_id']}:{kind}",
            "warehouse_id": row["warehouse_id"],
            "part_id": row["part_id"],
            "kind": kind,
            "qty": qty,
            "on_hand_delta": qty if kind == "receipt" else 0,
            "reserved_delta": qty if kind == "reservation" else 0,
            "reason": "opening stock",
            "ref": "",
            "actor": "",
            "created_at": now,
        }
        for row in added
        for kind, qty in (("receipt", row["on_hand"]), ("reservation", row["reserved"]))
        if qty > 0
    ]


# ---- parts a field app reports ---------------------------------------------------------------


def _reported_parts(data: Mapping[str, Any]) -> bool:
    """Whether `data` holds a list of objects at all: only a parts field does, so other
    steps are not made to load their definition."""
    return any(
        isinstance(value, list) and any(isinstance(line, dict) for line in value)
        for value in data.values()
    )


def _parts_fields(session: Session, *, key: str, version: int, node_id: str) -> list[FormField]:
    """The `parts` fields of node `node_id` in the published version (none for a draft's
    test run, which has no published version and settles nothing real)."""
    try:
        row = definitions.get_version(session, key=key, version=version)
    except NotFound:
        return []
    node = next((n for n in Pipeline.model_validate(row.body).nodes if n.id == node_id), None)
    fields = node.form_fields() if node is not None else []
    return [field for field in fields if field.type == "parts"]


def check_parts(
    session: Session, *, order: WorkOrder | OrderState, node_id: str, data: Mapping[str, Any]
) -> None:
    """Refuses reported parts the settlement could not pay: every SKU of a `parts` field
    must be in the catalogue and, when the order's region has warehouses, on hand in one
    of them (a region without warehouses orders its parts centrally, so the catalogue is
    enough). Quantities are not compared with stock: the parts are used already, and the
    stock journal is reconciled on its own.

    Raises:
        Invalid: naming each refused line as `data.<field>[i].sku`.
    """
    if not _reported_parts(data):
        return
    fields = _parts_fields(
        session, key=order.definition_key, version=order.definition_version, node_id=node_id
    )
    lines = [
        (f"data.{field.name}[{index}].sku", line["sku"])
        for field in fields
        # A longer list is refused by the form check, without asking the database.
        if isinstance(data.get(field.name), list) and len(data[field.name]) <= PARTS_MAX_LINES
        for index, line in enumerate(data[field.name])
        if isinstance(line, dict) and isinstance(line.get("sku"), str)
    ]
    errors = _unavailable(session, lines, order)
    if errors:
        raise Invalid(f"{next(iter(errors))}: {next(iter(errors.values()))}", errors=errors)


def _unavailable(
    session: Session, lines: list[tuple[str, str]], order: WorkOrder | OrderState
) -> dict[str, str]:
    skus = {sku for _, sku in lines}
    known = repo.parts_by_sku(session, skus=skus)
    region = order.context.region if isinstance(order, OrderState) else order.region
    unit = org.find_region(session, code_or_name=region) if region else None
    region_ids = org.unit_ids_in_scope(scope_path=unit.path) if unit is not None else None
    checks_stock = region_ids is not None and repo.has_warehouse(session, region_ids=region_ids)
    stocked = (
        repo.stocked_skus(session, skus=known, region_ids=region_ids)
        if region_ids is not None and checks_stock
        else set(known)
    )
    errors: dict[str, str] = {}
    for path, sku in lines:
        if sku not in known:
            errors[path] = f"no part '{sku}' in the catalogue"
        elif sku not in stocked:
            errors[path] = f"part '{sku}' is in no warehouse of the order's region"
    return errors


# ---- the journal: the one writer of stock movements ------------------------------------------


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


def _warehouse(session: Session, code: str, scope_path: str | None, field: str) -> Warehouse:
    store = find_warehouse(session, code=code, scope_path=scope_path)
    if store is None:
        raise invalid_field(field, f"no warehouse '{code}'")
    return store


def _part(session: Session, sku: str, field: str = "sku") -> Part:
    part = repo.get_part_by_sku(session, sku=sku)
    if part is None:
        raise invalid_field(field, f"no part '{sku}'")
    return part


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
    store = _warehouse(session, warehouse, scope_path, "warehouse")
    return move(
        session,
        warehouse=store,
        part=_part(session, sku),
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


# ---- reservations: never oversell ------------------------------------------------------------

RESERVATION_TTL = timedelta(hours=48)


def reserve(
    session: Session,
    *,
    key: str,
    order_id: str,
    warehouse: Warehouse,
    part: Part,
    qty: int,
    now: datetime,
    ttl: timedelta | None = RESERVATION_TTL,
    actor: str = "",
) -> Reservation:
    """Holds `qty` of the part in the warehouse for the order line `key`: one conditional
    update (available >= qty) and the reservation row, in one savepoint. Idempotent: a
    second call with the key answers the first reservation and moves nothing.

    Raises:
        Conflict: fewer than `qty` available (`shortfall` and `available` in the body), or
            the key holds a reservation of another part, warehouse or quantity.
    """
    existing = repo.reservation_by_key(session, key=key)
    if existing is None:
        held = Reservation(
            key=key,
            order_id=order_id,
            warehouse_id=warehouse.id,
            part_id=part.id,
            qty=qty,
            status="held",
            created_at=now,
            expires_at=now + ttl if ttl is not None else None,
        )
        try:
            return _hold(session, held, warehouse=warehouse, part=part, now=now, actor=actor)
        except IntegrityError:
            existing = repo.reservation_by_key(session, key=key)
            if existing is None:
                raise
    if (existing.warehouse_id, existing.part_id, existing.qty) != (warehouse.id, part.id, qty):
        raise Conflict(f"reservation '{key}' holds another part, warehouse or quantity")
    return existing


def _hold(
    session: Session,
    held: Reservation,
    *,
    warehouse: Warehouse,
    part: Part,
    now: datetime,
    actor: str,
) -> Reservation:
    """Writes the reservation row and its journal line (key `reserve:<key>`, only if that
    many are available) in one savepoint.

    Raises:
        Conflict: fewer available than the reservation holds (the savepoint is undone).
        IntegrityError: the key was reserved meanwhile (the savepoint is undone).
    """
    with session.begin_nested():
        session.add(held)
        session.flush()
        move(
            session,
            warehouse=warehouse,
            part=part,
            kind="reservation",
            qty=held.qty,
            key=f"reserve:{held.key}",
            now=now,
            ref=held.order_id,
            actor=actor,
            need_available=True,
        )
    return held


def reserve_for_order(
    session: Session,
    *,
    scope_path: str | None,
    order_id: str,
    line: str,
    warehouse: str,
    sku: str,
    qty: int,
    now: datetime,
    ttl_minutes: int | None,
    actor: str,
) -> Reservation:
    """`reserve` for a caller: the warehouse must lie within its scope."""
    store = _warehouse(session, warehouse, scope_path, "warehouse")
    ttl = timedelta(minutes=ttl_minutes) if ttl_minutes else RESERVATION_TTL
    return reserve(
        session,
        key=f"{order_id}/{line}",
        order_id=order_id,
        warehouse=store,
        part=_part(session, sku),
        qty=qty,
        now=now,
        ttl=ttl,
        actor=actor,
    )


def release(session: Session, *, key: str, now: datetime, reason: str = "released") -> bool:
    """Gives a held reservation back to available stock, once. Returns whether it was held
    (a reservation consumed, shipped or released already is left as it is)."""
    held = repo.reservation_by_key(session, key=key)
    if held is None or held.status != "held":
        return False
    store = repo.warehouse_by_id(session, warehouse_id=held.warehouse_id)
    part = repo.part_by_id(session, part_id=held.part_id)
    assert store is not None and part is not None
    move(
        session,
        warehouse=store,
        part=part,
        kind="release",
        qty=held.qty,
        key=f"release:{key}",
        now=now,
        ref=held.order_id,
        reason=reason,
    )
    held.status = "released"
    session.flush()
    return True


def release_order(session: Session, *, order_id: str, now: datetime, reason: str) -> int:
    """Releases every reservation the order still holds (the order was cancelled)."""
    return sum(
        release(session, key=held.key, now=now, reason=reason)
        for held in repo.held_reservations(session, order_id=order_id)
    )


def release_expired(session: Session, *, now: datetime, limit: int = 500) -> int:
    """Releases reservations held past their expiry (timeout); returns how many."""
    return sum(
        release(session, key=held.key, now=now, reason="expired")
        for held in repo.expired_reservations(session, now=now, limit=limit)
    )


def find_reservation(session: Session, *, key: str) -> Reservation | None:
    return repo.reservation_by_key(session, key=key)


# ---- safety stock and replenishment ----------------------------------------------------------

DEMAND_WINDOW = timedelta(days=28)


def _pair(warehouse_id: int, part_id: int) -> str:
    return f"{warehouse_id}:{part_id}"


def check_safety(session: Session, *, warehouse: Warehouse, part: Part, now: datetime) -> None:
    """After a movement (and in the scheduled scan): a balance below its safety level gets
    ONE open alert with a suggestion, however many movements follow; a balance back at or
    above it closes its alert, so the next crossing raises a new one."""
    level = repo.level_of(session, warehouse_id=warehouse.id, part_id=part.id)
    if level is None or level.safety_level <= 0:
        return
    available = level.on_hand - level.reserved
    pair = _pair(warehouse.id, part.id)
    alert = repo.open_alert(session, pair=pair)
    if not rules.crossed_below(available, level.safety_level):
        if alert is not None:
            alert.open_pair, alert.resolved_at = None, now
            if alert.status == "open":
                alert.status = "resolved"
            session.flush()
        return
    if alert is not None:
        alert.available = available  # still below: the one alert shows the latest figure
        session.flush()
        return
    try:
        with session.begin_nested():
            session.add(
                StockAlert(
                    warehouse_id=warehouse.id,
                    part_id=part.id,
                    open_pair=pair,
                    status="open",
                    available=available,
                    safety_level=level.safety_level,
                    suggestion=suggest(
                        session, warehouse=warehouse, part=part, level=level, now=now
                    ),
                    created_at=now,
                )
            )
            session.flush()
    except IntegrityError:
        pass  # a concurrent movement raised the alert first: one alert, not two


def daily_demand(session: Session, *, warehouse: Warehouse, part: Part, now: datetime) -> float:
    """Units of the part consumed per day from the warehouse over the last four weeks."""
    used = repo.consumed_since(
        session, part_id=part.id, warehouse_ids=[warehouse.id], since=now - DEMAND_WINDOW
    )
    return used / DEMAND_WINDOW.days


def suggest(
    session: Session, *, warehouse: Warehouse, part: Part, level: StockLevel, now: datetime
) -> dict[str, Any]:
    """What to do about a balance below safety: how many (back to the reorder point plus the
    lead time's demand) and from where: a central warehouse purchases; any other takes a
    transfer from the nearest warehouse that has that many above its own safety level,
    else purchases."""
    demand = daily_demand(session, warehouse=warehouse, part=part, now=now)
    qty = rules.replenish_qty(
        available=level.on_hand - level.reserved,
        safety_level=level.safety_level,
        reorder_point=level.reorder_point,
        daily_demand=demand,
        lead_time_days=warehouse.lead_time_hours / 24,
    )
    base = {"qty": qty, "daily_demand": round(demand, 2), "unit_cost": str(part.cost)}
    if warehouse.kind != "central":
        donors = [
            rules.Candidate(
                h.code,
                h.kind,
                h.lat,
                h.lng,
                h.available - h.safety_level,
                h.lead_time_hours,
                h.engineer_code,
            )
            for h in repo.holders(session, part_id=part.id, at_least=qty)
            if h.warehouse_id != warehouse.id and h.kind != "van"
        ]
        plan = rules.plan_line(part.sku, qty, donors, lat=warehouse.lat, lng=warehouse.lng)
        if plan.picks and not plan.shortfall and len(plan.picks) == 1:
            pick = plan.picks[0]
            return {
                **base,
                "action": "transfer",
                "source": pick.warehouse,
                "distance_km": pick.distance_km,
                "reason": plan.reason,
            }
    return {
        **base,
        "action": "purchase",
        "source": "",
        "reason": f"{warehouse.code} ({warehouse.kind}): purchase {qty} {part.unit}",
    }


def set_safety(
    session: Session,
    *,
    scope_path: str | None,
    warehouse: str,
    sku: str,
    safety_level: int,
    reorder_point: int,
    now: datetime,
) -> StockLevel:
    """Sets the safety level and reorder point of a part in a warehouse, and checks it."""
    store = _warehouse(session, warehouse, scope_path, "warehouse")
    part = _part(session, sku)
    if reorder_point and reorder_point < safety_level:
        raise invalid_field("reorder_point", "cannot be below the safety level")
    repo.ensure_level(session, warehouse_id=store.id, part_id=part.id)
    level = repo.level_of(session, warehouse_id=store.id, part_id=part.id)
    assert level is not None
    level.safety_level, level.reorder_point = safety_level, reorder_point
    session.flush()
    check_safety(session, warehouse=store, part=part, now=now)
    return level


def scan_safety(session: Session, *, now: datetime, batch: int = 1000) -> int:
    """The scheduled scan: checks every balance with a safety level (so a level lowered
    without a movement, or a missed check, still raises its one alert) and releases the
    reservations past their expiry. Returns how many balances it checked."""
    release_expired(session, now=now)
    checked, after = 0, 0
    while True:
        levels = repo.levels_to_scan(session, after_id=after, limit=batch)
        if not levels:
            return checked
        for level in levels:
            store = repo.warehouse_by_id(session, warehouse_id=level.warehouse_id)
            part = repo.part_by_id(session, part_id=level.part_id)
            assert store is not None and part is not None
            check_safety(session, warehouse=store, part=part, now=now)
        checked += len(levels)
        after = levels[-1].id


class AlertEntry(NamedTuple):
    alert: StockAlert
    warehouse: Warehouse
    part: Part


def page_alerts(
    session: Session, *, scope_path: str | None, status: str | None, limit: int, offset: int
) -> tuple[list[AlertEntry], int]:
    rows, count = repo.page_alerts(
        session,
        region_ids=org.unit_ids_in_scope(scope_path=scope_path),
        status=status,
        limit=limit,
        offset=offset,
    )
    return [AlertEntry(*row) for row in rows], count


def acknowledge_alert(
    session: Session, *, alert_id: int, scope_path: str | None, by: str, now: datetime
) -> AlertEntry:
    """Marks an alert seen (it stays the pair's open alert until stock is back above
    safety). An alert outside the scope is answered as missing.

    Raises:
        NotFound: no such alert in the caller's scope.
    """
    alert = repo.alert_by_id(session, alert_id=alert_id)
    store = repo.warehouse_by_id(session, warehouse_id=alert.warehouse_id) if alert else None
    if (
        alert is None
        or store is None
        or not org.visible(org.path_of_unit(session, unit_id=store.region_id), scope_path)
    ):
        raise NotFound(f"no alert {alert_id}")
    if alert.status == "open":
        alert.status, alert.acknowledged_by, alert.acknowledged_at = "acknowledged", by, now
        session.flush()
    part = repo.part_by_id(session, part_id=alert.part_id)
    assert part is not None
    return AlertEntry(alert, store, part)


# ---- sourcing --------------------------------------------------------------------------------


class Location(NamedTuple):
    lat: float | None
    lng: float | None


def _destination(
    session: Session,
    *,
    destination: str | None,
    lat: float | None,
    lng: float | None,
    scope_path: str | None,
) -> tuple[Warehouse | None, Location]:
    if destination:
        store = _warehouse(session, destination, scope_path, "destination")
        return store, Location(
            lat if lat is not None else store.lat, lng if lng is not None else store.lng
        )
    if lat is None or lng is None:
        raise invalid_field("destination", "give a destination warehouse or lat and lng")
    return None, Location(lat, lng)


def plan_lines(
    session: Session,
    *,
    lines: list[tuple[str, int]],
    lat: float | None,
    lng: float | None,
    engineer: str = "",
) -> list[rules.Plan]:
    """For each (sku, qty): where it comes from and why (`rules.plan_line` over every
    warehouse holding the part: the whole catalogue and every region, since a part is
    worth a transfer across regions when none is nearer)."""
    plans = []
    for index, (sku, qty) in enumerate(lines):
        part = _part(session, sku, field=f"lines[{index}].sku")
        candidates = [
            rules.Candidate(
                h.code, h.kind, h.lat, h.lng, h.available, h.lead_time_hours, h.engineer_code
            )
            for h in repo.holders(session, part_id=part.id)
        ]
        plans.append(rules.plan_line(sku, qty, candidates, lat=lat, lng=lng, engineer=engineer))
    return plans


def source(
    session: Session,
    *,
    scope_path: str | None,
    lines: list[tuple[str, int]],
    destination: str | None = None,
    lat: float | None = None,
    lng: float | None = None,
    engineer: str = "",
) -> list[rules.Plan]:
    """Sourcing for a caller: the job is at `destination` (a warehouse within the caller's
    scope, e.g. the outlet's store) or at `lat`/`lng`. Reads only: nothing is reserved."""
    _, at = _destination(session, destination=destination, lat=lat, lng=lng, scope_path=scope_path)
    return plan_lines(session, lines=lines, lat=at.lat, lng=at.lng, engineer=engineer)


# ---- transfers (the saga's steps; workflows/transfer.py runs them) ---------------------------


class TransferView(NamedTuple):
    transfer: Transfer
    part: Part
    source: Warehouse
    destination: Warehouse

    def store(self, side: str) -> Warehouse:
        """The warehouse on `side`: "source" or "destination"."""
        return self.source if side == "source" else self.destination


_LEGS = {
    "out": ("source", "transfer_out"),
    "in": ("destination", "transfer_in"),
    "return-out": ("destination", "transfer_out"),
    "return": ("source", "transfer_in"),
}
"""The movements of a transfer's units, by the suffix of their key `<code>/<leg>`: the
side they move at and the movement kind (out, in, and the way back when cancelled)."""


def _leg(
    session: Session,
    view: TransferView,
    leg: str,
    *,
    code: str,
    now: datetime,
    reason: str = "",
    actor: str = "",
) -> None:
    """Moves the transfer's units at one side, once (key `<code>/<leg>`)."""
    side, kind = _LEGS[leg]
    move(
        session,
        warehouse=view.store(side),
        part=view.part,
        kind=kind,
        qty=view.transfer.qty,
        key=f"{code}/{leg}",
        now=now,
        ref=view.transfer.order_id or code,
        reason=reason,
        actor=actor,
    )


def _view(session: Session, transfer: Transfer) -> TransferView:
    part = repo.part_by_id(session, part_id=transfer.part_id)
    src = repo.warehouse_by_id(session, warehouse_id=transfer.source_id)
    dst = repo.warehouse_by_id(session, warehouse_id=transfer.destination_id)
    assert part is not None and src is not None and dst is not None
    return TransferView(transfer, part, src, dst)


def plan_transfer(
    session: Session,
    *,
    scope_path: str | None,
    order_id: str,
    line: str,
    sku: str,
    qty: int,
    destination: str,
    source: str | None = None,
) -> tuple[str, str, rules.Plan | None]:
    """The source and destination codes of a transfer to ask for: `source` as given (any
    warehouse holding the part), else the one sourcing chooses for the destination.

    Raises:
        Invalid: unknown codes (naming the field); Conflict: no warehouse can fill the line
            (`shortfall` in the body).
    """
    dst = _warehouse(session, destination, scope_path, "destination")
    part = _part(session, sku)
    if source:
        src = repo.get_warehouse_by_code(session, code=source)
        if src is None:
            raise invalid_field("source", f"no warehouse '{source}'")
        return src.code, dst.code, None
    (plan,) = plan_lines(session, lines=[(part.sku, qty)], lat=dst.lat, lng=dst.lng)
    if not plan.picks or len(plan.picks) > 1 or plan.shortfall:
        raise Conflict(
            f"no single warehouse can send {qty} of {sku}: {plan.reason}",
            shortfall=plan.shortfall or qty,
            plan=[{"warehouse": p.warehouse, "qty": p.qty} for p in plan.picks],
        )
    return plan.picks[0].warehouse, dst.code, plan


def open_transfer(
    session: Session,
    *,
    code: str,
    order_id: str,
    line_key: str,
    sku: str,
    qty: int,
    source: str,
    destination: str,
    now: datetime,
    fresh: bool = False,
) -> TransferView:
    """Step 1 of the saga: records the transfer and reserves the part at the source
    (key `<code>/source`). Idempotent by `code`.

    Raises:
        Conflict: the source no longer has `qty` available (shortfall in the body); with
            `fresh` (a person asking), the code's transfer was cancelled or failed already.
    """
    transfer = repo.transfer_by_code(session, code=code)
    if fresh and transfer is not None and transfer.status in ("cancelled", "failed"):
        raise Conflict(f"transfer '{code}' was {transfer.status}: use another line")
    part = _part(session, sku)
    src, dst = _transfer_ends(session, source=source, destination=destination)
    if transfer is None:
        transfer = Transfer(
            code=code,
            order_id=order_id,
            line_key=line_key,
            part_id=part.id,
            qty=qty,
            source_id=src.id,
            destination_id=dst.id,
            status="requested",
            created_at=now,
            updated_at=now,
        )
        session.add(transfer)
        session.flush()
    if transfer.status == "requested":
        _reserve_at_source(
            session, transfer, source=src, part=part, qty=qty, order_id=order_id, now=now
        )
    return _view(session, transfer)


def _transfer_ends(
    session: Session, *, source: str, destination: str
) -> tuple[Warehouse, Warehouse]:
    """The source and destination warehouses of a transfer, by code (any region's).

    Raises:
        Invalid: an unknown code (naming the field `source` or `destination`).
    """
    src = repo.get_warehouse_by_code(session, code=source)
    dst = repo.get_warehouse_by_code(session, code=destination)
    if src is None or dst is None:
        raise invalid_field("source" if src is None else "destination", "no such warehouse")
    return src, dst


def _reserve_at_source(
    session: Session,
    transfer: Transfer,
    *,
    source: Warehouse,
    part: Part,
    qty: int,
    order_id: str,
    now: datetime,
) -> None:
    """Holds `qty` at the transfer's source for the order (key `<code>/source`, no
    expiry) and marks the transfer reserved."""
    reserve(
        session,
        key=f"{transfer.code}/source",
        order_id=order_id or transfer.code,
        warehouse=source,
        part=part,
        qty=qty,
        now=now,
        ttl=None,
    )
    transfer.status, transfer.updated_at = "reserved", now
    session.flush()


def _transfer(session: Session, code: str) -> Transfer:
    transfer = repo.transfer_by_code(session, code=code)
    if transfer is None:
        raise NotFound(f"no transfer '{code}'")
    return transfer


def ship_transfer(
    session: Session, *, code: str, carrier: str, tracking_no: str, now: datetime, actor: str = ""
) -> TransferView:
    """Step 2: the source sent it (carrier and tracking number): the reserved units leave
    the source (transfer_out, key `<code>/out`). Idempotent."""
    transfer = _transfer(session, code)
    view = _view(session, transfer)
    if transfer.status == "reserved":
        _leg(
            session, view, "out", code=code, now=now, reason=f"{carrier} {tracking_no}", actor=actor
        )
        held = repo.reservation_by_key(session, key=f"{code}/source")
        if held is not None:
            held.status = "shipped"
        transfer.status, transfer.carrier, transfer.tracking_no = "shipped", carrier, tracking_no
        transfer.updated_at = now
        session.flush()
    return view


def receive_transfer(
    session: Session, *, code: str, now: datetime, actor: str = ""
) -> TransferView:
    """Step 3: the destination received it (transfer_in, key `<code>/in`) and holds it for
    the order line (a reservation under the line's key). Idempotent."""
    transfer = _transfer(session, code)
    view = _view(session, transfer)
    if transfer.status == "shipped":
        _leg(session, view, "in", code=code, now=now, actor=actor)
        reserve(
            session,
            key=transfer.line_key or f"{code}/destination",
            order_id=transfer.order_id or code,
            warehouse=view.destination,
            part=view.part,
            qty=transfer.qty,
            now=now,
            ttl=None,
        )
        transfer.status, transfer.updated_at = "received", now
        session.flush()
    return view


def cancel_transfer(session: Session, *, code: str, reason: str, now: datetime) -> TransferView:
    """Compensation, whatever step the transfer reached: a reservation at the source is
    released; shipped units come back to the source (transfer_in `<code>/return`); units
    received are sent back (the destination's hold released, transfer_out
    `<code>/return-out`, transfer_in `<code>/return`). Stock ends where it was. Idempotent;
    a consumed transfer is not undone."""
    transfer = _transfer(session, code)
    view = _view(session, transfer)
    status = transfer.status
    if status in ("cancelled", "consumed"):
        return view
    if status in ("requested", "reserved"):
        release(session, key=f"{code}/source", now=now, reason=f"transfer cancelled: {reason}")
    if status == "received":
        line_key = transfer.line_key or f"{code}/destination"
        held = repo.reservation_by_key(session, key=line_key)
        if held is not None and held.status == "held":
            held.status = "returned"
            _leg(session, view, "return-out", code=code, now=now, reason=f"return: {reason}")
    if status in ("shipped", "received"):
        _leg(session, view, "return", code=code, now=now, reason=f"return: {reason}")
    transfer.status, transfer.reason, transfer.updated_at = "cancelled", reason[:500], now
    session.flush()
    return view


def find_transfer(session: Session, *, code: str, scope_path: str | None) -> TransferView:
    """The transfer, when its source or destination lies within the scope.

    Raises:
        NotFound: no such transfer in the caller's scope.
    """
    transfer = repo.transfer_by_code(session, code=code)
    if transfer is None:
        raise NotFound(f"no transfer '{code}'")
    view = _view(session, transfer)
    if not any(
        org.visible(org.path_of_unit(session, unit_id=w.region_id), scope_path)
        for w in (view.source, view.destination)
    ):
        raise NotFound(f"no transfer '{code}'")
    return view


def check_transfer_side(
    session: Session, *, code: str, scope_path: str | None, side: str
) -> TransferView:
    """The transfer, when its `side` ("source" ships, "destination" receives) lies within
    the caller's scope: only that warehouse's people enter its step.

    Raises:
        NotFound: no such transfer visible; Forbidden: the other side's step.
    """
    view = find_transfer(session, code=code, scope_path=scope_path)
    store = view.store(side)
    if not org.visible(org.path_of_unit(session, unit_id=store.region_id), scope_path):
        raise Forbidden(f"only {store.code} enters this step of transfer '{code}'")
    return view


def transfers_of_order(session: Session, *, order_id: str) -> list[TransferView]:
    return [_view(session, t) for t in repo.transfers_of_order(session, order_id=order_id)]


# ---- consumption -----------------------------------------------------------------------------


class Consumed(NamedTuple):
    sku: str
    qty: int
    warehouse: str
    source: str  # "van" | "reservation" | "" (nothing in stock to take it from)


def consume_parts(
    session: Session,
    *,
    order_id: str,
    key: str,
    lines: list[tuple[str, int]],
    engineer: str,
    now: datetime,
) -> list[Consumed]:
    """Takes the parts used on the order out of stock, exactly once per `key` and line:
    from the engineer's van when it holds them, else from the order's reservation of that
    part (a transfer's or a direct one), consumed and closed. A line nothing holds is
    reported with an empty source, not taken (the settlement prices it all the same, from
    the catalogue)."""
    van = repo.van_of(session, engineer_code=engineer) if engineer else None
    holds = repo.held_reservations(session, order_id=order_id)
    done: list[Consumed] = []
    for index, (sku, qty) in enumerate(lines):
        part = repo.get_part_by_sku(session, sku=sku)
        if part is None or qty <= 0:
            continue
        use = _Use(order_id, f"consume:{key}/{index}", sku, part, qty, now)
        done.append(
            _consumed_before(session, use)
            or _from_van(session, use, van)
            or _from_reservation(session, use, holds)
        )
    _close_consumed_transfers(session, order_id=order_id, now=now)
    return done


class _Use(NamedTuple):
    """One line of parts used on an order, taken out of stock under the journal key `key`."""

    order_id: str
    key: str
    sku: str
    part: Part
    qty: int
    now: datetime


def _consumed_before(session: Session, use: _Use) -> Consumed | None:
    """The line as an earlier call took it (its key is in the journal), else None."""
    taken = repo.movement_by_key(session, key=use.key)
    if taken is None:
        return None
    store = repo.warehouse_by_id(session, warehouse_id=taken.warehouse_id)
    origin = "reservation" if taken.reserved_delta else "van"
    return Consumed(use.sku, use.qty, store.code if store else "", origin)


def _from_van(session: Session, use: _Use, van: Warehouse | None) -> Consumed | None:
    """Takes the line from the engineer's van when it has that many available, else None."""
    if van is None:
        return None
    level = repo.level_of(session, warehouse_id=van.id, part_id=use.part.id)
    if level is None or level.on_hand - level.reserved < use.qty:
        return None
    move(
        session,
        warehouse=van,
        part=use.part,
        kind="consumption_unreserved",
        qty=use.qty,
        key=use.key,
        now=use.now,
        ref=use.order_id,
        need_available=True,
    )
    return Consumed(use.sku, use.qty, van.code, "van")


def _from_reservation(session: Session, use: _Use, holds: list[Reservation]) -> Consumed:
    """Takes the line from the order's held reservation of the part (releasing what it
    holds beyond the line, key `<key>/rest`) and closes it; a line no reservation holds
    is answered with an empty source, taking nothing."""
    held = next(
        (h for h in holds if h.part_id == use.part.id and h.status == "held" and h.qty >= use.qty),
        None,
    )
    if held is None:
        return Consumed(use.sku, use.qty, "", "")
    store = repo.warehouse_by_id(session, warehouse_id=held.warehouse_id)
    assert store is not None
    move(
        session,
        warehouse=store,
        part=use.part,
        kind="consumption",
        qty=use.qty,
        key=use.key,
        now=use.now,
        ref=use.order_id,
    )
    if held.qty > use.qty:
        move(
            session,
            warehouse=store,
            part=use.part,
            kind="release",
            qty=held.qty - use.qty,
            key=f"{use.key}/rest",
            now=use.now,
            ref=use.order_id,
            reason="not used",
        )
    held.status = "consumed"
    session.flush()
    return Consumed(use.sku, use.qty, store.code, "reservation")


def _close_consumed_transfers(session: Session, *, order_id: str, now: datetime) -> None:
    """Marks consumed the order's received transfers whose line reservation was consumed."""
    for transfer in repo.transfers_of_order(session, order_id=order_id):
        line = (
            repo.reservation_by_key(session, key=transfer.line_key) if transfer.line_key else None
        )
        if transfer.status == "received" and line is not None and line.status == "consumed":
            transfer.status, transfer.updated_at = "consumed", now
    session.flush()


def price_of(session: Session, *, sku: str) -> tuple[Decimal, str] | None:
    """The catalogue price and currency of a part (what the settlement charges)."""
    part = repo.get_part_by_sku(session, sku=sku)
    return (part.price, part.currency) if part is not None else None


# ---- the order's steps: the parts node sources, the consume node takes out of stock ----------


def _job_location(step: StepInput) -> Location:
    customer = step.context.customer or {}
    lat, lng = customer.get("lat"), customer.get("lng")
    ok = isinstance(lat, int | float) and isinstance(lng, int | float)
    return Location(float(lat), float(lng)) if ok else Location(None, None)  # type: ignore[arg-type]


def _engineer(step: StepInput) -> str:
    """The engineer the order's latest dispatch chose (its output's `engineer_id`)."""
    engineer = ""
    for value in step.variables.values():
        if isinstance(value, dict) and isinstance(value.get("engineer_id"), str):
            engineer = str(value["engineer_id"])
    return engineer


def _nearest_store(session: Session, *, region: str, at: Location) -> Warehouse | None:
    unit = org.find_region(session, code_or_name=region) if region else None
    region_ids = org.unit_ids_in_scope(scope_path=unit.path) if unit is not None else None
    stores = [
        w
        for w in repo.page_warehouses(session, region_ids=region_ids, limit=10_000, offset=0)[0]
        if w.kind != "van"
    ]
    if not stores:
        return None
    ranked = rules.rank(
        [rules.Candidate(w.code, w.kind, w.lat, w.lng, 1, 0) for w in stores],
        lat=at.lat,
        lng=at.lng,
    )
    return next(w for w in stores if w.code == ranked[0].code)


def source_for_order(
    session: Session, step: StepInput, now: datetime, facts: OrderFacts
) -> StepOutcome:
    """The parts node's effect: sources the parts the step named (`params.parts_from`) for
    the job: a line the engineer's van or the job's nearest store (the destination) can
    fill is reserved there for the order; any other is reserved at the warehouse sourcing
    chooses and becomes a transfer to the destination (`transfers` in the output: the node
    runs one transfer workflow each and waits). Lines nothing can fill are `shortfall`."""
    sources = [str(s) for s in step.params.get("parts_from", [])]
    lines = rules.parts_lines(step.variables, sources)
    at = _job_location(step)
    engineer = _engineer(step)
    dest = _nearest_store(session, region=facts.region or step.context.region, at=at)
    if dest is not None and at.lat is None:
        at = Location(dest.lat, dest.lng)
    plans = plan_lines(session, lines=lines, lat=at.lat, lng=at.lng, engineer=engineer)
    reserved: list[dict[str, Any]] = []
    transfers: list[dict[str, Any]] = []
    for plan in plans:
        for index, pick in enumerate(plan.picks):
            # The visit in the keys: a loop back to the node sources again, not the same.
            line_key = f"{step.order_id}/{plan.sku}/{index}/{step.visit}"
            store = repo.get_warehouse_by_code(session, code=pick.warehouse)
            assert store is not None
            if pick.van or dest is None or store.id == dest.id:
                reserved.append(
                    _reserve_pick(session, step, plan.sku, pick.qty, store, line_key, now=now)
                )
                continue
            code = f"{step.order_id}.{plan.sku}.{index}.{step.visit}"
            transfers.append(
                _transfer_pick(
                    session, step, plan.sku, pick.qty, (store, dest), code, line_key, now
                )
            )
    return _sourced(plans, dest=dest, reserved=reserved, transfers=transfers)


def _reserve_pick(
    session: Session,
    step: StepInput,
    sku: str,
    qty: int,
    store: Warehouse,
    line_key: str,
    *,
    now: datetime,
) -> dict[str, Any]:
    """Reserves a pick where it is (the van or the destination) for the order line."""
    reserve(
        session,
        key=line_key,
        order_id=step.order_id,
        warehouse=store,
        part=_part(session, sku),
        qty=qty,
        now=now,
        ttl=None,
    )
    return {"sku": sku, "qty": qty, "warehouse": store.code}


def _transfer_pick(
    session: Session,
    step: StepInput,
    sku: str,
    qty: int,
    ends: tuple[Warehouse, Warehouse],
    code: str,
    line_key: str,
    now: datetime,
) -> dict[str, Any]:
    """Opens the transfer `code` of a pick from its store to the destination (`ends`) and
    answers the transfer workflow's input."""
    source, destination = ends
    open_transfer(
        session,
        code=code,
        order_id=step.order_id,
        line_key=line_key,
        sku=sku,
        qty=qty,
        source=source.code,
        destination=destination.code,
        now=now,
    )
    return TransferInput(
        code=code,
        order_id=step.order_id,
        line_key=line_key,
        sku=sku,
        qty=qty,
        source=source.code,
        destination=destination.code,
    ).model_dump(mode="json")


def _sourced(
    plans: list[rules.Plan],
    *,
    dest: Warehouse | None,
    reserved: list[dict[str, Any]],
    transfers: list[dict[str, Any]],
) -> StepOutcome:
    """The parts node's output: the destination, what was reserved, the transfers, what
    is short and each plan's reason."""
    shortfall = [{"sku": plan.sku, "qty": plan.shortfall} for plan in plans if plan.shortfall]
    output = {
        "destination": dest.code if dest is not None else "",
        "reserved": reserved,
        "transfers": transfers,
        "shortfall": shortfall,
        "reason": "; ".join(f"{plan.sku}: {plan.reason}" for plan in plans)[:2000],
    }
    summary = f"{len(reserved)} reserved, {len(transfers)} transfers, {len(shortfall)} short"
    return StepOutcome(result=StepResult(output=output, summary=summary))


def consume_for_step(
    session: Session, step: StepInput, now: datetime, facts: OrderFacts
) -> StepOutcome:
    """The consume node's effect: the parts the step reported used (`params.parts_from`)
    leave stock once (`consume_parts`, keyed by the step's idempotency key)."""
    sources = [str(s) for s in step.params.get("parts_from", [])]
    lines = rules.parts_lines(step.variables, sources)
    done = consume_parts(
        session,
        order_id=step.order_id,
        key=step.idempotency_key,
        lines=lines,
        engineer=_engineer(step),
        now=now,
    )
    output = {"consumed": [c._asdict() for c in done]}
    summary = ", ".join(f"{c.sku} x{c.qty} @ {c.warehouse or '-'}" for c in done)
    return StepOutcome(result=StepResult(output=output, summary=summary[:500]))


def cancel_order_parts(session: Session, *, order_id: str, now: datetime, reason: str) -> int:
    """An order cancelled: its reservations are released (transfers compensate in their
    own workflow)."""
    return release_order(session, order_id=order_id, now=now, reason=reason)


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


def release_for_caller(
    session: Session,
    *,
    scope_path: str | None,
    order_id: str,
    line: str | None,
    reason: str,
    now: datetime,
) -> int:
    """Releases the order line's reservation (all the order's when `line` is None) held in
    warehouses within the caller's scope; returns how many were released."""
    keys = (
        [f"{order_id}/{line}"]
        if line
        else [held.key for held in repo.held_reservations(session, order_id=order_id)]
    )
    count = 0
    for key in keys:
        held = repo.reservation_by_key(session, key=key)
        store = repo.warehouse_by_id(session, warehouse_id=held.warehouse_id) if held else None
        if store is None or find_warehouse(session, code=store.code, scope_path=scope_path) is None:
            continue
        count += release(session, key=key, now=now, reason=reason)
    return count
