"""Pricing a job and splitting money: pure functions on Decimal, no database.

Every amount is rounded ROUND_HALF_UP to the cent. Splits are exact: the last payee gets
whatever remains, so the parts always add up to the whole.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from workflows.expressions import ExpressionError, compile_expression, evaluate

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


# ---- price rules ---------------------------------------------------------------------------

RULE_KINDS = ("rate", "coefficient", "surcharge", "tax", "fx", "deduction")
HQ_ONLY_KINDS = ("tax", "fx")
"""Kinds only HQ sets (a region adjusts rates, coefficients, surcharges and deductions)."""
FACT_NAMES = (
    "job_type",
    "region",
    "visits",
    "hours",
    "distance_km",
    "parts_total",
    "cross_region",
    "urgent",
    "night",
    "weekend",
    "sla_breached",
    "nps",
)
"""The names a rule's condition may read."""
BODY_FIELDS = {
    "rate": {"visit_fee", "labour_per_hour", "parts_markup"},
    "coefficient": {"factor"},
    "surcharge": {"amount", "per_km_bands"},
    "tax": {"rate"},
    "fx": {"from", "to", "rate"},
    "deduction": {"amount", "rate"},
}
MAX_BANDS = 20


@dataclass(frozen=True)
class Rule:
    """A price rule version as pricing reads it."""

    id: int
    code: str
    version: int
    kind: str
    scope_path: str
    job_type: str
    condition: str
    body: Mapping[str, Any]
    currency: str
    valid_from: Any = None

    @property
    def ref(self) -> str:
        return f"{self.code}@v{self.version}"

    def number(self, name: str, default: str = "0") -> Decimal:
        return Decimal(str(self.body.get(name, default)))


@dataclass(frozen=True)
class PriceFacts:
    """What pricing knows about the job (the names conditions read)."""

    job_type: str
    region: str = ""
    visits: int = 1
    hours: Decimal = Decimal(0)
    distance_km: Decimal = Decimal(0)
    parts_total: Decimal = Decimal(0)
    cross_region: bool = False
    urgent: bool = False
    night: bool = False
    weekend: bool = False
    sla_breached: bool = False
    nps: int = -1

    def names(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in FACT_NAMES}


@dataclass(frozen=True)
class PricedLine:
    """One line of a price, with the rule version that produced it."""

    kind: str
    label: str
    amount: Decimal
    rule_id: int | None = None
    rule: str = ""
    detail: str = ""

    def row(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "label": self.label,
            "amount": str(self.amount),
            "rule_id": self.rule_id,
            "rule": self.rule,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class Quote:
    currency: str
    lines: tuple[PricedLine, ...]
    total: Decimal

    def breakdown(self) -> dict[str, Any]:
        return {
            "currency": self.currency,
            "lines": [line.row() for line in self.lines],
            "total": str(self.total),
            "rules": sorted({line.rule for line in self.lines if line.rule}),
        }


def _specificity(rule: Rule, job_type: str) -> tuple[int, int, Any, int]:
    depth = rule.scope_path.rstrip("/").count("/")
    return (depth, int(rule.job_type == job_type), rule.valid_from, rule.version)


def choose(rules: Sequence[Rule], *, job_type: str) -> dict[str, Rule]:
    """Per rule code, the version that applies: the most specific scope (outlet over
    region over HQ), then a job-type rule over a general one, then the latest start, then
    the highest version. `rules` are those in force and in the order's scope."""
    chosen: dict[str, Rule] = {}
    for rule in rules:
        if rule.job_type not in ("*", job_type):
            continue
        best = chosen.get(rule.code)
        if best is None or _specificity(rule, job_type) > _specificity(best, job_type):
            chosen[rule.code] = rule
    return chosen


def holds(rule: Rule, facts: PriceFacts) -> bool:
    """The rule's condition on these facts (an empty condition always holds).

    Raises:
        ValueError: the condition fails to evaluate (bounded safe expression).
    """
    if not rule.condition.strip():
        return True
    try:
        return bool(evaluate(rule.condition, facts.names()))
    except ExpressionError as exc:
        raise ValueError(f"rule {rule.ref}: {exc}") from None


def band_charge(distance_km: Decimal, bands: Sequence[Mapping[str, Any]]) -> Decimal:
    """The per-km charge of `distance_km` over bands {from_km, to_km (None: open), per_km}."""
    charge = Decimal(0)
    for band in bands:
        low = Decimal(str(band.get("from_km", "0")))
        high_raw = band.get("to_km")
        high = distance_km if high_raw in (None, "") else Decimal(str(high_raw))
        covered = min(distance_km, high) - low
        if covered > 0:
            charge += covered * Decimal(str(band.get("per_km", "0")))
    return money(charge)


def _line(kind: str, label: str, amount: Decimal, rule: Rule, detail: str = "") -> PricedLine:
    return PricedLine(kind, label, amount, rule.id, rule.ref, detail)


def _by_code(chosen: Mapping[str, Rule]) -> list[Rule]:
    return sorted(chosen.values(), key=lambda r: r.code)


def _applying(rules: Sequence[Rule], kind: str, facts: PriceFacts) -> Iterator[Rule]:
    """The rules of `kind` whose condition holds, in order (each condition evaluated only
    when its turn comes)."""
    return (rule for rule in rules if rule.kind == kind and holds(rule, facts))


def _rate(chosen: Mapping[str, Rule], job_type: str) -> Rule:
    rates = [r for r in chosen.values() if r.kind == "rate"]
    if not rates:
        raise LookupError(f"no price rule (rate) for job type {job_type!r}")
    return max(rates, key=lambda r: _specificity(r, job_type))


def _rate_lines(rate: Rule, facts: PriceFacts) -> list[PricedLine]:
    """The rate's visit fee × visits, labour × hours, parts plus the markup."""
    fee = rate.number("visit_fee")
    lines = [_line("visit", "上门费", money(fee * facts.visits), rate, f"{fee} × {facts.visits}")]
    labour = rate.number("labour_per_hour")
    if facts.hours > 0 and labour > 0:
        detail = f"{labour} × {facts.hours} h"
        lines.append(_line("labour", "工时费", money(labour * facts.hours), rate, detail))
    if facts.parts_total > 0:
        lines.append(_line("parts", "配件", money(facts.parts_total), rate))
        markup = rate.number("parts_markup")
        if markup:
            amount = money(facts.parts_total * markup)
            lines.append(_line("parts_markup", "配件加价", amount, rate, f"× {markup}"))
    return lines


def _surcharge_lines(ordered: Sequence[Rule], facts: PriceFacts) -> list[PricedLine]:
    """Surcharges whose condition holds: per-km bands over the distance, or a fixed amount."""
    lines = []
    for rule in _applying(ordered, "surcharge", facts):
        if "per_km_bands" in rule.body:
            charge = band_charge(facts.distance_km, rule.body["per_km_bands"])
            detail = f"{facts.distance_km} km"
            if charge:
                lines.append(_line("surcharge", "里程附加", charge, rule, detail))
        else:
            lines.append(_line("surcharge", "附加费", money(rule.number("amount")), rule))
    return lines


def _coefficient_lines(
    ordered: Sequence[Rule], facts: PriceFacts, running: Decimal
) -> tuple[list[PricedLine], Decimal]:
    """Coefficients whose condition holds, by code order, each on the running amount."""
    lines = []
    for rule in _applying(ordered, "coefficient", facts):
        factor = rule.number("factor", "1")
        delta = money(running * factor) - running
        if delta:
            lines.append(_line("coefficient", "系数调整", delta, rule, f"× {factor}"))
            running += delta
    return lines, running


def _tax_lines(
    ordered: Sequence[Rule], facts: PriceFacts, running: Decimal
) -> tuple[list[PricedLine], Decimal]:
    """The most specific tax whose condition holds, on the running amount."""
    taxes = list(_applying(ordered, "tax", facts))
    if not taxes:
        return [], running
    tax = max(taxes, key=lambda r: _specificity(r, facts.job_type))
    tax_rate = tax.number("rate")
    if not tax_rate:
        return [], running
    amount = money(running * tax_rate)
    return [_line("tax", "税费", amount, tax, f"{tax_rate}")], running + amount


def _fx_lines(
    ordered: Sequence[Rule], running: Decimal, *, source: str, target: str
) -> tuple[list[PricedLine], Decimal]:
    """The running amount converted from `source` to `target` by the first fx rule between
    them (nothing when they are the same)."""
    if source == target:
        return [], running
    fx = [
        r
        for r in ordered
        if r.kind == "fx" and r.body.get("from") == source and r.body.get("to") == target
    ]
    if not fx:
        raise LookupError(f"no exchange rate from {source} to {target}")
    conversion = fx[0].number("rate")
    converted = money(running * conversion)
    detail = f"{source}→{target} × {conversion}"
    return [_line("fx", "汇率换算", converted - running, fx[0], detail)], converted


def price_with_rules(rules: Sequence[Rule], facts: PriceFacts, *, currency: str) -> Quote:
    """Prices a job from its rules: the rate's visit fee × visits, labour × hours, parts
    plus the markup; surcharges whose condition holds; coefficients (by code order, each on
    the running amount); tax on the result; converted to `currency` by an fx rule when the
    rate is in another. Every line names the rule version that produced it.

    Raises:
        LookupError: no rate for the job type, or no fx rule to `currency`.
        ValueError: a condition that fails.
    """
    chosen = choose(rules, job_type=facts.job_type)
    rate = _rate(chosen, facts.job_type)
    ordered = _by_code(chosen)
    lines = _rate_lines(rate, facts) + _surcharge_lines(ordered, facts)
    running = sum((line.amount for line in lines), Decimal(0))
    adjusted, running = _coefficient_lines(ordered, facts, running)
    taxed, running = _tax_lines(ordered, facts, running)
    converted, running = _fx_lines(ordered, running, source=rate.currency, target=currency)
    return Quote(currency=currency, lines=(*lines, *adjusted, *taxed, *converted), total=running)


def deductions(
    rules: Sequence[Rule], facts: PriceFacts, amount: Decimal
) -> tuple[Decimal, list[PricedLine]]:
    """A milestone's amount after its deductions and bonuses (deduction rules whose
    condition holds: a signed fixed amount or a signed rate of `amount`), never below 0."""
    lines = []
    chosen = choose(rules, job_type=facts.job_type)
    for rule in _applying(_by_code(chosen), "deduction", facts):
        if "rate" in rule.body:
            delta = money(amount * rule.number("rate"))
        else:
            delta = money(rule.number("amount"))
        label = "奖励" if delta > 0 else "扣款"
        lines.append(_line("deduction", label, delta, rule))
    total = amount + sum((line.amount for line in lines), Decimal(0))
    return max(Decimal(0), total), lines


def check_rule_body(kind: str, body: Mapping[str, Any]) -> dict[str, Any]:
    """The body normalised (amounts as text), or ValueError naming the field."""
    if kind not in RULE_KINDS:
        raise ValueError(f"kind: one of {', '.join(RULE_KINDS)}")
    allowed = BODY_FIELDS[kind] | {"bounds"}
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise ValueError(f"body.{unknown[0]}: not a field of a {kind} rule")
    out: dict[str, Any] = {}
    for name, value in body.items():
        if name in ("from", "to"):
            if not isinstance(value, str) or len(value) != 3 or not value.isupper():
                raise ValueError(f"body.{name}: a currency code like CNY")
            out[name] = value
        elif name == "per_km_bands":
            out[name] = _bands(value)
        elif name == "bounds":
            out[name] = _bounds(kind, value)
        else:
            out[name] = str(_decimal(value, f"body.{name}"))
    if kind == "rate" and "visit_fee" not in out:
        raise ValueError("body.visit_fee: a rate needs a visit fee")
    if kind in ("coefficient",) and "factor" not in out:
        raise ValueError("body.factor: a coefficient needs a factor")
    if kind == "fx" and not {"from", "to", "rate"} <= set(out):
        raise ValueError("body.rate: an fx rule needs from, to and rate")
    if kind == "tax" and "rate" not in out:
        raise ValueError("body.rate: a tax needs a rate")
    if kind in ("surcharge", "deduction") and not (set(out) & {"amount", "rate", "per_km_bands"}):
        raise ValueError("body.amount: give an amount")
    for name in ("visit_fee", "labour_per_hour", "factor"):
        if name in out and Decimal(out[name]) < 0:
            raise ValueError(f"body.{name}: must not be negative")
    return out


def _decimal(value: Any, field: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (str, int, Decimal)):
        raise ValueError(f'{field}: a decimal number as text, like "80.00"')
    try:
        number = Decimal(str(value))
    except ArithmeticError:
        raise ValueError(f'{field}: a decimal number as text, like "80.00"') from None
    if not number.is_finite() or abs(number) >= Decimal("1e12"):
        raise ValueError(f"{field}: out of range")
    return number


def _bands(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_BANDS:
        raise ValueError(f"body.per_km_bands: a list of 1 to {MAX_BANDS} bands")
    bands = []
    for i, band in enumerate(value):
        if not isinstance(band, Mapping):
            raise ValueError(f"body.per_km_bands[{i}]: {{from_km, to_km, per_km}}")
        to = band.get("to_km")
        bands.append(
            {
                "from_km": str(
                    _decimal(band.get("from_km", "0"), f"body.per_km_bands[{i}].from_km")
                ),
                "to_km": None
                if to in (None, "")
                else str(_decimal(to, f"body.per_km_bands[{i}].to_km")),
                "per_km": str(_decimal(band.get("per_km"), f"body.per_km_bands[{i}].per_km")),
            }
        )
    return bands


def _bounds(kind: str, value: Any) -> dict[str, list[str]]:
    if not isinstance(value, Mapping):
        raise ValueError("body.bounds: {field: [min, max]}")
    out = {}
    for name, pair in value.items():
        if name not in BODY_FIELDS[kind] or not isinstance(pair, list) or len(pair) != 2:
            raise ValueError(f"body.bounds.{name}: [min, max] of a field of this rule")
        low, high = (_decimal(v, f"body.bounds.{name}") for v in pair)
        if low > high:
            raise ValueError(f"body.bounds.{name}: min above max")
        out[name] = [str(low), str(high)]
    return out


def outside_bounds(frame: Mapping[str, Any], body: Mapping[str, Any]) -> str | None:
    """The first field of `body` outside the HQ frame's bounds, as 'body.<field>: ...'."""
    for name, (low, high) in (frame.get("bounds") or {}).items():
        if name in body and not Decimal(low) <= Decimal(str(body[name])) <= Decimal(high):
            return f"body.{name}: HQ allows {low} to {high}"
    return None


def check_condition(condition: str) -> None:
    """ValueError unless `condition` is a safe expression reading only FACT_NAMES."""
    if not condition.strip():
        return
    try:
        expression = compile_expression(condition)
    except ExpressionError as exc:
        raise ValueError(f"condition: {exc}") from None
    for path in expression.references:
        if path[0] not in FACT_NAMES:
            raise ValueError(
                f"condition: unknown name {path[0]!r} (known: {', '.join(FACT_NAMES)})"
            )


# ---- revenue share -------------------------------------------------------------------------

PARTY_ROLES = ("hq", "region", "branch", "outlet", "agent", "engineer")


def split_largest_remainder(amount: Decimal, ratios: Sequence[Decimal]) -> list[Decimal]:
    """Splits `amount` (non-negative, in cents) by `ratios` (non-negative, summing to 1):
    each part is its exact share rounded down to the cent, and the cents left over go one
    each to the parts with the largest remainders (the earliest on a tie). The parts sum to
    `amount` exactly and each is within a cent of its exact share.

    Raises:
        ValueError: a negative amount or ratio, ratios not summing to 1, or no ratios.
    """
    if not ratios:
        raise ValueError("no ratios to split by")
    if any(r < 0 for r in ratios) or sum(ratios, Decimal(0)) != 1:
        raise ValueError(f"ratios must be non-negative and sum to 1: {list(map(str, ratios))}")
    cents = money(amount) / CENT
    if cents < 0:
        raise ValueError(f"cannot split a negative amount {amount}")
    exact = [cents * r for r in ratios]
    parts = [int(e) for e in exact]  # exact >= 0: int() rounds down
    left = int(cents) - sum(parts)
    order = sorted(range(len(exact)), key=lambda i: (-(exact[i] - parts[i]), i))
    for i in order[:left]:
        parts[i] += 1
    return [Decimal(p) * CENT for p in parts]


@dataclass(frozen=True)
class Share:
    role: str
    party: str
    ratio: Decimal
    unit: str = ""


def check_parties(parties: Sequence[Mapping[str, Any]]) -> list[dict[str, str]]:
    """The agreement's parties normalised, or ValueError naming the field."""
    if not 1 <= len(parties) <= 10:
        raise ValueError("parties: 1 to 10 parties")
    out = []
    for i, party in enumerate(parties):
        role = party.get("role")
        if role not in PARTY_ROLES:
            raise ValueError(f"parties[{i}].role: one of {', '.join(PARTY_ROLES)}")
        name = party.get("party")
        if not isinstance(name, str) or not 1 <= len(name) <= 64:
            raise ValueError(f"parties[{i}].party: a code, or @outlet/@branch/@region/@engineer")
        ratio = _decimal(party.get("ratio"), f"parties[{i}].ratio")
        if not 0 <= ratio <= 1:
            raise ValueError(f"parties[{i}].ratio: between 0 and 1")
        unit = party.get("unit", "")
        out.append({"role": role, "party": name, "ratio": str(ratio), "unit": str(unit)[:64]})
    roles = [p["role"] for p in out]
    if len(set(roles)) != len(roles):
        raise ValueError("parties: each role once")
    if sum((Decimal(p["ratio"]) for p in out), Decimal(0)) != 1:
        raise ValueError("parties: the ratios must sum to 1")
    return out


def check_tiers(tiers: Sequence[Mapping[str, Any]], roles: Sequence[str]) -> list[dict[str, Any]]:
    if len(tiers) > 10:
        raise ValueError("tiers: at most 10")
    out = []
    for i, tier in enumerate(tiers):
        role, source = tier.get("role"), tier.get("from_role")
        if role not in roles or source not in roles or role == source:
            raise ValueError(f"tiers[{i}]: role and from_role name two parties of the agreement")
        count = tier.get("min_orders")
        if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= 10**7:
            raise ValueError(f"tiers[{i}].min_orders: a whole number of orders a month")
        ratio = _decimal(tier.get("ratio"), f"tiers[{i}].ratio")
        if not 0 <= ratio <= 1:
            raise ValueError(f"tiers[{i}].ratio: between 0 and 1")
        out.append({"role": role, "from_role": source, "min_orders": count, "ratio": str(ratio)})
    return out


def shares_with_tiers(
    parties: Sequence[Mapping[str, Any]],
    tiers: Sequence[Mapping[str, Any]],
    orders_this_month: Mapping[str, int],
) -> list[Share]:
    """The agreement's shares this month: for each role, its highest tier reached
    (`orders_this_month[role]` ≥ min_orders) sets its ratio, the difference taken from the
    tier's `from_role` (never below 0)."""
    ratios = {p["role"]: Decimal(str(p["ratio"])) for p in parties}
    reached: dict[str, Mapping[str, Any]] = {}
    for tier in tiers:
        if orders_this_month.get(tier["role"], 0) >= tier["min_orders"]:
            best = reached.get(tier["role"])
            if best is None or tier["min_orders"] > best["min_orders"]:
                reached[tier["role"]] = tier
    for role, tier in reached.items():
        delta = Decimal(str(tier["ratio"])) - ratios[role]
        delta = min(delta, ratios[tier["from_role"]])
        ratios[role] += delta
        ratios[tier["from_role"]] -= delta
    return [
        Share(p["role"], p["party"], ratios[p["role"]], str(p.get("unit", ""))) for p in parties
    ]


# ---- periods -------------------------------------------------------------------------------

PERIOD_ZONE = ZoneInfo("Asia/Shanghai")
"""Months are counted in China time: an order settled at 23:30 on 31 May (UTC+8) is May's."""


def period_of(moment: datetime) -> str:
    """The month ("2026-11") `moment` falls in, China time."""
    return moment.astimezone(PERIOD_ZONE).strftime("%Y-%m")


def period_bounds(period: str) -> tuple[datetime, datetime]:
    """The UTC start (inclusive) and end (exclusive) of a month "YYYY-MM", China time.

    Raises:
        ValueError: not a month.
    """
    try:
        start = datetime.strptime(period, "%Y-%m").replace(tzinfo=PERIOD_ZONE)
    except ValueError:
        raise ValueError(f"period: a month like 2026-11, not {period!r}") from None
    end = (
        start.replace(year=start.year + 1, month=1)
        if start.month == 12
        else start.replace(month=start.month + 1)
    )
    return start.astimezone(UTC), end.astimezone(UTC)


def previous_period(moment: datetime) -> str:
    """The month before the one `moment` falls in (what a run on the 1st settles)."""
    local = moment.astimezone(PERIOD_ZONE).replace(day=1)
    return (local - timedelta(days=1)).strftime("%Y-%m")
