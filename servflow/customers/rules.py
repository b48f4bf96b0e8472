"""Customer rules (pure): NPS and what a score means; which sign-off step the customer
completes themselves and with what."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from workflows.forms import FormField

PROMOTER_FROM = 9
DETRACTOR_UP_TO = 6
RATING_RANGE = (0, 10)

CUSTOMER_FIELDS = {"signature": "signature", "rating": "number", "comment": "text"}
"""What the customer's sign-off page gives, by form field name: the field's type."""


def is_detractor(rating: int) -> bool:
    return rating <= DETRACTOR_UP_TO


@dataclass(frozen=True)
class Nps:
    key: str
    responses: int
    promoters: int
    passives: int
    detractors: int

    @property
    def score(self) -> float:
        """% promoters − % detractors, -100..100 (0 with no responses)."""
        if not self.responses:
            return 0.0
        return round(100.0 * (self.promoters - self.detractors) / self.responses, 1)


def nps(key: str, ratings: Iterable[int]) -> Nps:
    values = list(ratings)
    promoters = sum(r >= PROMOTER_FROM for r in values)
    detractors = sum(r <= DETRACTOR_UP_TO for r in values)
    return Nps(key, len(values), promoters, len(values) - promoters - detractors, detractors)


def nps_by(rows: Iterable[tuple[str, int]]) -> list[Nps]:
    """NPS per key of (key, rating) pairs, keys in order."""
    groups: dict[str, list[int]] = {}
    for key, rating in rows:
        groups.setdefault(key, []).append(rating)
    return [nps(key, ratings) for key, ratings in sorted(groups.items())]


def customer_form_problem(form: Iterable[FormField]) -> str | None:
    """Why the customer cannot complete a sign-off step with this form themselves (None:
    they can). The page gives `signature` (a signature), `rating` (a number 0-10) and
    `comment` (text); a step whose form requires anything else (completion photos) or
    declares those names with another type or narrower bounds stays the engineer's."""
    for field in form:
        wanted = CUSTOMER_FIELDS.get(field.name)
        if wanted is None:
            if field.required:
                return f"its form requires '{field.name}', which only the engineer gives"
            continue
        if field.type != wanted:
            return f"its field '{field.name}' is a {field.type}, the customer gives a {wanted}"
        low, high = (Decimal(v) for v in RATING_RANGE)
        if field.name == "rating" and (
            (field.min is not None and field.min > low)
            or (field.max is not None and field.max < high)
        ):
            return "its field 'rating' does not take every score from 0 to 10"
        if field.name == "comment" and field.max_length is not None and field.max_length < 500:
            return "its field 'comment' is shorter than the page's 500 characters"
        if field.name == "comment" and field.pattern is not None:
            return "its field 'comment' has a pattern the customer's words may not match"
    return None


def customer_step_data(
    form: Iterable[FormField], *, signature_file: str, rating: int, comment: str
) -> dict[str, Any]:
    """The sign-off step's data from the customer's answer: the fields its form declares
    (an empty comment is left out, as an empty field is)."""
    given: dict[str, Any] = {"signature": signature_file, "rating": rating, "comment": comment}
    names = {field.name for field in form}
    return {k: v for k, v in given.items() if k in names and v != ""}
