"""What every command shares: where things are, and how the CLI talks to the operator."""

from __future__ import annotations

import sys
from pathlib import Path

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
