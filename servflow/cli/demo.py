"""`servflow load-demo`: the demo organisation, users, catalogue and example pipelines; and
`make run`'s demo history (servflow.demo.history: orders of the last 90 days), written in
the background."""

from __future__ import annotations

import subprocess
import sys

from servflow.cli.common import EXAMPLES, VAR, progress_bar, say
from servflow.cli.definitions import publish_file
from servflow.cli.processes import start_child
from servflow.cli.store import cmd_migrate, session_factory
from servflow.platform.settings import Settings

HISTORY_LOG = VAR / "demo-history.log"


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


def start_history(env: dict[str, str]) -> subprocess.Popen[bytes]:
    """Writes the demo history in a child process (`python -m servflow.demo.history`), its
    progress in var/demo-history.log: a few minutes the first time, while the platform
    serves; a second run finds it written and adds nothing."""
    VAR.mkdir(exist_ok=True)
    with HISTORY_LOG.open("ab") as log:
        return start_child([sys.executable, "-m", "servflow.demo.history"], env=env, stdout=log)
