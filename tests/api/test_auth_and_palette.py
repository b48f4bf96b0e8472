"""Login, tokens, API keys, and the designer's palette and schema."""

from __future__ import annotations

from datetime import timedelta

import pytest

from api.security import create_access_token
from tests.api.conftest import JWT_SECRET, make_headers

# Nothing here changes data: the module shares one demo database and app.


@pytest.fixture
def demo(module_demo):
    return module_demo


@pytest.fixture
def api(module_api):
    return module_api


@pytest.fixture
def headers(module_demo):
    return make_headers(module_demo)


async def test_login_returns_a_bearer_token_and_the_user(api):
    response = await api.post(
        "/api/auth/login", json={"username": "region_mgr_huanan", "password": "demo1234"}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["user"]["roles"] == ["region_manager"]
    assert body["user"]["scope_path"] == "/hq/huanan"
    me = await api.get("/api/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.json()["username"] == "region_mgr_huanan"


async def test_a_wrong_password_is_401(api):
    response = await api.post("/api/auth/login", json={"username": "hq_admin", "password": "nope"})
    assert response.status_code == 401
    assert "password" in response.json()["detail"]


async def test_login_body_errors_name_the_field(api):
    response = await api.post("/api/auth/login", json={"username": "hq_admin"})
    assert response.status_code == 422
    assert response.json()["errors"] == {"password": "Field required"}


async def test_a_nul_character_in_the_login_is_a_clear_422(api):
    response = await api.post(
        "/api/auth/login", json={"username": "hq\u0000admin", "password": "x"}
    )
    assert response.status_code == 422
    assert "username contains a NUL character" in response.json()["detail"]


async def test_requests_without_credentials_are_401(api):
    for url in ("/api/me", "/api/orders", "/api/definitions", "/api/node-types"):
        response = await api.get(url)
        assert response.status_code == 401, url
        assert response.json()["detail"]


async def test_forged_and_expired_tokens_are_401(api, demo):
    forged = create_access_token(
        user_id=1,
        username="hq_admin",
        secret="not-the-secret-but-long-enough-for-hs256",
        ttl=timedelta(hours=1),
    )
    expired = create_access_token(
        user_id=1, username="hq_admin", secret=JWT_SECRET, ttl=timedelta(seconds=-5)
    )
    for token in (forged, expired, "garbage"):
        response = await api.get("/api/me", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401


async def test_api_keys_authenticate_api_clients(api, headers):
    me = await api.get("/api/me", headers=headers("api_key"))
    assert me.status_code == 200
    assert me.json()["roles"] == ["api_client"]
    bad = await api.get("/api/me", headers={"X-API-Key": "sfk_wrong"})
    assert bad.status_code == 401


async def test_the_palette_lists_every_node_type_with_its_schema(api, headers):
    response = await api.get("/api/node-types", headers=headers("designer"))
    assert response.status_code == 200
    types = {t["type"]: t for t in response.json()["data"]}
    for tag in ("report", "dispatch", "service", "signoff", "settlement", "decision", "end"):
        assert tag in types
    assert types["service"]["human"] is True and types["service"]["label_zh"] == "上门服务"
    assert "properties" in types["dispatch"]["schema"]


async def test_the_definition_schema_is_served(api, headers):
    response = await api.get("/api/schema/definition", headers=headers("engineer_bj_01"))
    assert response.status_code == 200
    assert response.json()["title"].startswith("servflow")
    assert "nodes" in response.json()["properties"]


async def test_openapi_is_served_at_docs(api):
    assert (await api.get("/docs")).status_code == 200
    schema = (await api.get("/openapi.json")).json()
    assert "/api/orders/{order_id}/steps/{node_id}" in schema["paths"]
