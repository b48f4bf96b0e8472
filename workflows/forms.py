"""Forms of human steps: the fields a field app fills in, and the check of a submission."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any, Literal

import re2
from pydantic import BaseModel, Field, model_validator

FieldType = Literal[
    "text",
    "number",
    "money",
    "choice",
    "date",
    "photo",
    "signature",
    "location",
    "boolean",
    "parts",
]
CURRENCY = re.compile(r"^[A-Z]{3}$")
FIELD_NAME = r"^[a-z][a-z0-9_]{0,62}$"
MAX_PATTERN_LENGTH = 500
"""Characters of a field's `pattern`; real ones (codes, phone numbers) are under 100."""
MAX_PATTERN_INPUT = 10_000
"""Longest text matched against a pattern when the field sets no max_length."""
SKU = r"^[A-Z0-9][A-Z0-9_.-]{0,63}$"
"""A part's catalogue code, e.g. AC-CAP-35UF (upper case, fits the 64-character column)."""
PART_QTY_MAX = 999
"""Most pieces of one part on one line: more is a typo, not a repair."""
PARTS_MAX_LINES = 50
"""Most lines a parts field may allow (its `max_lines`, which defaults to 20)."""
PARTS_DEFAULT_LINES = 20
MONEY_MAX = Decimal("10000000.00")
"""Largest amount a money field accepts when it sets no max: ten million, far above any
job, so a stray exponent (1e29) or an extra row of zeros is refused, not paid."""
CENT = Decimal("0.01")

_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False  # a refused pattern is reported to the designer, not logged


@lru_cache(maxsize=1024)
def compile_pattern(pattern: str) -> Any:
    """The pattern compiled by RE2, whose matching is linear in the input: a submission
    is checked inside a Temporal Update validator, where a backtracking engine could run
    for seconds on `(a+)+$`. Raises ValueError saying why a pattern cannot be used."""
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise ValueError(f"pattern is longer than {MAX_PATTERN_LENGTH} characters")
    try:
        return re2.compile(pattern, _RE2_OPTIONS)
    except re2.error as exc:
        detail = exc.args[0].decode(errors="replace") if exc.args else str(exc)
        raise ValueError(
            f"pattern cannot be used ({detail}); backreferences and lookaround"
            " such as (?=...) are not supported"
        ) from None
    except UnicodeError:
        raise ValueError("pattern contains an unpaired surrogate character") from None


class FormField(BaseModel):
    """One typed field of a human step's form."""

    name: str = Field(pattern=FIELD_NAME, description="variable name, e.g. parts_needed")
    label: str = ""
    type: FieldType
    required: bool = True
    min: Decimal | None = Field(default=None, description="number/money: smallest value")
    max: Decimal | None = Field(default=None, description="number/money: largest value")
    max_length: int | None = Field(default=None, ge=1, description="text: longest length")
    pattern: str | None = Field(default=None, description="text: regular expression to match")
    choices: list[str] = Field(default_factory=list, description="choice: allowed values")
    multiple: bool = Field(default=False, description="choice/photo: several values allowed")
    currency: str | None = Field(default=None, description="money: required currency code")
    max_lines: int | None = Field(
        default=None, ge=1, le=PARTS_MAX_LINES, description="parts: most lines (default 20)"
    )

    @model_validator(mode="after")
    def _constraints_fit_type(self) -> FormField:
        numeric = self.type in ("number", "money")
        if (self.min is not None or self.max is not None) and not numeric:
            raise ValueError("min/max apply only to number and money fields")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) is larger than max ({self.max})")
        if (self.max_length is not None or self.pattern is not None) and self.type != "text":
            raise ValueError("max_length/pattern apply only to text fields")
        # The pattern itself is checked by validate.py (compile_pattern), not here: a
        # stricter model would stop definitions already snapshotted in running orders
        # from loading; at run time an unusable pattern refuses the submission instead.
        if self.type == "choice" and not self.choices:
            raise ValueError("a choice field needs at least one entry in choices")
        if self.choices and self.type != "choice":
            raise ValueError("choices apply only to choice fields")
        if len(set(self.choices)) != len(self.choices):
            raise ValueError("choices repeat a value")
        if self.max_lines is not None and self.type != "parts":
            raise ValueError("max_lines applies only to parts fields")
        if self.currency is not None and (
            self.type != "money" or not CURRENCY.match(self.currency)
        ):
            raise ValueError("currency applies to money fields and is a code such as CNY")
        return self


def _within(raw: Any, low: Decimal | None, high: Decimal | None) -> tuple[Decimal | None, str]:
    """`raw` as a finite Decimal from `low` to `high` (None: unbounded), or what is wrong."""
    try:
        number = Decimal(str(raw))
    except InvalidOperation:
        return None, "must be a number"
    if not number.is_finite():
        return None, "must be a finite number"
    if low is not None and number < low:
        return None, f"must be at least {low}"
    if high is not None and number > high:
        return None, f"must be at most {high}"
    return number, ""


def _check_number(field: FormField, value: Any) -> tuple[Any, str | None]:
    if isinstance(value, bool):
        return value, "must be a number"
    _, problem = _within(value, field.min, field.max)
    return value, problem or None


def _check_amount(field: FormField, raw: Any) -> tuple[Decimal | None, str | None]:
    """A money amount within the field's bounds (0 and MONEY_MAX unless it sets others),
    in whole cents: a negative or absurd amount is refused, never rounded into money."""
    if isinstance(raw, float | bool):
        return None, "amount must be a string or an integer, not a float, to stay exact"
    low = field.min if field.min is not None else Decimal(0)
    amount, problem = _within(raw, low, field.max if field.max is not None else MONEY_MAX)
    if amount is None:
        return None, f"amount {problem}"
    try:
        cents = amount.quantize(CENT)
    except InvalidOperation:  # more digits than Decimal holds: only a designer's huge max
        return None, "amount is too large"
    if amount != cents:
        return None, "amount has more than 2 decimal places"
    return cents, None


def _check_money(field: FormField, value: Any) -> tuple[Any, str | None]:
    if not isinstance(value, dict) or set(value) - {"amount", "currency"} or "amount" not in value:
        return value, 'must be {"amount": "123.45", "currency": "CNY"}'
    currency = value.get("currency") or field.currency or "CNY"
    if not CURRENCY.match(str(currency)):
        return value, f"currency '{currency}' is not a three-letter code"
    if field.currency and currency != field.currency:
        return value, f"currency must be {field.currency}"
    amount, problem = _check_amount(field, value["amount"])
    if amount is None:
        return value, problem
    return {"amount": str(amount), "currency": currency}, None


def _part_line_problem(line: Any) -> str | None:
    if not isinstance(line, dict) or set(line) != {"sku", "qty"}:
        return 'must be {"sku": "AC-CAP-35UF", "qty": 1}'
    sku, qty = line["sku"], line["qty"]
    if not isinstance(sku, str) or compile_pattern(SKU).fullmatch(sku) is None:
        return "sku must be a catalogue code such as AC-CAP-35UF (A-Z, 0-9, - . _)"
    if not isinstance(qty, int) or isinstance(qty, bool) or not 1 <= qty <= PART_QTY_MAX:
        return f"qty must be a whole number from 1 to {PART_QTY_MAX}"
    return None


def _check_parts(field: FormField, value: Any) -> tuple[Any, str | None]:
    """A list of {sku, qty} lines: what the settlement prices, so nothing else is read."""
    longest = field.max_lines or PARTS_DEFAULT_LINES
    if not isinstance(value, list):
        return value, 'must be a list such as [{"sku": "AC-CAP-35UF", "qty": 1}]'
    if len(value) > longest:
        return value, f"must have at most {longest} lines"
    for index, line in enumerate(value):
        problem = _part_line_problem(line)
        if problem:
            return value, f"line {index + 1}: {problem}"
    return [{"sku": line["sku"], "qty": line["qty"]} for line in value], None


def _check_location(value: Any) -> tuple[Any, str | None]:
    try:
        lat, lng = float(value["lat"]), float(value["lng"])
    except (TypeError, KeyError, ValueError):
        return value, 'must be {"lat": 39.9, "lng": 116.4}'
    if not (-90 <= lat <= 90 and -180 <= lng <= 180):
        return value, "lat must be within ±90 and lng within ±180"
    return {"lat": lat, "lng": lng}, None


def _check_reference(field: FormField, value: Any) -> tuple[Any, str | None]:
    refs = value if isinstance(value, list) and field.multiple else [value]
    if not refs or not all(isinstance(r, str) and 0 < len(r) <= 512 for r in refs):
        kind = "photo references" if field.type == "photo" else "a signature reference"
        return value, f"must be {kind} (uploaded file ids)"
    return value, None


def _check_text(field: FormField, value: Any) -> tuple[Any, str | None]:
    if not isinstance(value, str):
        return value, "must be text"
    longest = field.max_length or (MAX_PATTERN_INPUT if field.pattern is not None else None)
    if longest is not None and len(value) > longest:
        return value, f"must be at most {longest} characters"
    if not value.isascii():
        try:
            value.encode()
        except UnicodeEncodeError:
            return value, "must be valid text (it has an unpaired surrogate character)"
    if field.pattern is None:
        return value, None
    try:
        pattern = compile_pattern(field.pattern)
    except ValueError as exc:
        return value, f"cannot be checked: the form's {exc}"
    if pattern.fullmatch(value) is None:
        return value, f"does not match the pattern {field.pattern}"
    return value, None


def _check_value(field: FormField, value: Any) -> tuple[Any, str | None]:
    if field.type == "text":
        return _check_text(field, value)
    if field.type == "number":
        return _check_number(field, value)
    if field.type == "money":
        return _check_money(field, value)
    if field.type == "boolean":
        return value, None if isinstance(value, bool) else "must be true or false"
    if field.type == "choice":
        values = value if field.multiple and isinstance(value, list) else [value]
        wrong = [v for v in values if v not in field.choices]
        if wrong:
            return value, f"must be one of {', '.join(field.choices)}"
        return value, None
    if field.type == "date":
        try:
            date.fromisoformat(str(value))
        except ValueError:
            return value, "must be a date such as 2026-11-22"
        return value, None
    if field.type == "location":
        return _check_location(value)
    if field.type == "parts":
        return _check_parts(field, value)
    return _check_reference(field, value)


def check_submission(
    form: list[FormField], data: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, str]]:
    """Check submitted data against a form.

    Returns:
        The cleaned values (money normalised to strings) and, per field name, what is wrong
        with it. Fields the form does not declare are reported too, so typos surface.
    """
    cleaned: dict[str, Any] = {}
    errors: dict[str, str] = {}
    known = {f.name for f in form}
    for name in data:
        if name not in known:
            errors[name] = "is not a field of this step"
    for field in form:
        value = data.get(field.name)
        if value is None or value == "" or value == []:
            if field.required:
                errors[field.name] = "is required"
            continue
        value, problem = _check_value(field, value)
        if problem:
            errors[field.name] = problem
        else:
            cleaned[field.name] = value
    return cleaned, errors
