"""Liveness and readiness probes: what a load balancer or orchestrator relies on."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from temporalio.service import RPCError, RPCStatusCode

from api import health
from api.main import create_app
from servflow.platform.db import make_engine, make_session_factory
from tests.api.conftest import api_settings

DOWN_URL = "postgresql+psycopg://servflow:hunter2@127.0.0.1:1/servflow?connect_timeout=2"


class FailingService:
    """A Temporal service client whose health check fails (or never answers)."""

    def __init__(self, *, hang: bool = False) -> None:
        self.hang = hang

    async def check_health(self, **_kwargs: object) -> bool:
        if self.hang:
            await asyncio.sleep(3600)
        raise RPCError("connection refused", RPCStatusCode.UNAVAILABLE, b"")


class FailingTemporal:
    def __init__(self, *, hang: bool = False) -> None:
        self.service_client = FailingService(hang=hang)


def client_for(app) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


async def test_liveness_answers_without_credentials(session_factory):
    app = create_app(api_settings(), session_factory=session_factory, temporal_client=None)
    async with client_for(app) as http:
        response = await http.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_ready_when_the_store_and_temporal_answer(session_factory, client):
    app = create_app(api_settings(), session_factory=session_factory, temporal_client=client)
    async with client_for(app) as http:
        response = await http.get("/readyz")
    assert response.status_code == 200, response.text
    assert response.json() == {
        "status": "ready",
        "checks": {"database": "ok", "temporal": "ok"},
    }


async def test_database_down_is_a_503_naming_the_database_without_its_address(client):
    engine = make_engine(DOWN_URL)
    app = create_app(
        api_settings(), session_factory=make_session_factory(engine), temporal_client=client
    )
    async with client_for(app) as http:
        response = await http.get("/readyz")
    engine.dispose()
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "not ready"
    assert body["checks"]["temporal"] == "ok"
    assert body["checks"]["database"].startswith("unavailable (")
    # The reason names the kind of failure only: no host, user or password, no traceback.
    for secret in ("127.0.0.1", "hunter2", "servflow", "Traceback"):
        assert secret not in response.text


async def test_temporal_down_is_a_503_naming_temporal(session_factory):
    app = create_app(
        api_settings(), session_factory=session_factory, temporal_client=FailingTemporal()
    )
    async with client_for(app) as http:
        response = await http.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"] == {
        "database": "ok",
        "temporal": "unavailable (UNAVAILABLE)",
    }


async def test_a_temporal_that_never_answers_is_not_ready(session_factory, monkeypatch):
    monkeypatch.setattr(health, "CHECK_SECONDS", 0.2)
    app = create_app(
        api_settings(), session_factory=session_factory, temporal_client=FailingTemporal(hang=True)
    )
    async with client_for(app) as http:
        response = await http.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["temporal"] == "no answer within 0.2s"


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
async def test_probes_are_not_behind_authentication(session_factory, client, path):
    app = create_app(api_settings(), session_factory=session_factory, temporal_client=client)
    async with client_for(app) as http:
        response = await http.get(path, headers={"Authorization": "Bearer not-a-token"})
    # An invalid credential is ignored, not refused: the probes read none.
    assert response.status_code == 200
