"""Transfers between warehouses: the saga's steps (workflows/transfer.py runs them) and
their views."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from sqlalchemy.orm import Session

from servflow.inventory import repo, rules
from servflow.inventory.catalogue import known_part
from servflow.inventory.journal import move
from servflow.inventory.models import Part, Transfer, Warehouse
from servflow.inventory.reservations import release, reserve
from servflow.inventory.sourcing import plan_lines
from servflow.inventory.warehouses import visible_warehouse
from servflow.org import service as org
from servflow.platform.errors import Conflict, Forbidden, NotFound, invalid_field


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
    dst = visible_warehouse(session, destination, scope_path, "destination")
    part = known_part(session, sku)
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
    part = known_part(session, sku)
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
