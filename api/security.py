"""JWT access tokens for users (HS256) and the per-process limit on login attempts."""

from __future__ import annotations

import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt

ALGORITHM = "HS256"
# User ids are PostgreSQL integers: a larger `sub` is refused, not looked up.
MAX_USER_ID = 2_147_483_647
CLOCK_SKEW = 30.0  # seconds an `iat` may lie ahead of this replica's clock


@dataclass(frozen=True)
class AccessClaims:
    """What a valid access token says."""

    user_id: int
    jti: str
    issued_at: float  # epoch seconds, with microseconds (compared with a password change)
    expires_at: float
    demo: bool = False

    @property
    def expires(self) -> datetime:
        return datetime.fromtimestamp(self.expires_at, UTC)


def create_access_token(
    *, user_id: int, username: str, secret: str, ttl: timedelta, demo: bool = False
) -> str:
    """A signed token for the user, valid for `ttl`, with its own `jti` (so that it can be
    logged out alone) and `iat` to the microsecond (so that a password change ends it)."""
    now = time.time()
    claims: dict[str, Any] = {
        "sub": str(user_id),
        "username": username,
        "jti": secrets.token_hex(16),
        "iat": now,
        "exp": int(now + ttl.total_seconds()),
    }
    if demo:
        claims["demo"] = True
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def decode_access_token(token: str, *, secret: str, max_ttl: timedelta) -> AccessClaims | None:
    """The token's claims, or None when it is malformed, forged, expired, lives longer than
    `max_ttl` (a token minted with a leaked secret and a far `exp`), or names no plausible
    user."""
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            # `iat` is checked below, with leeway: replicas' clocks differ a little, and it
            # has microseconds, so a token minted on one could be "future" on another.
            options={"require": ["sub", "exp", "iat", "jti"], "verify_iat": False},
        )
    except jwt.PyJWTError:
        return None
    sub, jti = claims["sub"], claims["jti"]
    if not isinstance(sub, str) or not sub.isdigit() or len(sub) > 10:
        return None
    if not isinstance(jti, str) or not 0 < len(jti) <= 64:
        return None
    issued, expires = claims["iat"], float(claims["exp"])
    if not isinstance(issued, int | float) or issued > time.time() + CLOCK_SKEW:
        return None
    if expires - issued > max_ttl.total_seconds() or not 0 < int(sub) <= MAX_USER_ID:
        return None
    return AccessClaims(
        user_id=int(sub),
        jti=jti,
        issued_at=float(issued),
        expires_at=expires,
        demo=claims.get("demo") is True,
    )


class LoginLimiter:
    """A sliding window of login attempts per key (a username, a client address) in this
    process. A successful login gives its attempt back, so it counts failures in effect,
    while a burst of concurrent guesses is still counted before any of them is checked."""

    def __init__(self, *, per_minute: int, window: float = 60.0, limit: int = 100_000) -> None:
        self.per_minute, self.window, self.limit = per_minute, window, limit
        self._attempts: dict[str, deque[float]] = {}
        self._lock = threading.Lock()  # login runs on the thread pool

    def _recent(self, key: str, now: float) -> deque[float]:
        # Popped and put back, so the dict stays ordered by last use for eviction.
        attempts = self._attempts.pop(key, deque())
        while attempts and attempts[0] <= now - self.window:
            attempts.popleft()
        self._attempts[key] = attempts
        return attempts

    def attempt(self, keys: list[str]) -> float:
        """Records an attempt under every key; returns 0, or the seconds to wait when one
        of them is over the limit (the attempt is then not recorded)."""
        with self._lock:
            now = time.monotonic()
            windows = [self._recent(key, now) for key in keys]
            full = [w for w in windows if len(w) >= self.per_minute]
            if full:
                return max(w[0] + self.window - now for w in full)
            for attempts in windows:
                attempts.append(now)
            while len(self._attempts) > self.limit:
                del self._attempts[next(iter(self._attempts))]
            return 0.0

    def succeeded(self, keys: list[str]) -> None:
        """Gives back the latest attempt of each key (a login that worked)."""
        with self._lock:
            for key in keys:
                attempts = self._attempts.get(key)
                if attempts:
                    attempts.pop()
