"""The parts catalogue (HQ's master data "parts"): its entries, bulk additions and prices."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import NamedTuple

from sqlalchemy.orm import Session

from servflow.inventory import repo
from servflow.inventory.models import Part
from servflow.platform.errors import Forbidden, invalid_field

get_part_by_sku = repo.get_part_by_sku
parts_by_sku = repo.parts_by_sku


def _check_hq(scope_path: str | None) -> None:
    """Raises Forbidden (naming `sku`) unless the caller is HQ: every region shares the
    catalogue, so HQ alone keeps it."""
    if scope_path is not None:
        message = "the parts catalogue is kept by HQ"
        raise Forbidden(f"sku: {message}", errors={"sku": message})


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
    _check_hq(scope_path)
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
    _check_hq(scope_path)
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


def known_part(session: Session, sku: str, field: str = "sku") -> Part:
    """The catalogue part `sku`.

    Raises:
        Invalid: no such part (naming `field`).
    """
    part = repo.get_part_by_sku(session, sku=sku)
    if part is None:
        raise invalid_field(field, f"no part '{sku}'")
    return part


def price_of(session: Session, *, sku: str) -> tuple[Decimal, str] | None:
    """The catalogue price and currency of a part (what the settlement charges)."""
    part = repo.get_part_by_sku(session, sku=sku)
    return (part.price, part.currency) if part is not None else None
