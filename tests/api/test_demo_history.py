"""Acting on a demo history order (servflow/demo/history.py) over the API.

History orders have no workflow in Temporal; they are all finished (completed) when
written, so acting on one answers the 409 a closed order answers, never a 404 or a 500.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from servflow.demo import history
from servflow.dispatch.models import Engineer
from servflow.orders.models import WorkOrder
from tests.api.conftest import SERVICE_OK

END = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)


async def test_acting_on_a_history_order_answers_409_it_is_closed(api, demo, headers):
    history.generate_history(demo, now=END, orders_count=3, days=10)
    with demo() as session:
        order = session.scalars(select(WorkOrder).order_by(WorkOrder.order_id)).first()
        assert order is not None and order.order_id.startswith(history.PREFIX)
        engineer = session.get(Engineer, order.current_engineer_id)
        assert engineer is not None and engineer.user is not None
        username = engineer.user.username
    order_id = order.order_id

    shown = await api.get(f"/api/orders/{order_id}", headers=headers("hq_admin"))
    assert shown.status_code == 200
    assert shown.json()["order"]["status"] == "completed"

    submitted = await api.post(
        f"/api/orders/{order_id}/steps/service",
        json={"data": SERVICE_OK},
        headers=headers(username),
    )
    assert submitted.status_code == 409
    assert submitted.json()["detail"].startswith(f"order '{order_id}' is no longer running")

    reassigned = await api.post(
        f"/api/orders/{order_id}/reassign",
        json={"node_id": "service", "user_id": username},
        headers=headers("hq_admin"),
    )
    assert reassigned.status_code == 409
    assert reassigned.json() == {"detail": f"order '{order_id}' is no longer running"}

    cancelled = await api.post(
        f"/api/orders/{order_id}/cancel", json={"reason": "test"}, headers=headers("hq_admin")
    )
    assert cancelled.status_code == 409
    assert cancelled.json() == {"detail": f"order '{order_id}' is completed already"}
