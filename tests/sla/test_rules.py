"""Policy rules (pure): which rule an order gets, and where its ladder's levels fall."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from servflow.sla.demo import DATA
from servflow.sla.rules import PolicyBody, choose_rule, moments
from workflows.business_time import SEVEN_BY_TWELVE
from workflows.durations import parse_duration

SHANGHAI = ZoneInfo("Asia/Shanghai")
ONSITE = PolicyBody.model_validate(
    json.loads(DATA.read_text(encoding="utf-8"))["policies"][0]["policy"]
)


@pytest.mark.parametrize(
    ("priority", "tier", "within"),
    [(1, "", "PT2H"), (1, "vip", "PT2H"), (3, "vip", "PT4H"), (3, "", "PT8H")],
)
def test_the_first_matching_rule_sets_the_target(priority: int, tier: str, within: str) -> None:
    rule = choose_rule(ONSITE, priority=priority, tier=tier, channel="hotline")
    assert rule is not None and rule.within == within


def test_a_channel_rule_matches_only_its_channels() -> None:
    body = PolicyBody.model_validate(
        {"name": "x", "rules": [{"channels": ["tmall"], "within": "PT1H"}]}
    )
    assert choose_rule(body, priority=3, tier="", channel="tmall") is not None
    assert choose_rule(body, priority=3, tier="", channel="hotline") is None


def test_ladder_levels_fall_in_working_time_and_at_risk_is_the_first_early_level() -> None:
    rule = choose_rule(ONSITE, priority=1, tier="", channel="")
    assert rule is not None
    started = datetime(2026, 12, 4, 17, 0, tzinfo=SHANGHAI)  # Friday 17:00
    found = moments(
        started_at=started,
        target=parse_duration(rule.within),
        paused=timedelta(0),
        ladder=rule.ladder,
        calendar=SEVEN_BY_TWELVE,
    )
    local = [t.astimezone(SHANGHAI).strftime("%a %H:%M") for t in found.levels]
    assert local == ["Fri 18:36", "Fri 19:00", "Sat 09:00"]  # +2 h crosses the night
    assert found.deadline == found.levels[1] and found.at_risk_at == found.levels[0]


def test_policies_refuse_bad_durations_and_actions() -> None:
    with pytest.raises(ValidationError, match="ISO-8601"):
        PolicyBody.model_validate({"name": "x", "rules": [{"within": "2 hours"}]})
    with pytest.raises(ValidationError):
        PolicyBody.model_validate(
            {"name": "x", "rules": [{"within": "PT1H", "ladder": [{"at": 80, "action": "fire"}]}]}
        )
