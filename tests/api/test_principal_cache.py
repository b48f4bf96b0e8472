"""The short-lived cache of who a credential belongs to."""

from __future__ import annotations

import time

from api.deps import Principal, PrincipalCache


def principal(name: str) -> Principal:
    return Principal(id=1, username=name, display_name=name, roles=("engineer",), scope_path="/hq")


def test_a_cached_principal_expires() -> None:
    cache = PrincipalCache(seconds=0.05)
    cache.put("user:1", principal("engineer_bj_01"))
    assert cache.get("user:1") == principal("engineer_bj_01")
    time.sleep(0.06)
    assert cache.get("user:1") is None


def test_zero_seconds_turns_the_cache_off() -> None:
    cache = PrincipalCache(seconds=0)
    cache.put("user:1", principal("engineer_bj_01"))
    assert cache.get("user:1") is None


def test_the_cache_is_bounded() -> None:
    cache = PrincipalCache(seconds=60, limit=2)
    for i in range(3):
        cache.put(f"user:{i}", principal(f"u{i}"))
    assert cache.get("user:2") is not None
    assert cache.get("user:0") is None


def test_a_principal_is_kept_no_longer_than_its_credential_is_valid() -> None:
    cache = PrincipalCache(seconds=60)
    cache.put("jwt:a", principal("engineer_bj_01"), at_most=0.05)
    cache.put("jwt:expired", principal("engineer_bj_02"), at_most=-1)
    assert cache.get("jwt:a") is not None and cache.get("jwt:expired") is None
    time.sleep(0.06)
    assert cache.get("jwt:a") is None
