from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from servflow.definitions import repo as definitions
from servflow.definitions.models import DefinitionVersion
from servflow.inventory.models import Part, StockLevel, Warehouse
from servflow.orders import repo as orders
from servflow.orders.models import WorkOrder
from servflow.org import service as org
from servflow.org import service as users
from servflow.platform.db import make_engine
from servflow.platform.scope import in_scope


@pytest.fixture
def tree(session):
    hq = org.create_unit(session, kind="hq", code="hq", name="总部")
    huabei = org.create_unit(session, kind="region", code="huabei", name="华北", parent=hq)
    hua = org.create_unit(session, kind="region", code="hua", name="测试", parent=hq)
    bj = org.create_unit(session, kind="branch", code="bj-branch", name="北京", parent=huabei)
    outlet = org.create_unit(session, kind="outlet", code="bj-001", name="朝阳", parent=bj)
    session.commit()
    return {"hq": hq, "huabei": huabei, "hua": hua, "bj": bj, "outlet": outlet}


def test_unit_paths_follow_the_tree(tree):
    assert tree["outlet"].path == "/hq/huabei/bj-branch/bj-001"


def test_a_unit_must_sit_under_the_right_kind(session, tree):
    with pytest.raises(
        ValueError, match="a unit of kind outlet must sit under a unit of kind branch"
    ):
        org.create_unit(session, kind="outlet", code="x", name="x", parent=tree["huabei"])


def test_scope_is_a_path_prefix_not_a_string_prefix():
    assert in_scope("/hq/huabei/bj-branch", "/hq/huabei")
    assert in_scope("/hq/huabei", "/hq/huabei")
    assert not in_scope("/hq/huabei", "/hq/hua")
    assert not in_scope("/hq/huabei", "")


def test_timestamps_come_back_timezone_aware_utc(session, tree):
    beijing_time = datetime(2026, 11, 22, 16, 0, tzinfo=timezone(timedelta(hours=8)))
    session.add(WorkOrder(order_id="o-1", created_at=beijing_time, updated_at=beijing_time))
    session.commit()
    session.expire_all()
    order = orders.get_order(session, order_id="o-1")
    assert order.created_at == datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
    assert order.created_at.tzinfo is not None


def test_naive_timestamps_are_refused(session):
    session.add(WorkOrder(order_id="o-1", created_at=datetime(2026, 1, 1)))
    with pytest.raises(Exception, match="naive datetime"):
        session.flush()


def test_orders_are_listed_within_the_callers_scope_with_a_total(session, tree):
    now = datetime(2026, 11, 22, tzinfo=UTC)
    for i, path in enumerate(["/hq/huabei/bj-branch/bj-001", "/hq/huabei", "/hq/hua", "/hq/hua"]):
        session.add(
            WorkOrder(
                order_id=f"o-{i}",
                org_path=path,
                status="running",
                created_at=now + timedelta(minutes=i),
                updated_at=now,
            )
        )
    session.commit()

    rows, total = orders.list_orders(session, scope_path="/hq/huabei")
    assert total == 2
    assert [o.order_id for o in rows] == ["o-1", "o-0"]
    rows, total = orders.list_orders(session, scope_path="/hq/hua", limit=1)
    assert total == 2 and len(rows) == 1
    rows, total = orders.list_orders(session, scope_path="/hq")
    assert total == 4


def test_user_roles_are_checked_and_passwords_verified(session, tree):
    with pytest.raises(ValueError, match="unknown roles: wizard"):
        users.create_user(session, username="x", password="pw", roles=["wizard"])
    users.create_user(
        session,
        username="mgr",
        password="s3cret",
        roles=["region_manager"],
        org_unit=tree["huabei"],
    )
    session.commit()
    assert users.authenticate(session, username="mgr", password="s3cret").username == "mgr"
    assert users.authenticate(session, username="mgr", password="nope") is None
    assert users.authenticate(session, username="ghost", password="s3cret") is None


def test_api_keys_are_stored_hashed_and_can_be_revoked(session, tree):
    client = users.create_user(
        session, username="crm", password_hash="x", roles=["api_client"], org_unit=tree["hq"]
    )
    row, key = users.create_api_key(session, user=client, name="crm")
    session.commit()
    assert key.startswith("sfk_") and key not in row.key_hash
    assert users.user_by_api_key(session, key=key).username == "crm"
    row.revoked_at = datetime.now(UTC)
    session.commit()
    assert users.user_by_api_key(session, key=key) is None
    assert users.user_by_api_key(session, key="sfk_wrong") is None


def test_publishing_numbers_versions_and_keeps_them_unchanged(session):
    definitions.save_draft(session, key="ac-repair", draft={"name": "空调维修", "nodes": []})
    v1 = definitions.publish_version(session, key="ac-repair", body={"nodes": [1]}, user="d")
    definitions.save_draft(session, key="ac-repair", draft={"nodes": [1, 2]})
    v2 = definitions.publish_version(session, key="ac-repair", body={"nodes": [1, 2]}, user="d")
    session.commit()

    assert (v1.version, v2.version) == (1, 2)
    assert definitions.get_version(session, key="ac-repair").version == 2
    assert definitions.get_version(session, key="ac-repair", version=1).body == {
        "nodes": [1],
        "key": "ac-repair",
        "version": 1,
    }
    assert [v.version for v in definitions.list_versions(session, key="ac-repair")] == [1, 2]
    assert definitions.get_definition(session, key="ac-repair").name == "空调维修"


def test_publishing_an_unknown_definition_fails(session):
    with pytest.raises(LookupError):
        definitions.publish_version(session, key="nope", body={})


def test_the_same_version_cannot_be_published_twice(session):
    definition = definitions.save_draft(session, key="k", draft={})
    definitions.publish_version(session, key="k", body={})
    session.commit()
    session.add(DefinitionVersion(definition_id=definition.id, key="k", version=1, body={}))
    with pytest.raises(IntegrityError):
        session.commit()


def test_node_templates_are_saved_listed_and_deleted(session):
    definitions.save_node_template(
        session,
        key="dispatch-refrigeration-200",
        node_type="dispatch",
        preset={"params": {"skills": ["refrigeration"], "radius_km": 200}},
        name="制冷派单 200km",
    )
    session.commit()
    (template,) = definitions.list_node_templates(session, node_type="dispatch")
    assert template.preset["params"]["radius_km"] == 200
    assert definitions.delete_node_template(session, key="dispatch-refrigeration-200")
    assert definitions.list_node_templates(session) == []


def test_stock_levels_cannot_go_negative_or_reserve_more_than_on_hand(session, tree):
    warehouse = Warehouse(code="WH", name="仓", region_id=tree["huabei"].id)
    part = Part(sku="A", name="a", price=1)
    session.add_all([warehouse, part])
    session.flush()
    session.add(StockLevel(warehouse_id=warehouse.id, part_id=part.id, on_hand=1, reserved=2))
    with pytest.raises(IntegrityError):
        session.flush()


def test_sqlite_engine_uses_wal_and_foreign_keys(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path}/x/servflow.db")
    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert connection.execute(text("PRAGMA synchronous")).scalar() == 1  # NORMAL
        assert connection.execute(text("PRAGMA busy_timeout")).scalar() > 0
    engine.dispose()
