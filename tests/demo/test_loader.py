from decimal import Decimal

from sqlalchemy import func, select

from servflow.billing.models import PriceTable
from servflow.billing.repo import list_price_tables
from servflow.customers.models import Customer
from servflow.demo.loader import DEMO_API_KEY, DEMO_PASSWORD, load_demo
from servflow.dispatch.models import Engineer
from servflow.inventory.models import Part, StockLevel, Warehouse
from servflow.org.models import ApiKey, AppUser, OrgUnit
from servflow.org.repo import find_region
from servflow.org.service import authenticate, get_user_by_username, principal_of, user_by_api_key
from servflow.tables import metadata


def counts(session):
    return {
        table.name: session.execute(select(func.count()).select_from(table)).scalar_one()
        for table in metadata.sorted_tables
    }


def test_loading_demo_twice_adds_nothing_the_second_time(session):
    first = load_demo(session)
    session.commit()
    before = counts(session)
    second = load_demo(session)
    session.commit()

    assert counts(session) == before
    assert set(second.added.values()) == {0}
    assert first.added["org_unit"] == before["org_unit"]


def test_demo_has_seven_regions_thirty_cities_twelve_warehouses_hundreds_of_parts(session):
    stages = []
    load_demo(session, progress=lambda stage, done, total: stages.append(stage))
    session.commit()

    regions = session.scalars(select(OrgUnit.name).where(OrgUnit.kind == "region")).all()
    assert sorted(regions) == sorted(["华北", "华东", "华南", "华中", "西南", "西北", "东北"])
    assert session.scalar(select(func.count()).where(OrgUnit.kind == "branch")) >= 30
    # 12 of warehouses.csv + 4 of the spare-parts cases (inventory_cases.json).
    assert session.scalar(select(func.count(Warehouse.id))) == 16
    assert session.scalar(select(func.count(Part.id))) >= 300
    assert session.scalar(select(func.count(Engineer.id))) >= 55
    assert session.scalar(select(func.count(StockLevel.id))) > 1000
    assert session.scalar(select(func.count(Customer.id))) >= 5
    assert {"org units", "engineers", "parts", "users"} <= set(stages)
    beijing = session.scalars(select(OrgUnit).where(OrgUnit.code == "bj-branch")).one()
    assert (beijing.lat, beijing.lng) == (39.9042, 116.4074)
    assert beijing.path == "/hq/huabei/bj-branch"
    engineer = session.scalars(select(Engineer).where(Engineer.code == "bj_01")).one()
    assert "refrigeration" in engineer.skills
    assert engineer.user.username == "engineer_bj_01"


def test_demo_price_tables_differ_by_region(session):
    load_demo(session)
    fees = {}
    for code in ("huadong", "xibei", "huabei"):
        region = find_region(session, code_or_name=code)
        (table,) = list_price_tables(session, region_id=region.id)
        fees[code] = table.base_visit_fee
    assert fees == {
        "huadong": Decimal("120.00"),
        "xibei": Decimal("80.00"),
        "huabei": Decimal("100.00"),
    }
    assert session.scalar(select(func.count(PriceTable.id))) == 7


def test_every_role_has_a_demo_login_with_the_demo_password(session):
    load_demo(session)
    session.commit()
    roles = set()
    for user in session.scalars(select(AppUser)):
        roles |= set(user.roles)
    assert roles == {
        "designer",
        "dispatcher",
        "engineer",
        "outlet_manager",
        "region_manager",
        "finance",
        "hq_admin",
        "api_client",
        "customer_care",
    }
    care = authenticate(session, username="care_huabei", password=DEMO_PASSWORD)
    assert care is not None and principal_of(care).scope_path == "/hq/huabei"
    user = authenticate(session, username="region_mgr_huanan", password=DEMO_PASSWORD)
    assert user is not None and principal_of(user).scope_path == "/hq/huanan"
    assert authenticate(session, username="region_mgr_huanan", password="wrong") is None
    outlet_mgr = get_user_by_username(session, username="outlet_mgr_bj_001")
    assert principal_of(outlet_mgr).scope_path == "/hq/huabei/bj-branch/bj-001"
    for username in ("hq_admin", "designer", "dispatcher_huabei", "finance", "engineer_bj_01"):
        assert get_user_by_username(session, username=username) is not None


def test_demo_api_key_belongs_to_the_api_client(session):
    load_demo(session)
    session.commit()
    assert user_by_api_key(session, key=DEMO_API_KEY).username == "api_client"
    assert session.scalar(select(func.count(ApiKey.id))) == 1
