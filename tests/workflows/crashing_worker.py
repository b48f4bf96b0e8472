"""The worker crash test's worker (tests/support/crashing_worker.py): with
--die-after-commit NAME it SIGKILLs itself the first time activity NAME has committed its
effect but before the result reaches Temporal: the worst moment for double-counting."""

from __future__ import annotations

from tests.support.crashing_worker import CrashPoint, run


def after_commit(name: str) -> tuple[str, CrashPoint]:
    """Activity `name` dies after its first call; the marker holds that step's key."""
    return name, lambda step: step.idempotency_key


if __name__ == "__main__":
    run(die_flag="--die-after-commit", crash=after_commit)
