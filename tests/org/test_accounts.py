"""Accounts and sign-in at the service level: who may manage whom, secrets shown once,
tokens that end, and the demo's published credentials outside the demo."""

from __future__ import annotations

from unittest.mock import patch

import pytest

from servflow.demo import loader
from servflow.org import rules
from servflow.org import service as org
from servflow.platform.errors import Conflict, Forbidden, Invalid, NotFound, Unauthorized
from servflow.platform.security import hash_password, verify_password

STRONG = "a-long-enough-password-1"


@pytest.fixture(autouse=True)
def quick_bcrypt(monkeypatch):
    monkeypatch.setattr(org, "hash_password", lambda p: hash_password(p, rounds=4))


@pytest.fixture
def people(session, tree):
    admin = org.create_user(
        session, username="admin", password=STRONG, roles=["hq_admin"], org_unit=tree["hq"]
    )
    mgr = org.create_user(
        session, username="mgr", password=STRONG, roles=["region_manager"], org_unit=tree["huabei"]
    )
    eng = org.create_user(
        session, username="eng", password=STRONG, roles=["engineer"], org_unit=tree["outlet"]
    )
    other = org.create_user(
        session, username="other", password=STRONG, roles=["engineer"], org_unit=tree["hua"]
    )
    fin = org.create_user(
        session, username="fin", password=STRONG, roles=["finance"], org_unit=tree["huabei"]
    )
    session.commit()
    return {u.username: (u, org.principal_of(u)) for u in (admin, mgr, eng, other, fin)}


def test_the_demo_credentials_here_are_the_loaders():
    assert rules.DEMO_PASSWORD == loader.DEMO_PASSWORD
    assert rules.DEMO_API_KEY == loader.DEMO_API_KEY


def test_the_demo_password_is_refused_outside_the_demo(session, tree):
    org.create_user(
        session,
        username="demo_user",
        password=rules.DEMO_PASSWORD,
        roles=["engineer"],
        org_unit=tree["outlet"],
    )
    session.commit()
    with pytest.raises(Unauthorized, match="demo credentials work only in the demo"):
        org.login(session, username="demo_user", password=rules.DEMO_PASSWORD, demo=False)
    user = org.login(session, username="demo_user", password=rules.DEMO_PASSWORD, demo=True)
    assert user.username == "demo_user"


def test_the_demo_api_key_is_refused_outside_the_demo(session, tree):
    client = org.create_user(
        session, username="crm", password_hash="x", roles=["api_client"], org_unit=tree["hq"]
    )
    org.create_api_key(session, user=client, key=rules.DEMO_API_KEY)
    session.commit()
    with pytest.raises(Unauthorized, match="demo API key is refused"):
        org.api_key_user(session, key=rules.DEMO_API_KEY, demo=False)
    assert org.api_key_user(session, key=rules.DEMO_API_KEY, demo=True).username == "crm"


def test_unknown_and_disabled_users_cost_a_bcrypt_check_too(session, people):
    org.set_account_active(
        session, actor=people["admin"][1], user_id=people["eng"][0].id, active=False
    )
    checked: list[str] = []

    def spy(password: str, password_hash: str) -> bool:
        checked.append(password_hash)
        return verify_password(password, password_hash)

    with patch.object(org, "verify_password", spy):
        for name in ("ghost", "eng", "mgr"):
            assert org.authenticate(session, username=name, password="wrong-password") is None
    assert checked == [org.DUMMY_HASH, org.DUMMY_HASH, people["mgr"][0].password_hash]
    assert org.DUMMY_HASH.startswith("$2b$12$")


def test_a_created_user_gets_a_generated_password_shown_once(session, people):
    user, password = org.add_account(
        session,
        actor=people["admin"][1],
        username="new",
        roles=["dispatcher"],
        org_unit="bj-branch",
    )
    assert len(password) >= rules.MIN_PASSWORD and password not in user.password_hash
    assert org.authenticate(session, username="new", password=password) is not None


def test_weak_or_published_passwords_are_refused(session, people):
    for weak in ("short", rules.DEMO_PASSWORD, "change-me-to-a-long-random-secret"):
        with pytest.raises(Invalid) as refused:
            org.add_account(
                session,
                actor=people["admin"][1],
                username="w",
                roles=["engineer"],
                org_unit="hq",
                password=weak,
            )
        assert "password" in refused.value.extra["errors"]
    assert org.get_user_by_username(session, username="w") is None


def test_a_region_manager_cannot_grant_roles_beyond_their_own(session, people):
    mgr = people["mgr"][1]
    for role in ("hq_admin", "finance", "designer"):
        with pytest.raises(Forbidden, match=role):
            org.add_account(
                session, actor=mgr, username="x", roles=["engineer", role], org_unit="bj-branch"
            )
        with pytest.raises(Forbidden, match=role):
            org.update_account(session, actor=mgr, user_id=people["eng"][0].id, roles=[role])
    assert org.get_user_by_username(session, username="x") is None
    assert people["eng"][0].roles == ["engineer"]


def test_a_region_manager_cannot_place_a_user_outside_their_region(session, people):
    mgr = people["mgr"][1]
    # A unit outside their region is refused as if it did not exist.
    with pytest.raises(Invalid, match="no org unit 'hua'"):
        org.add_account(session, actor=mgr, username="x", roles=["engineer"], org_unit="hua")
    with pytest.raises(Invalid, match="no org unit 'hq'"):
        org.update_account(session, actor=mgr, user_id=people["eng"][0].id, org_unit="hq")
    assert people["eng"][0].org_unit.code == "bj-001"


def test_a_region_manager_manages_only_lower_users_of_their_region(session, people):
    mgr = people["mgr"][1]
    users, count = org.page_accounts(session, actor=mgr, limit=50, offset=0)
    assert {u.username for u in users} == {"mgr", "eng", "fin"} and count == 3
    with pytest.raises(NotFound):
        org.reset_password(session, actor=mgr, user_id=people["other"][0].id)
    with pytest.raises(Forbidden, match="finance"):  # taking over a finance account
        org.reset_password(session, actor=mgr, user_id=people["fin"][0].id)
    with pytest.raises(NotFound):
        org.set_account_active(session, actor=mgr, user_id=people["admin"][0].id, active=False)
    _user, password = org.reset_password(session, actor=mgr, user_id=people["eng"][0].id)
    assert org.authenticate(session, username="eng", password=password) is not None


def test_others_may_not_manage_accounts(session, people):
    with pytest.raises(Forbidden):
        org.page_accounts(session, actor=people["eng"][1], limit=10, offset=0)


def test_nobody_disables_themselves(session, people):
    with pytest.raises(Conflict):
        org.set_account_active(
            session, actor=people["admin"][1], user_id=people["admin"][0].id, active=False
        )


def test_changing_a_password_needs_the_old_one_and_marks_the_change(session, people):
    eng = people["eng"][0]
    with pytest.raises(Forbidden, match="old_password"):
        org.change_own_password(
            session, user_id=eng.id, old_password="nope", new_password="another-long-password"
        )
    assert eng.password_changed_at is None
    org.change_own_password(
        session, user_id=eng.id, old_password=STRONG, new_password="another-long-password"
    )
    assert eng.password_changed_at is not None
    assert org.authenticate(session, username="eng", password="another-long-password")


def test_a_refresh_token_works_once_and_its_reuse_signs_the_user_out(session, people):
    eng = people["eng"][0]
    first = org.issue_refresh_token(session, user_id=eng.id)
    other = org.issue_refresh_token(session, user_id=eng.id)
    rotated = org.rotate_refresh_token(session, token=first)
    assert rotated.user is eng and rotated.token and rotated.token != first
    reused = org.rotate_refresh_token(session, token=first)
    assert reused.user is None and "used twice" in reused.reason
    for token in (rotated.token, other):
        assert org.rotate_refresh_token(session, token=token).user is None


def test_a_password_reset_revokes_refresh_tokens(session, people):
    token = org.issue_refresh_token(session, user_id=people["eng"][0].id)
    org.reset_password(session, actor=people["admin"][1], user_id=people["eng"][0].id)
    assert org.rotate_refresh_token(session, token=token).user is None


def test_api_keys_are_for_api_clients_and_revocable(session, people):
    admin = people["admin"][1]
    with pytest.raises(Invalid, match="api_client"):
        org.add_api_key(session, actor=admin, user_id=people["eng"][0].id)
    client, _ = org.add_account(
        session, actor=admin, username="crm", roles=["api_client"], org_unit="hq"
    )
    row, key = org.add_api_key(session, actor=admin, user_id=client.id, name="crm")
    assert key.startswith("sfk_") and row.prefix == key[:12]
    assert org.api_key_user(session, key=key, demo=False).username == "crm"
    org.revoke_api_key(session, actor=admin, key_id=row.id)
    with pytest.raises(Unauthorized):
        org.api_key_user(session, key=key, demo=False)
    assert [
        k.revoked_at is not None for k in org.api_keys_of(session, actor=admin, user_id=client.id)
    ] == [True]
