from datetime import UTC, datetime, timedelta

from servflow.orders import repo as orders
from servflow.orders.models import WorkOrder


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
