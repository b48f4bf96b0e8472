from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from servflow.dispatch.policies import Policy, Rung, node_policy, parse_policy
from servflow.dispatch.rules import (
    Candidate,
    Certificate,
    Job,
    Shift,
    explain,
    first_time_fix_rates,
    haversine_km,
    normalize_skill,
    rank_rung,
)
from servflow.platform.errors import Invalid

CUSTOMER = (39.9087, 116.4605)  # 北京建国路
MONDAY_10 = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)  # 10:00 in Beijing


def engineer(code: str, lat: float | None, lng: float | None, **kw) -> Candidate:
    values = {
        "engineer_id": kw.pop("engineer_id", abs(hash(code)) % 10_000),
        "code": code,
        "name": kw.pop("name", code),
        "outlet_id": 1,
        "region": "huabei",
        "skills": frozenset({"refrigeration"}),
        "lat": lat,
        "lng": lng,
        "state": "available",
        "current_load": 0,
        "max_load": 3,
    }
    values.update(kw)
    return Candidate(**values)


def job(**kw) -> Job:
    values = {
        "region": "huabei",
        "lat": CUSTOMER[0],
        "lng": CUSTOMER[1],
        "skills": ("refrigeration",),
        "at": MONDAY_10,
    }
    values.update(kw)
    return Job(**values)


def nearest(radius: str | None = None) -> Policy:
    return node_policy(
        skills=["refrigeration"],
        radius_km=Decimal(radius) if radius else None,
        cross_region=False,
        accept_within=None,
    )


def test_haversine_beijing_to_shanghai_is_about_1067_km():
    assert haversine_km(39.9042, 116.4074, 31.2304, 121.4737) == pytest.approx(1067.3, abs=1)


def test_skills_accept_chinese_labels_and_hyphens():
    assert normalize_skill("制冷") == "refrigeration"
    assert normalize_skill("smart-lock") == "smart_lock"


def test_each_unqualified_engineer_is_excluded_with_its_reason():
    candidates = [
        engineer("ok", 39.91, 116.44),
        engineer("other_region", 39.91, 116.46, region="huadong"),
        engineer("no_skill", 39.91, 116.46, skills=frozenset({"electrical"})),
        engineer(
            "expired",
            39.91,
            116.46,
            skills=frozenset(),
            certificates=(Certificate("refrigeration", 2, date(2026, 1, 1)),),
        ),
        engineer("off", 39.91, 116.46, state="off"),
        engineer("full", 39.91, 116.46, current_load=3),
        engineer("far", 31.23, 121.47),
        engineer("nowhere", None, None),
        engineer("on_leave", 39.91, 116.46, leaves=((date(2026, 12, 6), date(2026, 12, 8)),)),
        engineer("night", 39.91, 116.46, shift=Shift(frozenset(range(1, 8)), "20:00", "08:00")),
    ]
    policy = nearest("200")
    policy = policy.model_copy(
        update={"filters": policy.filters.model_copy(update={"shift": True, "leave": True})}
    )
    result = rank_rung(candidates, job(), policy, policy.ladder[0], regions=frozenset({"huabei"}))
    assert [s.candidate.code for s in result.ranked] == ["ok"]
    reasons = {e.code: explain(e.reason, e.detail) for e in result.excluded}
    assert reasons == {
        "other_region": "不在区域 huabei",
        "no_skill": "缺少资质 制冷",
        "expired": "资质 制冷 已于 2026-01-01 过期",
        "off": "状态 off",
        "full": "已满负荷 3/3",
        "far": "距离 1065.6 km 超过 200 km",
        "nowhere": "没有位置",
        "on_leave": "休假 2026-12-06 至 2026-12-08",
        "night": "不在班 (20:00-08:00)",
    }
    english = {e.code: explain(e.reason, e.detail, "en") for e in result.excluded}
    assert english["expired"] == "certificate in Refrigeration expired on 2026-01-01"


def test_a_valid_certificate_of_the_required_level_qualifies():
    policy = Policy(key="p1", skills=["refrigeration"], min_level=2, ladder=[Rung(name="r")])
    low = engineer("low", 39.91, 116.44, certificates=(Certificate("refrigeration", 1),))
    high = engineer(
        "high", 39.95, 116.30, certificates=(Certificate("refrigeration", 3, date(2027, 6, 30)),)
    )
    result = rank_rung([low, high], job(), policy, policy.ladder[0], regions=None)
    assert [s.candidate.code for s in result.ranked] == ["high"]
    assert result.excluded[0].reason == "level_too_low"


def test_score_weighs_load_and_first_time_fix_against_distance():
    policy = Policy(
        key="p1",
        skills=["refrigeration"],
        weights={
            "distance": 0.2,
            "load": 0.4,
            "skill_level": 0,
            "first_time_fix": 0.4,
            "urgency": 0,
        },
        ladder=[Rung(name="r", radius_km=Decimal(50))],
    )
    near_busy = engineer("near_busy", 39.91, 116.45, current_load=2, engineer_id=1)
    far_free = engineer("far_free", 39.96, 116.29, engineer_id=2)
    result = rank_rung(
        [near_busy, far_free],
        job(),
        policy,
        policy.ladder[0],
        regions=None,
        first_time_fix={2: 1.0},
    )
    assert [s.candidate.code for s in result.ranked] == ["far_free", "near_busy"]
    assert set(result.ranked[0].parts) == {
        "distance",
        "load",
        "skill_level",
        "first_time_fix",
        "urgency",
    }


def test_ties_break_by_code_so_the_choice_is_reproducible():
    twins = [engineer("b", 39.91, 116.44), engineer("a", 39.91, 116.44)]
    policy = nearest()
    result = rank_rung(twins, job(), policy, policy.ladder[0], regions=None)
    assert result.ranked[0].candidate.code == "a"


def test_first_time_fix_rate_counts_orders_fixed_by_one_dispatch():
    rates = first_time_fix_rates([("o1", 1), ("o2", 1), ("o2", 2), ("o3", 2)])
    assert rates == {1: 0.5, 2: 1.0}


def test_a_policy_with_a_bad_field_is_refused_naming_it():
    with pytest.raises(Invalid) as caught:
        parse_policy({"key": "p1", "ladder": [{"name": "r", "radius_km": -5}]})
    assert "body.ladder.0.radius_km" in caught.value.extra["errors"]
    with pytest.raises(Invalid):
        parse_policy({"key": "p1", "ladder": [{"name": "dispatcher_queue"}]})
