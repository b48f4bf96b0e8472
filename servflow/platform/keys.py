"""Secrets every process needs (JWT signing, step proofs, payload encryption): configured,
checked for strength, or — in `make run`'s demo only — generated once under var/."""

from __future__ import annotations

import base64
import binascii
import os
import secrets
from collections.abc import Callable
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
    return _generated(setting, demo=demo, var=var, make=lambda: secrets.token_urlsafe(48))


def binary_keys(
    configured: str, *, setting: str, demo: bool, size: int = 32, var: Path = VAR
) -> list[bytes]:
    """Binary keys (e.g. for AES-256): `configured` lists base64 values of `size` bytes,
    comma-separated, the current key first and older ones after it (kept so that data
    written under them can still be read). In the demo, when none is configured, one is
    generated once into var/<setting>.

    Raises:
        WeakSecret: missing outside the demo, not base64 of `size` bytes, or not random.
    """
    text = configured or _generated(
        setting,
        demo=demo,
        var=var,
        make=lambda: base64.b64encode(secrets.token_bytes(size)).decode(),
    )
    return [_binary_key(part, setting=setting, size=size) for part in text.split(",")]


def _binary_key(text: str, *, setting: str, size: int) -> bytes:
    env = f"SERVFLOW_{setting.upper()}"
    try:
        # secrets.token_urlsafe(32) is accepted too: URL-safe alphabet, padding dropped.
        standard = text.strip().replace("-", "+").replace("_", "/")
        key = base64.b64decode(standard + "=" * (-len(standard) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise WeakSecret(f"{env} must list base64 values (of {size} random bytes)") from None
    if len(key) != size:
        raise WeakSecret(f"{env}: each key must be {size} bytes, base64-encoded; one is {len(key)}")
    # 32 random bytes show about 30 distinct values; a key of few is typed, not generated.
    if len(set(key)) < size // 2:
        raise WeakSecret(f"{env} holds a key that is not random: generate it")
    return key


def _generated(setting: str, *, demo: bool, var: Path, make: Callable[[], str]) -> str:
    """The demo's value of `setting`: made once by `make`, kept in var/<setting> across
    restarts and shared by the processes of one machine. Outside the demo: WeakSecret."""
    if not demo:
        raise WeakSecret(
            f"SERVFLOW_{setting.upper()} is required (only `make run`'s demo generates one)"
        )
    path = var / setting.replace("_", "-")
    if path.exists():
        if kept := path.read_text().strip():
            return kept
        path.unlink()  # empty: left by a crash of an older version (links are never empty)
    path.parent.mkdir(parents=True, exist_ok=True)
    # `make run` starts the worker and the API at once: whichever links its file first wins,
    # and the other reads that value (a link appears whole, and never replaces a file).
    draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    # Created 0600: the key is never readable by others, not even for a moment.
    with os.fdopen(os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as out:
        out.write(make())
    try:
        os.link(draft, path)
    except FileExistsError:
        pass
    finally:
        draft.unlink()
    return path.read_text().strip()
