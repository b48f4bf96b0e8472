"""The transfer crash test's worker (tests/support/crashing_worker.py): with --die-after
ACTION it SIGKILLs itself the first time the transfer step ACTION has committed but before
its result reaches Temporal: the moment a movement could be doubled."""

from __future__ import annotations

from tests.support.crashing_worker import CrashPoint, run
from workflows import constants as c


def after_step(action: str) -> tuple[str, CrashPoint]:
    """The transfer activity dies after step `action`; the marker holds the transfer's code."""
    return c.ACTIVITY_INVENTORY_TRANSFER, lambda step: step.code if step.action == action else None


if __name__ == "__main__":
    run(die_flag="--die-after", crash=after_step, sticky=False)
