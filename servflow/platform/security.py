"""Password and API-key hashing."""

from __future__ import annotations

import hashlib
import secrets

import bcrypt

API_KEY_PREFIX = "sfk_"


def hash_password(password: str, *, rounds: int = 12) -> str:
    """A bcrypt hash of `password` (passwords over 72 bytes are refused by bcrypt)."""
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=rounds)).decode()


def verify_password(password: str, password_hash: str) -> bool:
    try:
        return bcrypt.checkpw(password.encode(), password_hash.encode())
    except ValueError:
        return False


def new_api_key() -> str:
    """A fresh random API key; show it once, store only `hash_api_key(key)`."""
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


def hash_api_key(key: str) -> str:
    """SHA-256 hex of a key: keys are long random tokens, so a slow hash adds nothing."""
    return hashlib.sha256(key.encode()).hexdigest()
