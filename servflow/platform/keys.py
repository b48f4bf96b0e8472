"""Secrets every process needs (JWT signing, step proofs, payload encryption): configured,
checked for strength, or — in `make run`'s demo only — generated once under var/."""

from __future__ import annotations

import secrets
from pathlib import Path

VAR = Path("var")
MIN_LENGTH = 32
# Values that shipped in examples or compose files: anyone may know them.
KNOWN_WEAK = frozenset(
    {
        "change-me-to-a-long-random-secret",
        "change-me",
        "changeme",
        "secret",
        "servflow",
        "demo1234",
    }
)


class WeakSecret(ValueError):
    """A secret that must not be used: missing outside the demo, short, or published."""


def check_strength(value: str, *, setting: str) -> str:
    """`value` when it is long and not a published default; else WeakSecret naming the
    setting (SERVFLOW_<SETTING>)."""
    env = f"SERVFLOW_{setting.upper()}"
    if value.strip().lower() in KNOWN_WEAK:
        raise WeakSecret(f"{env} is a published default; set a long random value")
    if len(value) < MIN_LENGTH or len(set(value)) < 8:
        raise WeakSecret(f"{env} is too weak: use at least {MIN_LENGTH} random characters")
    return value


def secret(configured: str, *, setting: str, demo: bool, var: Path = VAR) -> str:
    """The configured secret (checked), or in the demo one generated once into
    var/<setting> and kept across restarts, shared by the processes of one machine.

    Raises:
        WeakSecret: weak or published, or missing outside the demo.
    """
    if configured:
        return check_strength(configured, setting=setting)
    if not demo:
        raise WeakSecret(
            f"SERVFLOW_{setting.upper()} is required (only `make run`'s demo generates one)"
        )
    path = var / setting.replace("_", "-")
    if path.exists() and path.read_text().strip():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(48)
    path.write_text(value)
    path.chmod(0o600)
    return value
