"""One customer across channels: a typed name is kept, identities merge records with an
audit, search and profiles stay within scope."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from servflow.customers import service
from servflow.customers.models import Customer, CustomerIdentity, CustomerMerge
from servflow.customers.rules import nps, nps_by


def identities(session, customer_id):
    return sorted(
        session.execute(
            select(CustomerIdentity.kind, CustomerIdentity.value).where(
                CustomerIdentity.customer_id == customer_id
            )
        ).all()
    )


def test_a_name_typed_with_a_known_phone_is_kept_not_silently_replaced(session, world):
    first, created = service.link_or_create_customer(session, name="王芳", phone="13911112222")
    again, created_again = service.link_or_create_customer(
        session, name="李雷", phone="13911112222"
    )
    assert created and not created_again and again.id == first.id
    # The record keeps its name (a shared household phone) and remembers the other name.
    assert again.name == "王芳"
    assert ("contact", "李雷/13911112222") in identities(session, first.id)


def test_a_customer_known_only_by_phone_takes_the_typed_name(session, world):
    service.link_or_create_customer(session, name="", phone="13911113333")
    customer, _ = service.link_or_create_customer(session, name="韩梅梅", phone="13911113333")
    assert customer.name == "韩梅梅"


def test_a_located_customer_belongs_to_the_nearest_outlet(session, world):
    customer, _ = service.link_or_create_customer(
        session, name="李娜", phone="13800010001", lat=39.9087, lng=116.4605
    )
    assert customer.org_path == world.units["bj-001"].path


def test_the_same_buyer_id_on_two_records_merges_them_with_an_audit(session, world):
    older, _ = service.link_or_create_customer(session, name="赵敏", phone="13655550001")
    service.link_identity(session, customer=older, kind="douyin", value="dy-77", by="intake")
    newer, _ = service.link_or_create_customer(
        session, name="赵敏", phone="13655550002", address="天津市南京路1号", lat=39.11, lng=117.2
    )

    kept = service.link_identity(session, customer=newer, kind="douyin", value="dy-77", by="intake")

    assert kept.id == older.id
    audit = session.scalars(select(CustomerMerge)).one()
    assert (audit.kept_id, audit.merged_id, audit.rule, audit.by) == (
        older.id,
        newer.id,
        "same_douyin",
        "intake",
    )
    assert audit.detail["moved"]["addresses"] == 1
    assert ("phone", "13655550002") in identities(session, older.id)
    assert [a.address for a in session.get(Customer, older.id).addresses] == ["天津市南京路1号"]


async def test_search_by_name_phone_contact_or_channel_id_within_scope(
    api, headers, session, world
):
    beijing, _ = service.link_or_create_customer(
        session, name="王芳", phone="13911112222", lat=39.9087, lng=116.4605
    )
    service.link_or_create_customer(session, name="李雷", phone="13911112222")
    service.link_identity(session, customer=beijing, kind="wecom", value="wmABC123", by="t")
    service.link_or_create_customer(
        session, name="王芳", phone="13922220000", lat=31.2215, lng=121.5447
    )
    session.commit()

    async def names(user, q):
        response = await api.get("/api/customers", params={"q": q}, headers=headers(user))
        assert response.status_code == 200, response.text
        return sorted(c["phone"] for c in response.json()["data"])

    assert await names("hq_admin", "王芳") == ["13911112222", "13922220000"]
    assert await names("region_mgr_huabei", "王芳") == ["13911112222"]
    assert await names("region_mgr_huadong", "王芳") == ["13922220000"]
    assert await names("region_mgr_huabei", "李雷") == ["13911112222"]
    assert await names("region_mgr_huabei", "wmABC") == ["13911112222"]
    assert await names("region_mgr_huabei", "1391111") == ["13911112222"]
    refused = await api.get("/api/customers", headers=headers("engineer_bj_near"))
    assert refused.status_code == 403


async def test_a_profile_shows_assets_with_warranty_and_a_timeline_within_scope(
    api, headers, session, world
):
    customer, _ = service.link_or_create_customer(
        session, name="王芳", phone="13911112222", lat=39.9087, lng=116.4605
    )
    session.commit()
    added = await api.post(
        f"/api/customers/{customer.id}/assets",
        json={"product": "智能门锁 X3", "serial_no": "SN1", "warranty_until": "2099-01-01"},
        headers=headers("region_mgr_huabei"),
    )
    assert added.status_code == 201, added.text
    profile = await api.get(f"/api/customers/{customer.id}", headers=headers("region_mgr_huabei"))
    body = profile.json()
    assert body["assets"][0]["product"] == "智能门锁 X3" and body["assets"][0]["under_warranty"]
    assert {e["kind"] for e in body["timeline"]} >= {"asset", "identity"}
    hidden = await api.get(f"/api/customers/{customer.id}", headers=headers("region_mgr_huadong"))
    assert hidden.status_code == 404
    assert date.fromisoformat(body["assets"][0]["warranty_until"]).year == 2099


async def test_a_manual_merge_is_audited_and_refused_out_of_scope(api, headers, session, world):
    a, _ = service.link_or_create_customer(
        session, name="甲", phone="13900000001", lat=39.9, lng=116.4
    )
    b, _ = service.link_or_create_customer(
        session, name="甲", phone="13900000002", lat=39.9, lng=116.4
    )
    c, _ = service.link_or_create_customer(
        session, name="丙", phone="13900000003", lat=31.2, lng=121.5
    )
    session.commit()
    merged = await api.post(
        f"/api/customers/{a.id}/merge",
        json={"other_id": b.id},
        headers=headers("region_mgr_huabei"),
    )
    assert merged.status_code == 200, merged.text
    assert (merged.json()["rule"], merged.json()["by"]) == ("manual", "region_mgr_huabei")
    outside = await api.post(
        f"/api/customers/{a.id}/merge",
        json={"other_id": c.id},
        headers=headers("region_mgr_huabei"),
    )
    assert outside.status_code == 404


def test_nps_counts_promoters_minus_detractors():
    assert nps("x", [10, 9, 8, 7, 6, 0]).score == 0.0
    assert nps("x", [9, 9, 10]).score == 100.0
    assert nps("x", []).score == 0.0
    by = nps_by([("bj", 9), ("sh", 3), ("bj", 6)])
    assert [(n.key, n.promoters, n.detractors, n.score) for n in by] == [
        ("bj", 1, 1, 0.0),
        ("sh", 0, 1, -100.0),
    ]
