"""Trust over HTTP: secrets, token lifetimes, refresh and logout, demo credentials outside
the demo, login limits, and accounts managed without privilege escalation. Each attack is
performed and its refusal asserted (status, JSON body, nothing written)."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import jwt
import pytest
from sqlalchemy.orm import Session, sessionmaker

from api.main import create_app
from servflow.org import service as org
from servflow.org.rules import DEMO_PASSWORD, OPERATOR
from servflow.platform.keys import WeakSecret
from servflow.platform.settings import Settings
from tests.api.conftest import JWT_SECRET, api_settings

DEMO_KEY = "sfk_demo_api_client_0000000000000000"


@pytest.fixture(autouse=True)
def quick_bcrypt(monkeypatch):
    from servflow.platform.security import hash_password

    monkeypatch.setattr(org, "hash_password", lambda p: hash_password(p, rounds=4))


@asynccontextmanager
async def serving(
    factory: sessionmaker[Session], **overrides: Any
) -> AsyncIterator[httpx.AsyncClient]:
    """An app on the demo data (demo mode unless overridden); Temporal is not needed."""
    app = create_app(api_settings(**overrides), session_factory=factory, temporal_client=object())  # type: ignore[arg-type]
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


async def login(
    http: httpx.AsyncClient, username: str, password: str = DEMO_PASSWORD
) -> dict[str, Any]:
    response = await http.post("/api/auth/login", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return response.json()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def user_count(factory: sessionmaker[Session]) -> int:
    with factory() as session:
        return org.page_accounts(session, actor=OPERATOR, limit=1, offset=0)[1]


# ---- secrets -------------------------------------------------------------------------------


@pytest.mark.parametrize("configured", ["", "change-me-to-a-long-random-secret", "short"])
def test_a_weak_published_or_missing_secret_stops_the_start_outside_the_demo(configured):
    with pytest.raises(WeakSecret, match="SERVFLOW_JWT_SECRET"):
        create_app(Settings(jwt_secret=configured), session_factory=object())  # type: ignore[arg-type]


def test_the_demo_generates_its_secret_under_var(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    create_app(Settings(jwt_secret="", demo=True), session_factory=object())  # type: ignore[arg-type]
    assert len((tmp_path / "var" / "jwt-secret").read_text()) >= 32


# ---- tokens --------------------------------------------------------------------------------


def forged(**claims: Any) -> str:
    now = time.time()
    body = {"sub": "1", "jti": uuid.uuid4().hex, "iat": now, "exp": int(now + 600), **claims}
    return jwt.encode({k: v for k, v in body.items() if v is not None}, JWT_SECRET, "HS256")


async def test_tokens_living_too_long_or_without_iat_or_with_absurd_sub_are_401(demo):
    async with serving(demo) as http:
        hq_admin = (await login(http, "hq_admin"))["user"]["id"]
        century = forged(sub=str(hq_admin), exp=int(time.time() + 100 * 365 * 86400))
        no_iat = forged(sub=str(hq_admin), iat=None)
        no_jti = forged(sub=str(hq_admin), jti=None)
        for token in (century, no_iat, no_jti, forged(sub="9" * 40), forged(sub="abc")):
            response = await http.get("/api/me", headers=bearer(token))
            assert response.status_code == 401, token
            assert response.json()["detail"] == "invalid or expired token (Authorization)"
        assert (
            await http.get("/api/me", headers=bearer(forged(sub=str(hq_admin))))
        ).status_code == 200


async def test_a_login_token_carries_jti_and_iat_within_the_max_lifetime(demo):
    async with serving(demo, jwt_ttl_minutes=10_000, jwt_max_ttl_minutes=60) as http:
        body = await login(http, "designer")
    claims = jwt.decode(body["access_token"], JWT_SECRET, ["HS256"])
    assert claims["jti"] and claims["exp"] - claims["iat"] <= 3600
    assert body["expires_in"] == 3600 and body["refresh_token"]


async def test_refresh_rotates_and_a_reused_refresh_token_signs_the_user_out(demo):
    async with serving(demo) as http:
        first = (await login(http, "designer"))["refresh_token"]
        second = await http.post("/api/auth/refresh", json={"refresh_token": first})
        assert second.status_code == 200
        pair = second.json()
        assert (await http.get("/api/me", headers=bearer(pair["access_token"]))).status_code == 200
        reused = await http.post("/api/auth/refresh", json={"refresh_token": first})
        assert reused.status_code == 401 and "used twice" in reused.json()["detail"]
        later = await http.post("/api/auth/refresh", json={"refresh_token": pair["refresh_token"]})
        assert later.status_code == 401


async def test_logout_ends_the_token_at_once_even_when_cached(demo):
    async with serving(demo, auth_cache_seconds=60) as http:
        body = await login(http, "designer")
        headers = bearer(body["access_token"])
        assert (await http.get("/api/me", headers=headers)).status_code == 200  # now cached
        out = await http.post(
            "/api/auth/logout", headers=headers, json={"refresh_token": body["refresh_token"]}
        )
        assert out.status_code == 204
        after = await http.get("/api/me", headers=headers)
        assert after.status_code == 401 and after.json()["detail"]
        refreshed = await http.post(
            "/api/auth/refresh", json={"refresh_token": body["refresh_token"]}
        )
        assert refreshed.status_code == 401


async def test_a_password_change_ends_earlier_tokens(demo):
    async with serving(demo, auth_cache_seconds=60) as http:
        old = bearer((await login(http, "engineer_bj_01"))["access_token"])
        assert (await http.get("/api/me", headers=old)).status_code == 200
        wrong = await http.post(
            "/api/me/password",
            headers=old,
            json={"old_password": "nope", "new_password": "a-new-long-password"},
        )
        assert wrong.status_code == 403 and wrong.json()["errors"] == {"old_password": "is wrong"}
        changed = await http.post(
            "/api/me/password",
            headers=old,
            json={"old_password": "demo1234", "new_password": "a-new-long-password"},
        )
        assert changed.status_code == 200
        assert (await http.get("/api/me", headers=old)).status_code == 401
        fresh = bearer(changed.json()["access_token"])
        assert (await http.get("/api/me", headers=fresh)).status_code == 200
        await login(http, "engineer_bj_01", "a-new-long-password")


# ---- demo credentials ----------------------------------------------------------------------


async def test_demo_credentials_are_refused_outside_the_demo(demo):
    async with serving(demo, demo=False) as http:
        response = await http.post(
            "/api/auth/login", json={"username": "hq_admin", "password": "demo1234"}
        )
        assert response.status_code == 401
        assert "demo credentials work only in the demo" in response.json()["detail"]
        keyed = await http.get("/api/me", headers={"X-API-Key": DEMO_KEY})
        assert keyed.status_code == 401 and "demo" in keyed.json()["detail"]


async def test_demo_sign_ins_are_marked_demo(demo):
    async with serving(demo) as http:
        me = await http.get(
            "/api/me", headers=bearer((await login(http, "hq_admin"))["access_token"])
        )
        assert me.json()["demo"] is True
        keyed = await http.get("/api/me", headers={"X-API-Key": DEMO_KEY})
        assert keyed.json()["demo"] is True


# ---- login limits --------------------------------------------------------------------------


async def test_login_attempts_are_limited_per_username_with_retry_after(demo):
    async with serving(demo, login_attempts_per_minute=3) as http:
        body = {"username": "hq_admin", "password": "wrong-password"}
        codes = [(await http.post("/api/auth/login", json=body)).status_code for _ in range(3)]
        assert codes == [401, 401, 401]
        limited = await http.post("/api/auth/login", json={**body, "password": "demo1234"})
        assert limited.status_code == 429
        assert int(limited.headers["Retry-After"]) >= 1
        assert "too many login attempts" in limited.json()["detail"]


async def test_login_attempts_are_limited_per_client_address(demo):
    async with serving(demo, login_attempts_per_minute=3) as http:
        for name in ("a", "b", "c"):
            body = {"username": name, "password": "wrong-password"}
            assert (await http.post("/api/auth/login", json=body)).status_code == 401
        other = {"username": "d", "password": "wrong-password"}
        assert (await http.post("/api/auth/login", json=other)).status_code == 429


async def test_successful_logins_do_not_use_up_the_limit(demo):
    async with serving(demo, login_attempts_per_minute=2) as http:
        for _ in range(4):
            await login(http, "designer")


# ---- accounts ------------------------------------------------------------------------------


async def test_an_hq_admin_creates_a_user_who_can_sign_in_outside_the_demo(demo):
    async with serving(demo) as http:
        admin = bearer((await login(http, "hq_admin"))["access_token"])
        created = await http.post(
            "/api/users",
            headers=admin,
            json={"username": "li.lei", "roles": ["dispatcher"], "org_unit": "bj-001"},
        )
        assert created.status_code == 201, created.text
        password = created.json()["password"]
        assert created.json()["user"]["scope_path"].endswith("/bj-001")
        listed = await http.get("/api/users?limit=500", headers=admin)
        assert "li.lei" in {u["username"] for u in listed.json()["data"]}
        assert "password" not in str(listed.json()["data"])
    async with serving(demo, demo=False) as http:
        me = await http.get(
            "/api/me", headers=bearer((await login(http, "li.lei", password))["access_token"])
        )
        assert me.json()["demo"] is False


async def test_a_region_manager_cannot_escalate(demo):
    async with serving(demo) as http:
        mgr = bearer((await login(http, "region_mgr_huabei"))["access_token"])
        before = user_count(demo)
        for body, field, status in (
            ({"username": "x1", "roles": ["hq_admin"], "org_unit": "bj-001"}, "roles", 403),
            ({"username": "x2", "roles": ["finance"], "org_unit": "bj-001"}, "roles", 403),
            # A unit outside their region is refused as if it did not exist.
            ({"username": "x3", "roles": ["engineer"], "org_unit": "huanan"}, "org_unit", 422),
        ):
            response = await http.post("/api/users", headers=mgr, json=body)
            assert response.status_code == status, body
            assert field in response.json()["errors"]
        own_id = (await http.get("/api/me", headers=mgr)).json()["id"]
        promote = await http.patch(
            f"/api/users/{own_id}", headers=mgr, json={"roles": ["hq_admin"]}
        )
        assert promote.status_code == 403
        admin_id = (await login(http, "hq_admin"))["user"]["id"]
        reset = await http.post(f"/api/users/{admin_id}/reset-password", headers=mgr)
        assert reset.status_code == 404 and reset.json()["detail"]
        assert user_count(demo) == before
        assert (await http.get("/api/me", headers=mgr)).json()["roles"] == ["region_manager"]


async def test_engineers_cannot_manage_accounts(demo):
    async with serving(demo) as http:
        eng = bearer((await login(http, "engineer_bj_01"))["access_token"])
        response = await http.get("/api/users", headers=eng)
        assert response.status_code == 403 and response.json()["detail"]


async def test_disabling_a_user_ends_their_cached_token(demo):
    async with serving(demo, auth_cache_seconds=60) as http:
        admin = bearer((await login(http, "hq_admin"))["access_token"])
        eng_body = await login(http, "engineer_bj_01")
        eng = bearer(eng_body["access_token"])
        assert (await http.get("/api/me", headers=eng)).status_code == 200
        off = await http.post(f"/api/users/{eng_body['user']['id']}/disable", headers=admin)
        assert off.status_code == 200 and off.json()["is_active"] is False
        assert (await http.get("/api/me", headers=eng)).status_code == 401
        on = await http.post(f"/api/users/{eng_body['user']['id']}/enable", headers=admin)
        assert on.json()["is_active"] is True
        assert (await http.get("/api/me", headers=eng)).status_code == 401  # log in again


async def test_api_keys_are_shown_once_and_revoked_at_once(demo):
    async with serving(demo, auth_cache_seconds=60) as http:
        admin = bearer((await login(http, "hq_admin"))["access_token"])
        client_id = (await http.get("/api/me", headers={"X-API-Key": DEMO_KEY})).json()["id"]
        created = await http.post(
            f"/api/users/{client_id}/api-keys", headers=admin, json={"name": "crm bridge"}
        )
        assert created.status_code == 201
        key, key_id = created.json()["key"], created.json()["api_key"]["id"]
        assert (await http.get("/api/me", headers={"X-API-Key": key})).status_code == 200
        listed = (await http.get(f"/api/users/{client_id}/api-keys", headers=admin)).json()
        assert key not in str(listed) and {k["name"] for k in listed["data"]} >= {"crm bridge"}
        revoked = await http.post(f"/api/api-keys/{key_id}/revoke", headers=admin)
        assert revoked.status_code == 200 and revoked.json()["revoked_at"]
        assert (await http.get("/api/me", headers={"X-API-Key": key})).status_code == 401
