"""`servflow user ...` and `servflow apikey ...` on a fresh database, and `make run`'s
children running the demo."""

from __future__ import annotations

import re

import pytest

from servflow.cli.accounts import cmd_accounts
from servflow.cli.main import build_parser
from servflow.cli.platform import demo_env
from servflow.cli.store import cmd_migrate, session_factory
from servflow.org import service as org
from servflow.platform.security import hash_password
from servflow.platform.settings import Settings


@pytest.fixture
def settings(tmp_path, monkeypatch) -> Settings:
    monkeypatch.setattr(org, "hash_password", lambda p: hash_password(p, rounds=4))
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'accounts.db'}")
    cmd_migrate(settings)
    with session_factory(settings)() as session:
        org.create_unit(session, kind="hq", code="hq", name="总部")
        session.commit()
    return settings


def run(settings: Settings, capsys, *argv: str) -> tuple[int, str]:
    code = cmd_accounts(settings, build_parser().parse_args(list(argv)))
    return code, capsys.readouterr().out


def test_make_run_children_run_the_demo_and_nothing_else_does() -> None:
    assert Settings.model_validate({"demo": demo_env(Settings())["SERVFLOW_DEMO"]}).demo is True
    assert Settings().demo is False


def test_user_create_prints_a_password_once_that_signs_in(settings, capsys) -> None:
    code, out = run(settings, capsys, "user", "create", "ops", "--role", "hq_admin", "--unit", "hq")
    assert code == 0
    password = re.search(r"shown once: (\S+)", out).group(1)  # type: ignore[union-attr]
    with session_factory(settings)() as session:
        assert org.login(session, username="ops", password=password, demo=False).username == "ops"
    code, out = run(settings, capsys, "user", "list")
    assert "ops" in out and password not in out


def test_reset_password_and_disable(settings, capsys) -> None:
    run(settings, capsys, "user", "create", "eng", "--role", "engineer", "--unit", "hq")
    code, out = run(settings, capsys, "user", "reset-password", "eng")
    password = out.rsplit(" ", 1)[1].strip()
    assert code == 0
    assert run(settings, capsys, "user", "disable", "eng")[0] == 0
    with session_factory(settings)() as session:
        assert org.authenticate(session, username="eng", password=password) is None
    run(settings, capsys, "user", "enable", "eng")
    with session_factory(settings)() as session:
        assert org.authenticate(session, username="eng", password=password) is not None


def test_refusals_are_one_line_and_exit_1(settings, capsys) -> None:
    code, out = run(settings, capsys, "user", "create", "x", "--role", "wizard", "--unit", "hq")
    assert code == 1 and out.startswith("refused: roles: unknown roles: wizard")
    code, out = run(settings, capsys, "user", "disable", "ghost")
    assert code == 1 and "no user 'ghost'" in out


def test_apikey_create_list_revoke(settings, capsys) -> None:
    run(settings, capsys, "user", "create", "crm", "--role", "api_client", "--unit", "hq")
    code, out = run(settings, capsys, "apikey", "create", "crm", "--name", "bridge")
    key = out.rsplit(" ", 1)[1].strip()
    key_id = re.search(r"API key (\d+)", out).group(1)  # type: ignore[union-attr]
    assert code == 0 and key.startswith("sfk_")
    with session_factory(settings)() as session:
        assert org.api_key_user(session, key=key, demo=False).username == "crm"
    listed = run(settings, capsys, "apikey", "list", "crm")[1]
    assert "bridge" in listed and key not in listed and "live" in listed
    assert run(settings, capsys, "apikey", "revoke", key_id)[0] == 0
    assert "revoked" in run(settings, capsys, "apikey", "list", "crm")[1]
    with session_factory(settings)() as session, pytest.raises(Exception, match="revoked"):
        org.api_key_user(session, key=key, demo=False)
