"""`./servflow COMMAND` (and `make run`): set up, load, run and drive servflow on one machine."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from pathlib import Path
from typing import Any

from servflow.platform.settings import Settings, get_settings

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
VAR = ROOT / "var"


def say(message: str) -> None:
    print(message, flush=True)


def progress_bar(stage: str, done: int, total: int) -> None:
    """One line per stage, redrawn in place on a terminal: long imports show how far they
    are. Piped output (logs, CI) gets the finished line only."""
    if done < total and not sys.stdout.isatty():
        return
    width = 30
    filled = width * done // total if total else width
    end = "\n" if done >= total else ""
    bar = f"[{'#' * filled}{'.' * (width - filled)}]"
    print(f"\r    {stage:<14} {bar} {done}/{total}", end=end, flush=True)


def _session_factory(settings: Settings) -> Any:
    from servflow.platform.db import make_engine, make_session_factory

    return make_session_factory(make_engine(settings.database_url))


def cmd_migrate(settings: Settings) -> int:
    from servflow.platform.migrate import upgrade

    if settings.database_url.startswith("sqlite:///"):
        Path(settings.database_url.removeprefix("sqlite:///")).parent.mkdir(
            parents=True, exist_ok=True
        )
    upgrade(settings.database_url)
    say(f"==> database migrated ({_safe_url(settings.database_url)})")
    return 0


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def cmd_load_demo(settings: Settings) -> int:
    from servflow.demo.loader import load_demo, login_lines

    cmd_migrate(settings)
    say("==> loading demo data")
    with _session_factory(settings)() as session:
        summary = load_demo(session, progress=progress_bar)
        session.commit()
        published = [
            publish_file(session, path, user="demo") for path in sorted(EXAMPLES.glob("*.json"))
        ]
    for key, version, fresh in published:
        say(f"    pipeline {key} v{version}" + (" published" if fresh else " (already published)"))
    for line in login_lines(summary):
        say(f"    {line}")
    return 0


def publish_file(session: Any, path: Path, *, user: str) -> tuple[str, int, bool]:
    """Validate and publish a definition file unless the same body is already the latest.

    Returns:
        (key, version, whether a new version was published)

    Raises:
        SystemExit: the file is not valid JSON or the definition has problems.
    """
    from servflow.definitions import repo
    from servflow.definitions.service import validate_raw

    raw = _read_definition(path)
    report = validate_raw(session, raw)
    if report.definition is None:
        _print_problems(path, report.problems)
        raise SystemExit(1)
    body = report.definition.model_dump(mode="json")
    key = report.definition.key
    latest = repo.get_version(session, key=key)
    if latest is not None and {**latest.body, "version": 0} == {**body, "version": 0}:
        return key, latest.version, False
    if repo.get_definition(session, key=key) is None:
        repo.save_draft(session, key=key, draft=raw, name=report.definition.name, user=user)
    version = repo.publish_version(session, key=key, body=body, user=user)
    session.commit()
    return key, version.version, True


def _read_definition(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        say(f"{path}: cannot read a JSON definition: {exc}")
        raise SystemExit(1) from None


def _print_problems(path: Path, problems: list[Any]) -> None:
    say(f"{path}: {len(problems)} problem(s)")
    for problem in problems:
        say(f"  {problem.path}  [{problem.code}] {problem.message}")
        if problem.message_zh and problem.message_zh != problem.message:
            say(f"  {' ' * len(problem.path)}  {problem.message_zh}")


def cmd_validate(_settings: Settings, files: list[str]) -> int:
    from workflows.validate import validate_definition

    failed = 0
    for name in files:
        path = Path(name)
        report = validate_definition(_read_definition(path))
        if report.ok:
            say(f"{path}: valid")
        else:
            failed += 1
            _print_problems(path, report.problems)
    return 1 if failed else 0


def cmd_publish(settings: Settings, files: list[str]) -> int:
    cmd_migrate(settings)
    with _session_factory(settings)() as session:
        for name in files:
            key, version, fresh = publish_file(session, Path(name), user="cli")
            say(f"{key} v{version}" + (" published" if fresh else " is already the latest"))
    return 0


def cmd_start_order(settings: Settings, args: argparse.Namespace) -> int:
    from servflow.cli.orders import start_from_cli

    return asyncio.run(start_from_cli(settings, args))


def cmd_worker(_settings: Settings) -> int:
    import worker

    worker.main()
    return 0


def cmd_run(settings: Settings) -> int:
    from servflow.cli.platform import run_platform

    return run_platform(settings)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="servflow", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="the whole platform with demo data (what `make run` does)")
    sub.add_parser("migrate", help="create or upgrade the database schema")
    sub.add_parser("load-demo", help="migrate, load demo data and publish examples/*.json")
    validate = sub.add_parser("validate", help="check definition files; lists every problem")
    validate.add_argument("files", nargs="+")
    publish = sub.add_parser("publish", help="validate and publish definition files")
    publish.add_argument("files", nargs="+")
    start = sub.add_parser("start-order", help="start a work order on a published pipeline")
    start.add_argument("--definition", default="ac-repair")
    start.add_argument("--version", type=int, default=None)
    start.add_argument("--customer-phone", default="13800010001", help="a demo customer")
    start.add_argument("--region", default="华北")
    start.add_argument("--var", action="append", default=[], help="NAME=VALUE order variable")
    sub.add_parser("worker", help="run a worker (settings from SERVFLOW_* variables)")
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    settings = get_settings()
    if args.command == "run":
        return cmd_run(settings)
    if args.command == "migrate":
        return cmd_migrate(settings)
    if args.command == "load-demo":
        return cmd_load_demo(settings)
    if args.command == "validate":
        return cmd_validate(settings, args.files)
    if args.command == "publish":
        return cmd_publish(settings, args.files)
    if args.command == "start-order":
        return cmd_start_order(settings, args)
    return cmd_worker(settings)


if __name__ == "__main__":
    sys.exit(main())
