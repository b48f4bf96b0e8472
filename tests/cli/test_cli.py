"""The operator CLI: validate and publish definition files; what `run` gives its children."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from servflow.cli.common import ROOT
from servflow.cli.definitions import cmd_publish, cmd_validate
from servflow.cli.main import build_parser
from servflow.cli.platform import child_env
from servflow.platform.settings import Settings

AC_REPAIR = ROOT / "examples" / "ac-repair.json"


def test_validate_lists_every_problem_with_its_node(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = json.loads(AC_REPAIR.read_text())
    raw["nodes"][0]["next"] = "nowhere"
    raw["nodes"][4]["branches"][0]["when"] = "service.parts_neded"
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(raw, ensure_ascii=False))
    assert cmd_validate(Settings(), [str(AC_REPAIR), str(broken)]) == 1
    out = capsys.readouterr().out
    assert f"{AC_REPAIR}: valid" in out
    assert "$.nodes[0].next  [dangling_next] node 'report' points to 'nowhere'" in out
    assert "parts_neded" in out and "节点「parts」" in out


def test_validate_refuses_a_file_that_is_not_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{nodes: ")
    with pytest.raises(SystemExit):
        cmd_validate(Settings(), [str(bad)])
    assert "cannot read a JSON definition" in capsys.readouterr().out


def test_publish_makes_a_version_once_per_change(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'cli.db'}")
    assert cmd_publish(settings, [str(AC_REPAIR)]) == 0
    assert cmd_publish(settings, [str(AC_REPAIR)]) == 0
    changed = json.loads(AC_REPAIR.read_text())
    changed["name"] = "空调维修（新版）"
    path = tmp_path / "ac-repair-v2.json"
    path.write_text(json.dumps(changed, ensure_ascii=False))
    assert cmd_publish(settings, [str(path)]) == 0
    out = capsys.readouterr().out
    assert "ac-repair v1 published" in out
    assert "ac-repair v1 is already the latest" in out
    assert "ac-repair v2 published" in out


def test_publish_refuses_a_definition_with_problems(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = json.loads(AC_REPAIR.read_text())
    raw["nodes"][0]["next"] = "nowhere"
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(raw, ensure_ascii=False))
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'cli.db'}")
    with pytest.raises(SystemExit):
        cmd_publish(settings, [str(broken)])
    assert "[dangling_next] node 'report' points to 'nowhere'" in capsys.readouterr().out


def test_children_get_every_setting_the_cli_resolved() -> None:
    settings = Settings(temporal_address="127.0.0.1:7299", database_url="sqlite:///x/y.db")
    env = child_env(settings)
    assert env["SERVFLOW_TEMPORAL_ADDRESS"] == "127.0.0.1:7299"
    assert env["SERVFLOW_DATABASE_URL"] == "sqlite:///x/y.db"
    assert {f"SERVFLOW_{name.upper()}" for name in Settings.model_fields} <= set(env)


def test_the_cli_imports_neither_the_app_nor_the_worker() -> None:
    for path in (ROOT / "servflow" / "cli").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            tops = {name.split(".")[0] for name in names}
            assert not tops & {"api", "activities", "worker"}, f"{path.name} imports {tops}"


def test_the_installed_command_answers_help() -> None:
    """One real process: the console entry point starts and lists its commands."""
    done = subprocess.run(
        [sys.executable, "-m", "servflow.cli", "--help"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    for command in ("run", "migrate", "load-demo", "worker", "ledger", "reporting"):
        assert command in done.stdout


@pytest.mark.parametrize(
    "command",
    [
        "run",
        "migrate",
        "load-demo",
        "validate",
        "publish",
        "start-order",
        "worker",
        "user",
        "apikey",
        "reconcile",
        "ledger",
        "reporting",
    ],
)
def test_every_command_answers_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    # In process: the parser is what answers --help (a process per command cost ~2.5 s each).
    with pytest.raises(SystemExit) as done:
        build_parser().parse_args([command, "--help"])
    assert done.value.code == 0
    assert f"servflow {command}" in capsys.readouterr().out
