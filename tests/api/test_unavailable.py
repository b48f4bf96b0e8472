"""When Temporal or the database is down, callers get a JSON 503 to retry, not a bare 500."""

import httpx
import pytest
from temporalio.service import RPCError, RPCStatusCode

from api.main import create_app
from servflow.orders.models import WorkOrder
from servflow.platform.db import make_engine, make_session_factory
from tests.api.conftest import api_settings, order_body

API_KEY = {"X-API-Key": "sfk_demo_api_client_0000000000000000"}


class DownTemporal:
    """A Temporal client whose server does not answer."""

    def __init__(self, status: RPCStatusCode) -> None:
        self.status = status

    async def start_workflow(self, *args, **kwargs):
        raise RPCError("connection refused", self.status, b"")

    def get_workflow_handle(self, *args, **kwargs):
        return self

    query = signal = describe = start_workflow


def client_for(app) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


@pytest.mark.parametrize(
    ("status", "code", "says"),
    [
        (RPCStatusCode.UNAVAILABLE, 503, "workflow service is unavailable (UNAVAILABLE); retry"),
        (RPCStatusCode.PERMISSION_DENIED, 502, "refused the request (PERMISSION_DENIED)"),
    ],
)
async def test_temporal_failing_a_start_is_a_json_5xx_naming_why(demo, status, code, says):
    app = create_app(api_settings(), session_factory=demo, temporal_client=DownTemporal(status))
    async with client_for(app) as http:
        response = await http.post(
            "/api/orders", json=order_body(), headers={**API_KEY, "Idempotency-Key": "t-1"}
        )
    assert response.status_code == code
    assert says in response.json()["detail"]
    # Only a passing outage is worth retrying.
    assert response.headers.get("Retry-After") == ("1" if code == 503 else None)


async def test_database_down_is_a_503_to_retry():
    # Nothing listens on port 1: every connection attempt fails.
    engine = make_engine("postgresql+psycopg://servflow@127.0.0.1:1/servflow?connect_timeout=2")
    app = create_app(
        api_settings(),
        session_factory=make_session_factory(engine),
        temporal_client=DownTemporal(RPCStatusCode.UNAVAILABLE),
    )
    async with client_for(app) as http:
        response = await http.get("/api/orders", headers=API_KEY)
    engine.dispose()
    assert response.status_code == 503
    assert response.json() == {"detail": "the database is unavailable or busy; retry"}


async def test_a_cancel_during_a_temporal_outage_is_a_503_not_a_false_no_longer_running(demo):
    # The order runs (the read model says so); Temporal is down for a moment.
    with demo() as session:
        session.add(
            WorkOrder(order_id="o-out", status="dispatched", region="huabei", org_path="/hq/huabei")
        )
        session.commit()
    app = create_app(
        api_settings(),
        session_factory=demo,
        temporal_client=DownTemporal(RPCStatusCode.UNAVAILABLE),
    )
    async with client_for(app) as http:
        login = await http.post(
            "/api/auth/login", json={"username": "dispatcher_huabei", "password": "demo1234"}
        )
        token = {"Authorization": f"Bearer {login.json()['access_token']}"}
        response = await http.post(
            "/api/orders/o-out/cancel", json={"reason": "客户取消"}, headers=token
        )
    assert response.status_code == 503, response.text
    assert response.headers.get("Retry-After") == "1"
