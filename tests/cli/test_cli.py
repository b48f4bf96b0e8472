"""The operator CLI: validate and publish definition files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from servflow.cli.main import ROOT, cmd_publish, cmd_validate
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
