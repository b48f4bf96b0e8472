"""Customer rules (pure): NPS and what a score means."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

PROMOTER_FROM = 9
DETRACTOR_UP_TO = 6


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
