"""Master data CRUD and CSV import: scoped to the caller, all or nothing."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import func, select

from servflow.billing.models import PriceTable
from servflow.dispatch.models import Engineer
from servflow.masterdata.service import import_csv, read_csv
from servflow.org.models import OrgUnit

OUTLET = {
    "code": "bj-009",
    "name": "北京通州服务网点",
    "parent": "bj-branch",
    "city": "北京",
    "lat": 39.909,
    "lng": 116.657,
}


async def test_hq_admin_creates_and_updates_an_outlet(api, headers):
    admin = headers("hq_admin")
    created = await api.post("/api/outlets", json=OUTLET, headers=admin)
    assert created.status_code == 201, created.text
    assert created.json()["path"] == "/hq/huabei/bj-branch/bj-009"
    again = await api.post("/api/outlets", json=OUTLET, headers=admin)
    assert again.status_code == 409
    renamed = await api.put(
        "/api/outlets/bj-009", json={**OUTLET, "name": "通州网点"}, headers=admin
    )
    assert renamed.json()["name"] == "通州网点"
    missing = await api.put("/api/outlets/nope", json={**OUTLET, "code": "nope"}, headers=admin)
    assert missing.status_code == 404


async def test_a_region_manager_works_only_inside_their_region(api, headers):
    huanan = headers("region_mgr_huanan")
    refused = await api.post("/api/outlets", json=OUTLET, headers=huanan)
    # Outside their region is answered exactly as a code that does not exist: 华南 learns
    # nothing of 华北's units, not even that they exist.
    unknown = await api.post(
        "/api/outlets", json={**OUTLET, "parent": "no-such-branch"}, headers=huanan
    )
    assert refused.status_code == unknown.status_code == 422
    assert refused.json()["errors"] == {"parent": f"no org unit '{OUTLET['parent']}'"}
    assert unknown.json()["errors"] == {"parent": "no org unit 'no-such-branch'"}
    listed = await api.get("/api/outlets?limit=500", headers=huanan)
    assert listed.status_code == 200
    assert listed.json()["count"] > 0
    assert all(u["path"].startswith("/hq/huanan/") for u in listed.json()["data"])
    engineers = (await api.get("/api/engineers?limit=500", headers=huanan)).json()["data"]
    assert engineers and not any(e["code"].startswith("bj_") for e in engineers)
    tables = (await api.get("/api/price-tables", headers=huanan)).json()["data"]
    assert [t["region"] for t in tables] == ["huanan"]
    bj_table = (await api.get("/api/price-tables", headers=headers("region_mgr_huabei"))).json()
    table_id = bj_table["data"][0]["id"]
    body = {
        "region": "huabei",
        "base_visit_fee": "1.00",
        "per_km_surcharge": "0",
        "free_km": "0",
        "valid_from": "2026-01-01T00:00:00Z",
    }
    hidden = await api.put(f"/api/price-tables/{table_id}", json=body, headers=huanan)
    assert hidden.status_code == 404


async def test_other_roles_may_not_touch_master_data(api, headers):
    for user in ("engineer_bj_01", "finance", "designer", "dispatcher_huabei", "api_key"):
        assert (await api.get("/api/outlets", headers=headers(user))).status_code == 403
        response = await api.post("/api/outlets", json=OUTLET, headers=headers(user))
        assert response.status_code == 403


async def test_engineers_warehouses_stock_and_price_tables(api, headers):
    admin = headers("hq_admin")
    engineer = {
        "code": "bj_99",
        "name": "新员工",
        "outlet": "bj-001",
        "skills": ["refrigeration"],
        "lat": 39.92,
        "lng": 116.44,
    }
    created = await api.post("/api/engineers", json=engineer, headers=admin)
    assert created.status_code == 201, created.text
    assert created.json()["state"] == "available"
    bad_outlet = await api.put(
        "/api/engineers/bj_99", json={**engineer, "outlet": "nowhere"}, headers=admin
    )
    assert bad_outlet.status_code == 422
    assert bad_outlet.json()["errors"] == {"outlet": "no outlet 'nowhere'"}

    warehouse = {"code": "WH-BJ-9", "name": "北京东仓", "region": "华北", "city": "北京"}
    assert (await api.post("/api/warehouses", json=warehouse, headers=admin)).status_code == 201
    updated = await api.put(
        "/api/warehouses/WH-BJ-9", json={**warehouse, "city": "通州"}, headers=admin
    )
    assert updated.json() == {
        **warehouse,
        "region": "huabei",
        "city": "通州",
        "lat": None,
        "lng": None,
        "kind": "regional",
        "engineer_code": "",
        "lead_time_hours": 24,
    }

    stock = {"warehouse": "WH-BJ-9", "sku": "AC-CAP-35UF", "on_hand": 5, "reserved": 1}
    level = await api.put("/api/stock", json=stock, headers=admin)
    assert level.status_code == 200, level.text
    listed = await api.get("/api/stock?warehouse=WH-BJ-9", headers=admin)
    assert listed.json()["count"] == 1 and listed.json()["data"][0]["on_hand"] == 5
    too_many = await api.put("/api/stock", json={**stock, "reserved": 9}, headers=admin)
    assert too_many.status_code == 422 and "reserved" in too_many.json()["errors"]

    table = {
        "region": "huabei",
        "currency": "CNY",
        "base_visit_fee": "105.00",
        "per_km_surcharge": "2.00",
        "free_km": "15",
        "valid_from": "2027-01-01T00:00:00+00:00",
    }
    created_table = await api.post("/api/price-tables", json=table, headers=admin)
    assert created_table.status_code == 201
    assert Decimal(created_table.json()["base_visit_fee"]) == Decimal("105.00")
    negative = await api.post(
        "/api/price-tables", json={**table, "base_visit_fee": "-1"}, headers=admin
    )
    assert negative.status_code == 422 and "base_visit_fee" in negative.json()["errors"]


ENGINEERS_CSV = (
    "code,name,outlet,skills,lat,lng,phone,state,max_load\n"
    "bj_90,甲,bj-001,refrigeration;electrical,39.9,116.4,1880000,available,3\n"
    "bj_91,乙,bj-002,refrigeration,39.9,116.3,,available,2\n"
).encode()


async def test_a_good_csv_imports_every_row(api, headers, demo):
    response = await api.post(
        "/api/import/engineers",
        files={"file": ("engineers.csv", ENGINEERS_CSV, "text/csv")},
        headers=headers("hq_admin"),
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"kind": "engineers", "imported": 2, "errors": []}
    with demo() as session:
        skills = session.scalar(select(Engineer.skills).where(Engineer.code == "bj_90"))
    assert skills == ["refrigeration", "electrical"]


async def test_a_csv_with_bad_rows_imports_nothing_and_names_each_error(api, headers, demo):
    with demo() as session:
        before = session.scalar(select(func.count()).select_from(OrgUnit))
    data = (
        "kind,code,name,parent,city,lat,lng\n"
        "outlet,bj-050,好网点,bj-branch,北京,39.9,116.4\n"
        "outlet,bj-051,坏纬度,bj-branch,北京,139.9,116.4\n"
        "outlet,bj-052,无上级,no-such-branch,北京,39.9,116.4\n"
        "outlet,,无编码,bj-branch,北京,39.9,116.4\n"
    ).encode()
    response = await api.post(
        "/api/import/outlets",
        files={"file": ("outlets.csv", data, "text/csv")},
        headers=headers("hq_admin"),
    )
    assert response.status_code == 422
    body = response.json()
    assert body["imported"] == 0
    located = {(e["row"], e["field"]) for e in body["errors"]}
    assert located == {(3, "lat"), (4, "parent"), (5, "code")}
    with demo() as session:
        assert session.scalar(select(func.count()).select_from(OrgUnit)) == before


async def test_import_rows_outside_the_callers_scope_are_errors(api, headers):
    data = (
        b"region,currency,base_visit_fee,per_km_surcharge,free_km,valid_from\n"
        b"huanan,CNY,111.00,2.5,15,2027-01-01T00:00:00+00:00\n"
        b"huabei,CNY,101.00,2.0,15,2027-01-01T00:00:00+00:00\n"
    )
    response = await api.post(
        "/api/import/price_tables",
        files={"file": ("p.csv", data, "text/csv")},
        headers=headers("region_mgr_huanan"),
    )
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"row": 3, "field": "region", "message": "no region 'huabei'"}
    ]


async def test_import_refuses_unknown_kinds_and_non_csv(api, headers):
    admin = headers("hq_admin")
    unknown = await api.post(
        "/api/import/nothing", files={"file": ("x.csv", b"a\n1\n", "text/csv")}, headers=admin
    )
    assert unknown.status_code == 422 and "kind" in unknown.json()["errors"]
    binary = await api.post(
        "/api/import/stock", files={"file": ("x.csv", b"\xff\xfe\x00", "text/csv")}, headers=admin
    )
    assert binary.status_code == 422 and "file" in binary.json()["errors"]
    no_file = await api.post("/api/import/stock", headers=admin)
    assert no_file.status_code == 422 and "file" in no_file.json()["errors"]


def test_import_csv_is_reusable_with_progress(demo):
    rows = read_csv(
        b"\xef\xbb\xbfregion,base_visit_fee,per_km_surcharge,free_km,valid_from\n"
        b"xibei,70.00,1.0,20,2027-06-01\n"
    )
    seen: list[tuple[int, int]] = []
    with demo() as session:
        report = import_csv(
            session, "price_tables", rows, progress=lambda d, t: seen.append((d, t))
        )
        session.commit()
        assert report.ok and report.imported == 1
        count = session.scalar(
            select(func.count()).select_from(PriceTable).where(PriceTable.base_visit_fee == 70)
        )
    assert count == 1
    assert seen == [(1, 1)]


async def test_rows_of_another_region_are_hidden_from_a_region_manager(api, headers):
    huanan = headers("region_mgr_huanan")
    outlet = await api.put("/api/outlets/bj-001", json={**OUTLET, "code": "bj-001"}, headers=huanan)
    assert outlet.status_code == 404
    stock = (await api.get("/api/stock?limit=500", headers=huanan)).json()["data"]
    warehouses = (await api.get("/api/warehouses?limit=500", headers=huanan)).json()["data"]
    assert {s["warehouse"] for s in stock} <= {w["code"] for w in warehouses}
    assert all(w["region"] == "huanan" for w in warehouses)


async def test_an_update_must_keep_the_code_of_its_url(api, headers):
    body = {**OUTLET, "code": "bj-001", "parent": "bj-branch"}
    response = await api.put("/api/outlets/bj-002", json=body, headers=headers("hq_admin"))
    assert response.status_code == 422
    assert response.json()["errors"] == {"code": "must be 'bj-002'"}


async def test_openapi_types_each_kinds_routes_with_its_own_models(api):
    paths = (await api.get("/openapi.json")).json()["paths"]
    ok = {"outlets": "OrgUnitPublic", "engineers": "EngineerPublic", "stock": "StockPublic"}
    for url, model in ok.items():
        read = paths[f"/api/{url}"]["get"]["responses"]["200"]["content"]["application/json"]
        assert read["schema"]["$ref"].endswith(f"Page_{model}_")
    put = paths["/api/stock"]["put"]["requestBody"]["content"]["application/json"]["schema"]
    assert put["$ref"].endswith("/StockIn")
    params = {p["name"] for p in paths["/api/stock"]["get"]["parameters"]}
    assert params == {"warehouse", "sku", "limit", "offset"}
