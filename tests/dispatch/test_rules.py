from decimal import Decimal

import pytest

from servflow.dispatch.rules import (
    Candidate,
    choose_engineer,
    filter_candidates,
    haversine_km,
    normalize_skill,
)

CUSTOMER = (39.9087, 116.4605)  # 北京建国路


def engineer(code: str, lat: float, lng: float, **kw) -> Candidate:
    values = {
        "engineer_id": hash(code) % 10_000,
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


def test_haversine_beijing_to_shanghai_is_about_1067_km():
    assert haversine_km(39.9042, 116.4074, 31.2304, 121.4737) == pytest.approx(1067.3, abs=1)


def test_haversine_is_zero_for_the_same_point():
    assert haversine_km(30.0, 120.0, 30.0, 120.0) == 0


def test_skills_accept_chinese_labels_and_hyphens():
    assert normalize_skill("制冷") == "refrigeration"
    assert normalize_skill("smart-lock") == "smart_lock"
    assert normalize_skill(" Gas ") == "gas"


def test_filter_drops_each_unqualified_engineer_with_its_reason():
    candidates = [
        engineer("ok", 39.91, 116.44),
        engineer("other_region", 39.91, 116.46, region="huadong"),
        engineer("no_skill", 39.91, 116.46, skills=frozenset({"electrical"})),
        engineer("off", 39.91, 116.46, state="off"),
        engineer("full", 39.91, 116.46, current_load=3),
        engineer("far", 31.23, 121.47),
        engineer("nowhere", None, None),
    ]
    kept, rejected = filter_candidates(
        candidates,
        region="huabei",
        skills=["制冷"],
        lat=CUSTOMER[0],
        lng=CUSTOMER[1],
        radius_km=Decimal(200),
        cross_region=False,
    )
    assert [c.code for c, _ in kept] == ["ok"]
    reasons = {r.code: r.why for r in rejected}
    assert reasons["other_region"] == "不在区域 huabei"
    assert reasons["no_skill"] == "缺少资质 制冷"
    assert reasons["off"] == "状态 off"
    assert reasons["full"] == "已满负荷 3/3"
    assert reasons["far"].startswith("距离 1065.6 km 超过 200 km")
    assert reasons["nowhere"] == "没有位置"


def test_nearest_picks_the_closest_qualified_engineer_and_says_why():
    choice = choose_engineer(
        [
            engineer("far", 39.96, 116.29, name="王强"),
            engineer("near", 39.9119, 116.4336, name="张伟"),
        ],
        region="huabei",
        skills=["refrigeration"],
        lat=CUSTOMER[0],
        lng=CUSTOMER[1],
    )
    assert choice is not None
    assert choice.candidate.code == "near"
    assert choice.distance_km == Decimal("2.3")
    assert choice.reason == "最近的持证工程师 张伟 (制冷), 2.3 km"
    assert [c["code"] for c in choice.considered[:2]] == ["near", "far"]


def test_least_loaded_prefers_a_free_engineer_over_a_closer_busy_one():
    choice = choose_engineer(
        [
            engineer("near_busy", 39.9119, 116.4336, current_load=2, name="张伟"),
            engineer("far_free", 39.96, 116.29, name="王强"),
        ],
        region="huabei",
        skills=["refrigeration"],
        lat=CUSTOMER[0],
        lng=CUSTOMER[1],
        strategy="least_loaded",
    )
    assert choice is not None
    assert choice.candidate.code == "far_free"
    assert choice.reason.startswith("负载最低的持证工程师 王强 (制冷), 当前 0/3 单")


def test_ties_break_by_code_so_the_choice_is_reproducible():
    twins = [engineer(code, 39.91, 116.44) for code in ("b", "a", "c")]
    choice = choose_engineer(twins, region="huabei", skills=[], lat=CUSTOMER[0], lng=CUSTOMER[1])
    assert choice is not None and choice.candidate.code == "a"


def test_no_qualified_engineer_gives_none():
    assert (
        choose_engineer(
            [engineer("x", 39.91, 116.44, region="huadong")],
            region="huabei",
            skills=["refrigeration"],
            lat=CUSTOMER[0],
            lng=CUSTOMER[1],
        )
        is None
    )


def test_cross_region_allows_engineers_of_other_regions():
    choice = choose_engineer(
        [engineer("x", 39.91, 116.44, region="huadong")],
        region="huabei",
        skills=["refrigeration"],
        lat=CUSTOMER[0],
        lng=CUSTOMER[1],
        cross_region=True,
    )
    assert choice is not None and choice.candidate.code == "x"
