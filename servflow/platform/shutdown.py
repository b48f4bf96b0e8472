"""Leaving a process that ran Temporal SDK threads."""

from __future__ import annotations

import os
import sys


def exit_now(code: int = 0) -> None:
    """Exit without Python finalization, after everything was shut down in order.

    SDK threads still alive while the interpreter finalizes have crashed processes here
    (segfault in PyGILState_Release); skipping finalization avoids that race.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
