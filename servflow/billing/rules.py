"""Pricing a job and splitting money: pure functions on Decimal, no database.

Every amount is rounded ROUND_HALF_UP to the cent. Splits are exact: the last payee gets
whatever remains, so the parts always add up to the whole.
"""

from __future__ import annotations

import re
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


_TEXT_ITEM = re.compile(r"([A-Za-z0-9][A-Za-z0-9_.-]*)\s*(?:[x×*]\s*(\d+))?")


def parse_parts_used(value: Any) -> list[tuple[str, int]]:
    """(sku, qty) pairs from a form value.

    Accepts a list of {"sku", "qty"} objects (qty defaults to 1), or text such as
    "AC-CAP-35UF x2, R410A-1KG" (the form's free-text field).

    Raises:
        ValueError: a malformed item or a quantity below 1.
    """
    if value is None or value == "" or value == []:
        return []
    pairs: list[tuple[str, int]] = []
    if isinstance(value, str):
        for chunk in re.split(r"[,，;；\n]+", value):
            chunk = chunk.strip()
            if not chunk:
                continue
            match = _TEXT_ITEM.fullmatch(chunk)
            if match is None:
                raise ValueError(f"cannot read part {chunk!r}; write SKU x QTY")
            pairs.append((match.group(1), int(match.group(2) or 1)))
        return pairs
    if not isinstance(value, list):
        raise ValueError("parts_used must be a list of {sku, qty} or text")
    for item in value:
        if not isinstance(item, Mapping) or not str(item.get("sku", "")).strip():
            raise ValueError(f"part {item!r} has no sku")
        qty = int(item.get("qty", 1))
        if qty < 1:
            raise ValueError(f"part {item['sku']} has quantity {qty}")
        pairs.append((str(item["sku"]).strip(), qty))
    return pairs


def collect_parts_used(variables: Mapping[str, Any]) -> list[tuple[str, int]]:
    """Every part reported in any node's output, summed per SKU, in SKU order."""
    totals: dict[str, int] = {}
    for output in variables.values():
        if isinstance(output, Mapping) and "parts_used" in output:
            for sku, qty in parse_parts_used(output["parts_used"]):
                totals[sku] = totals.get(sku, 0) + qty
    return sorted(totals.items())
