from datetime import UTC, datetime

import pytest

from servflow.org import service as org
from servflow.org import service as users
from servflow.platform.scope import in_scope


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
