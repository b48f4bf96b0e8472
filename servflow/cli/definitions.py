"""`servflow validate` and `servflow publish`: definition files checked and published by
the same use case as the designer's publish button (servflow.definitions.service)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from servflow.cli.common import say
from servflow.cli.store import cmd_migrate, session_factory
from servflow.platform.settings import Settings


def publish_file(session: Session, path: Path, *, user: str) -> tuple[str, int, bool]:
    """Validate and publish a definition file unless the same body is already the latest;
    commits.

    Returns:
        (key, version, whether a new version was published)

    Raises:
        SystemExit: the file is not valid JSON or the definition has problems.
    """
    from servflow.definitions import service
    from servflow.platform.errors import AppError

    raw = read_definition(path)
    key = str(raw.get("key", "")) if isinstance(raw, dict) else ""
    try:
        publication = service.publish(session, key=key, raw=raw, user=user, unless_unchanged=True)
    except AppError as exc:
        problems = exc.extra.get("problems")
        if problems is None:
            say(f"{path}: {exc.message}")
        else:
            print_problems(path, problems)
        raise SystemExit(1) from None
    session.commit()
    return publication.key, publication.version, publication.fresh


def read_definition(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        say(f"{path}: cannot read a JSON definition: {exc}")
        raise SystemExit(1) from None


def print_problems(path: Path, problems: list[dict[str, Any]]) -> None:
    say(f"{path}: {len(problems)} problem(s)")
    for problem in problems:
        say(f"  {problem['path']}  [{problem['code']}] {problem['message']}")
        message_zh = problem.get("message_zh")
        if message_zh and message_zh != problem["message"]:
            say(f"  {' ' * len(problem['path'])}  {message_zh}")


def cmd_validate(_settings: Settings, files: list[str]) -> int:
    from workflows.validate import validate_definition

    failed = 0
    for name in files:
        path = Path(name)
        report = validate_definition(read_definition(path))
        if report.ok:
            say(f"{path}: valid")
        else:
            failed += 1
            print_problems(path, [problem.model_dump() for problem in report.problems])
    return 1 if failed else 0


def cmd_publish(settings: Settings, files: list[str]) -> int:
    cmd_migrate(settings)
    with session_factory(settings)() as session:
        for name in files:
            key, version, fresh = publish_file(session, Path(name), user="cli")
            say(f"{key} v{version}" + (" published" if fresh else " is already the latest"))
    return 0
