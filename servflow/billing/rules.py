"""Pricing a job and splitting money: pure functions on Decimal, no database.

Every amount is rounded ROUND_HALF_UP to the cent. Splits are exact: the last payee gets
whatever remains, so the parts always add up to the whole.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

CENT = Decimal("0.01")
ENGINEER_SHARE = Decimal("0.30")
"""The engineer's part of each milestone payout; the outlet gets the rest (and the odd cent)."""


def money(value: Decimal | int | str) -> Decimal:
    """`value` rounded half-up to the cent."""
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Tariff:
    currency: str
    base_visit_fee: Decimal
    per_km_surcharge: Decimal
    free_km: Decimal


@dataclass(frozen=True)
class PartLine:
    sku: str
    name: str
    qty: int
    unit_price: Decimal

    @property
    def amount(self) -> Decimal:
        return money(self.unit_price * self.qty)


@dataclass(frozen=True)
class JobPrice:
    currency: str
    visits: int
    visit_fees: Decimal
    parts: tuple[PartLine, ...]
    parts_total: Decimal
    distance_km: Decimal
    chargeable_km: Decimal
    distance_surcharge: Decimal
    total: Decimal

    def breakdown(self) -> dict[str, Any]:
        """A JSON-ready breakdown (amounts as strings)."""
        return {
            "currency": self.currency,
            "visits": self.visits,
            "visit_fees": str(self.visit_fees),
            "parts": [
                {
                    "sku": p.sku,
                    "name": p.name,
                    "qty": p.qty,
                    "unit_price": str(p.unit_price),
                    "amount": str(p.amount),
                }
                for p in self.parts
            ],
            "parts_total": str(self.parts_total),
            "distance_km": str(self.distance_km),
            "chargeable_km": str(self.chargeable_km),
            "distance_surcharge": str(self.distance_surcharge),
            "total": str(self.total),
        }


def price_job(
    tariff: Tariff, *, visits: int, parts: Sequence[PartLine], distance_km: Decimal
) -> JobPrice:
    """Base fee per visit + parts at their price + surcharge per km beyond the free km."""
    if visits < 1:
        raise ValueError("a job has at least one visit")
    visit_fees = money(tariff.base_visit_fee * visits)
    parts_total = money(sum((p.amount for p in parts), Decimal(0)))
    chargeable = max(Decimal(0), distance_km - tariff.free_km)
    surcharge = money(chargeable * tariff.per_km_surcharge)
    return JobPrice(
        currency=tariff.currency,
        visits=visits,
        visit_fees=visit_fees,
        parts=tuple(parts),
        parts_total=parts_total,
        distance_km=distance_km,
        chargeable_km=chargeable,
        distance_surcharge=surcharge,
        total=visit_fees + parts_total + surcharge,
    )


def milestone_amount(
    job_total: Decimal, *, share: Decimal, settled_share: Decimal, settled_amount: Decimal
) -> Decimal:
    """This milestone's amount: job × share, and exactly the remainder for the last one.

    Raises:
        ValueError: the shares would exceed 1, or the share is not in (0, 1].
    """
    if not Decimal(0) < share <= 1:
        raise ValueError(f"share {share} is not in (0, 1]")
    if settled_share + share > 1:
        raise ValueError(
            f"shares would add up to {settled_share + share}: {settled_share} already settled"
        )
    if settled_share + share == 1:
        return job_total - settled_amount
    return money(job_total * share)


def split_payout(
    amount: Decimal, *, engineer_share: Decimal = ENGINEER_SHARE
) -> tuple[Decimal, Decimal]:
    """Splits a milestone payout into (engineer, outlet); they add up to `amount` exactly."""
    engineer = money(amount * engineer_share)
    return engineer, amount - engineer


SETTLEMENT_CEILING = Decimal("20000.00")
"""A job priced above this is held for finance's approval instead of paid out."""
PART_QTY_MAX = 999
"""Pieces of one part on one form line (as workflows.forms allows)."""


def declared_parts(variables: Mapping[str, Any], sources: Sequence[str]) -> list[tuple[str, int]]:
    """The parts reported in the declared `node.field` parts fields, summed per SKU, in SKU
    order. Only these fields are read: whatever else the order's variables hold (an order
    variable, another step's data) never adds money.

    Raises:
        ValueError: a line that is not {sku, qty} with qty from 1 to 999 (the form refuses
            those; an order started on an older snapshot may still hold one).
    """
    totals: dict[str, int] = {}
    for source in dict.fromkeys(sources):  # a field named twice is still priced once
        node_id, _, name = source.partition(".")
        output = variables.get(node_id)
        lines = output.get(name) if isinstance(output, Mapping) else None
        if lines in (None, "", []):
            continue
        if not isinstance(lines, list):
            raise ValueError(f"{source} is not a list of parts")
        for line in lines:
            sku = line.get("sku") if isinstance(line, Mapping) else None
            qty = line.get("qty") if isinstance(line, Mapping) else None
            if not isinstance(sku, str) or not isinstance(qty, int) or isinstance(qty, bool):
                raise ValueError(f"{source}: {line!r} is not a part line")
            if not 1 <= qty <= PART_QTY_MAX:
                raise ValueError(f"{source}: part {sku} has quantity {qty}")
            totals[sku] = totals.get(sku, 0) + qty
    return sorted(totals.items())
