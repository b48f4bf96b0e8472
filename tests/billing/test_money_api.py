"""The money seed cases through the API: regional visit fees, the cross-region coefficient,
price permissions, milestone shares paid once, revenue shares that sum to the cent and
match each party's statement, confirm and dispute, exports, the ledger check."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from servflow.billing.models import Payout, Settlement
from servflow.ledger.models import LedgerEntry
from tests.billing.conftest import WEEKDAY_NOON
from tests.world import make_step

# Tuesday noon in China: no night or weekend surcharge.
AT = WEEKDAY_NOON.isoformat()
GZ_CUSTOMER = {
    "name": "陈静",
    "phone": "13922223333",
    "address": "广州市天河区体育西路",
    "city": "广州",
    "lat": 23.1291,
    "lng": 113.3245,
}


async def quote(api, headers, **body):
    answer = await api.post("/api/price-quote", json={"at": AT, **body}, headers=headers("finance"))
    assert answer.status_code == 200, answer.text
    return answer.json()


async def test_visit_fee_is_120_in_huabei_and_100_in_huanan(money_api, money_headers):
    huabei = await quote(money_api, money_headers, job_type="repair_visit", region="华北")
    huanan = await quote(money_api, money_headers, job_type="repair_visit", region="huanan")

    assert Decimal(huabei["total"]) == Decimal("120.00")
    assert Decimal(huanan["total"]) == Decimal("100.00")
    # Each line names the rule version that priced it: the region's own rate.
    assert huabei["lines"][0]["rule"] == "rate.repair_visit@v2"
    assert huanan["lines"][0]["rule"] == "rate.repair_visit@v3"


async def test_fridge_install_80_with_cross_region_support_costs_92(money_api, money_headers):
    local = await quote(money_api, money_headers, job_type="fridge_install", region="huabei")
    cross = await quote(
        money_api, money_headers, job_type="fridge_install", region="huabei", cross_region=True
    )

    assert Decimal(local["total"]) == Decimal("80.00")
    assert Decimal(cross["total"]) == Decimal("92.00")
    assert [(line["kind"], line["amount"], line["rule"]) for line in cross["lines"]] == [
        ("visit", "80.00", "rate.fridge_install@v1"),
        ("coefficient", "12.00", "coef.cross_region@v1"),
    ]


async def test_night_distance_tax_and_currency_rules_apply_by_condition(money_api, money_headers):
    # 华东 has no rate of its own (HQ's 110) and 6% tax; 23:00 China time is night;
    # 20 km is 5 km beyond the free 15, at 2.00 a km.
    night = await quote(
        money_api,
        money_headers,
        job_type="repair_visit",
        region="huadong",
        distance_km="20",
        at="2026-11-24T15:00:00+00:00",
    )
    lines = {line["rule"]: Decimal(line["amount"]) for line in night["lines"]}
    assert lines == {
        "rate.repair_visit@v1": Decimal("110.00"),
        "surcharge.distance@v1": Decimal("10.00"),
        "surcharge.night_holiday@v1": Decimal("30.00"),
        "tax.vat_huadong@v1": Decimal("9.00"),  # 6% of 150.00
    }
    assert Decimal(night["total"]) == Decimal("159.00")
    usd = await quote(
        money_api, money_headers, job_type="fridge_install", region="huabei", currency="USD"
    )
    assert usd["currency"] == "USD" and Decimal(usd["total"]) == Decimal("11.26")  # 80 × 0.1408


async def test_regions_adjust_prices_only_within_hq_bounds(money_api, money_headers):
    manager = money_headers("region_mgr_huanan")
    rule = {
        "code": "rate.repair_visit",
        "kind": "rate",
        "unit": "huanan",
        "job_type": "repair_visit",
        "valid_from": "2026-11-01T00:00:00+00:00",
    }
    too_high = await money_api.post(
        "/api/price-rules", json={**rule, "body": {"visit_fee": "200.00"}}, headers=manager
    )
    assert too_high.status_code == 422
    assert "body.visit_fee" in too_high.text
    tax = await money_api.post(
        "/api/price-rules",
        json={**rule, "code": "tax.mine", "kind": "tax", "body": {"rate": "0.01"}},
        headers=manager,
    )
    assert tax.status_code == 422 and "kind" in tax.text
    elsewhere = await money_api.post(
        "/api/price-rules",
        json={**rule, "unit": "huabei", "body": {"visit_fee": "95.00"}},
        headers=manager,
    )
    assert elsewhere.status_code == 422 and "unit" in elsewhere.text

    ok = await money_api.post(
        "/api/price-rules", json={**rule, "body": {"visit_fee": "95.00"}}, headers=manager
    )
    assert ok.status_code == 201, ok.text
    assert ok.json()["version"] == 4 and ok.json()["created_by"] == "region_mgr_huanan"
    priced = await quote(money_api, money_headers, job_type="repair_visit", region="huanan")
    assert Decimal(priced["total"]) == Decimal("95.00")

    # Retired, it prices nothing after now: the region's earlier version prices again
    # (and history keeps it: a quote before now still finds it).
    retired = await money_api.post(f"/api/price-rules/{ok.json()['id']}/retire", headers=manager)
    assert retired.status_code == 200 and retired.json()["retired_at"]
    again = await money_api.post(
        "/api/price-quote",
        # A Tuesday noon after the retirement (which is now, in real time).
        json={"job_type": "repair_visit", "region": "huanan", "at": "2027-01-05T04:00:00Z"},
        headers=money_headers("finance"),
    )
    assert Decimal(again.json()["total"]) == Decimal("100.00")
    # A region sees HQ's frame but cannot retire it.
    rules = await money_api.get("/api/price-rules?code=rate.repair_visit", headers=manager)
    frame = next(r for r in rules.json()["data"] if r["scope_path"] == "/hq")
    refused = await money_api.post(f"/api/price-rules/{frame['id']}/retire", headers=manager)
    assert refused.status_code == 404


def _at_gz_001(step):
    step.context.outlet = "gz-001"
    return step


def _settle(order_id, milestone, share, **params):
    return _at_gz_001(
        make_step(
            "settlement",
            order_id=order_id,
            node_id=milestone,
            region="huanan",
            customer=GZ_CUSTOMER,
            params={"milestone": milestone, "share": share, "job_type": "repair_visit", **params},
            variables={"fault": "ac_leak"},
            status="settled",
        )
    )


async def _reported(run, order_id):
    await run(
        "report",
        _at_gz_001(
            make_step(
                "report",
                order_id=order_id,
                region="huanan",
                customer=GZ_CUSTOMER,
                variables={"fault": f"fault_{order_id}"},
            )
        ),
    )


async def test_base_share_at_commissioning_and_rest_after_signoff_are_paid_once(
    weekday_run, money_demo
):
    await _reported(weekday_run, "o-1")
    base = await weekday_run("settlement", _settle("o-1", "commissioning", "0.6"))
    again = await weekday_run("settlement", _settle("o-1", "commissioning", "0.6"))
    rest = await weekday_run("settlement", _settle("o-1", "signoff", "0.4"))
    rest_again = await weekday_run("settlement", _settle("o-1", "signoff", "0.4"))

    assert base.output == again.output and rest.output == rest_again.output, base.output
    assert base.output["status"] == "paid", base.output.get("hold_reasons")
    assert base.output["amount"] == "60.00" and rest.output["amount"] == "40.00"
    with money_demo() as session:
        assert session.scalar(select(func.count()).select_from(Settlement)) == 2
        assert session.scalar(select(func.sum(Payout.amount))) == Decimal("100.00")
        # One accrual and one payout per payee per milestone, never a second set.
        kinds = session.execute(
            select(LedgerEntry.kind, func.count(), func.sum(LedgerEntry.amount)).group_by(
                LedgerEntry.kind
            )
        ).all()
    assert sorted(kinds) == [("accrual", 6, Decimal("100.00")), ("payout", 6, Decimal("100.00"))]


async def test_odd_cents_split_by_preset_ratios_sum_to_the_cent_and_match_statements(
    weekday_run, money_demo, money_api, money_headers
):
    shares = {"o-a": "0.3333", "o-b": "0.5557", "o-c": "0.1231"}
    paid: dict[str, Decimal] = {}
    for order_id, share in shares.items():
        await _reported(weekday_run, order_id)
        result = await weekday_run("settlement", _settle(order_id, "completion", share))
        amount = Decimal(result.output["amount"])
        parts = {p["payee_kind"]: Decimal(p["amount"]) for p in result.output["payouts"]}
        assert sum(parts.values()) == amount
        for role, ratio in (("hq", "0.20"), ("branch", "0.30"), ("agent", "0.50")):
            assert abs(parts[role] - amount * Decimal(ratio)) < Decimal("0.01")
            paid[role] = paid.get(role, Decimal(0)) + parts[role]
    assert {k: str(v) for k, v in paid.items()} == {
        # 33.33 → 6.67 / 10.00 / 16.66 (3331 cents floored; the .9 and .6 remainders
        # get the two cents left), 55.57 → 11.11 / 16.67 / 27.79, 12.31 → 2.46 / 3.69 / 6.16
        "hq": "20.24",
        "branch": "30.36",
        "agent": "50.61",
    }

    finance = money_headers("finance")
    run = await money_api.post("/api/settlement-runs", json={"period": "2026-11"}, headers=finance)
    assert run.status_code == 200, run.text
    assert Decimal(run.json()["total"]) == sum(paid.values()) == Decimal("101.21")
    listed = await money_api.get("/api/statements?period=2026-11", headers=finance)
    statements = {s["party_kind"]: s for s in listed.json()["data"]}
    assert {k: Decimal(s["total"]) for k, s in statements.items()} == paid
    assert statements["agent"]["party_id"] == "hn-agent" and statements["agent"]["lines"] == 3
    assert statements["branch"]["party_id"] == "gz-branch"

    exported = await money_api.get(
        f"/api/statements/{statements['agent']['id']}/export?format=csv", headers=finance
    )
    rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert rows[0][:6] == ["工单号", "里程碑", "结算时间", "角色", "收款方", "金额"]
    assert sum(Decimal(r[5]) for r in rows[1:-1]) == paid["agent"]
    assert rows[-1][0] == "合计" and Decimal(rows[-1][5]) == paid["agent"]
    workbook = await money_api.get(
        f"/api/statements/{statements['hq']['id']}/export?format=xlsx", headers=finance
    )
    sheet = load_workbook(io.BytesIO(workbook.content)).active
    values = list(sheet.iter_rows(values_only=True))
    assert values[0][0] == "工单号" and Decimal(str(values[-1][5])) == paid["hq"]


async def test_parties_confirm_or_dispute_their_own_statement_with_the_reason_kept(
    weekday_run, money_api, money_headers
):
    await _reported(weekday_run, "o-d")
    await weekday_run("settlement", _settle("o-d", "completion", "1"))
    finance = money_headers("finance")
    await money_api.post("/api/settlement-runs", json={"period": "2026-11"}, headers=finance)
    listed = (await money_api.get("/api/statements", headers=finance)).json()["data"]
    by_kind = {s["party_kind"]: s["id"] for s in listed}

    confirmed = await money_api.post(f"/api/statements/{by_kind['hq']}/confirm", headers=finance)
    assert confirmed.status_code == 200 and confirmed.json()["status"] == "confirmed"
    twice = await money_api.post(f"/api/statements/{by_kind['hq']}/confirm", headers=finance)
    assert twice.status_code == 409

    agent = money_headers("outlet_mgr_gz_001")  # the unit answering for hn-agent
    no_reason = await money_api.post(
        f"/api/statements/{by_kind['agent']}/dispute", json={"reason": " "}, headers=agent
    )
    assert no_reason.status_code == 422
    disputed = await money_api.post(
        f"/api/statements/{by_kind['agent']}/dispute",
        json={"reason": "o-d 的上门费应按 110 计"},
        headers=agent,
    )
    assert disputed.status_code == 200, disputed.text
    assert disputed.json()["dispute_reason"] == "o-d 的上门费应按 110 计"
    # The region manager sees the branch's statement but is not the branch.
    region = money_headers("region_mgr_huanan")
    seen = await money_api.get(f"/api/statements/{by_kind['branch']}", headers=region)
    assert seen.status_code == 200
    refused = await money_api.post(f"/api/statements/{by_kind['branch']}/confirm", headers=region)
    assert refused.status_code == 403
    # Another region's manager does not see it at all.
    other = await money_api.get(
        f"/api/statements/{by_kind['branch']}", headers=money_headers("region_mgr_huabei")
    )
    assert other.status_code == 404


async def test_periodic_milestones_are_paid_by_the_monthly_run_once(
    weekday_run, money_demo, money_api, money_headers
):
    await _reported(weekday_run, "o-p")
    result = await weekday_run("settlement", _settle("o-p", "completion", "1", mode="periodic"))
    assert result.output["status"] == "accrued"
    finance = money_headers("finance")
    with money_demo() as session:
        assert set(session.scalars(select(LedgerEntry.kind))) == {"accrual"}

    first = await money_api.post(
        "/api/settlement-runs", json={"period": "2026-11"}, headers=finance
    )
    second = await money_api.post(
        "/api/settlement-runs", json={"period": "2026-11"}, headers=finance
    )

    assert first.json()["applied"] is True and first.json()["accrued_paid"] == 1
    assert second.json()["applied"] is False and second.json()["total"] == first.json()["total"]
    with money_demo() as session:
        payouts = session.execute(
            select(LedgerEntry.party, LedgerEntry.amount).where(LedgerEntry.kind == "payout")
        ).all()
        assert session.scalar(select(Settlement.status)) == "paid"
    assert sorted(payouts) == [
        ("agent:hn-agent", Decimal("50.00")),
        ("branch:gz-branch", Decimal("30.00")),
        ("hq:hq", Decimal("20.00")),
    ]
    verified = await money_api.post("/api/ledger/verify", json={}, headers=finance)
    assert verified.json()["ok"] is True and verified.json()["checkpoints_held"] == 1


async def test_finance_totals_by_party_and_region_export_and_scope(
    weekday_run, money_api, money_headers
):
    await _reported(weekday_run, "o-t")
    await weekday_run("settlement", _settle("o-t", "completion", "1"))
    finance = money_headers("finance")
    by_party = await money_api.get("/api/finance/totals?group_by=party", headers=finance)
    assert {r["key"]: Decimal(r["total"]) for r in by_party.json()} == {
        "agent:hn-agent": Decimal("50.00"),
        "branch:gz-branch": Decimal("30.00"),
        "hq:hq": Decimal("20.00"),
    }
    by_region = await money_api.get(
        "/api/finance/totals?group_by=region&format=csv", headers=finance
    )
    rows = list(csv.reader(io.StringIO(by_region.content.decode("utf-8-sig"))))
    assert rows == [["区域", "币种", "金额合计", "笔数"], ["huanan", "CNY", "100.00", "1"]]
    other_region = await money_api.get(
        "/api/finance/totals?group_by=period", headers=money_headers("region_mgr_huabei")
    )
    assert other_region.json() == []
    bad = await money_api.get("/api/finance/totals?group_by=colour", headers=finance)
    assert bad.status_code == 422


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"visit_fee": "abc"}, "body.visit_fee"),
        ({"visit_fee": "80", "colour": "red"}, "body.colour"),
    ],
)
async def test_malformed_rules_are_refused_naming_the_field(money_api, money_headers, body, field):
    answer = await money_api.post(
        "/api/price-rules",
        json={
            "code": "rate.test",
            "kind": "rate",
            "body": body,
            "valid_from": "2026-11-01T00:00:00Z",
        },
        headers=money_headers("hq_admin"),
    )
    assert answer.status_code == 422 and field in answer.text
    bad_condition = await money_api.post(
        "/api/price-rules",
        json={
            "code": "coef.test",
            "kind": "coefficient",
            "condition": "__import__('os')",
            "body": {"factor": "2"},
            "valid_from": "2026-11-01T00:00:00Z",
        },
        headers=money_headers("hq_admin"),
    )
    assert bad_condition.status_code == 422 and "condition" in bad_condition.text
