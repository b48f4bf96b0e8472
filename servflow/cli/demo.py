"""`servflow load-demo`: the demo organisation, users, catalogue and example pipelines."""

from __future__ import annotations

from servflow.cli.common import EXAMPLES, progress_bar, say
from servflow.cli.definitions import publish_file
from servflow.cli.store import cmd_migrate, session_factory
from servflow.platform.settings import Settings


def cmd_load_demo(settings: Settings) -> int:
    from servflow.demo.loader import load_demo, login_lines

    cmd_migrate(settings)
    say("==> loading demo data")
    with session_factory(settings)() as session:
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
