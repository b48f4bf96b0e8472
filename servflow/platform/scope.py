"""Org scope: the one rule for "at or under a unit", in Python and in SQL.

Every org unit has a path ("/hq/huabei/bj-branch/bj-001"), so a scope is a path prefix.
Codes may contain `_`, which LIKE reads as a wildcard: the SQL form escapes it, so that
`/hq/bj_branch` never matches `/hq/bj-branch/...`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, false, or_


def in_scope(path: str, scope_path: str) -> bool:
    """True when the unit at `path` lies at or under the unit at `scope_path`."""
    if not scope_path:
        return False
    prefix = scope_path.rstrip("/")
    return path == prefix or path.startswith(prefix + "/")


def under(column: Any, scope_path: str) -> ColumnElement[bool]:
    """SQL: `column` is `scope_path` or a path below it (LIKE wildcards escaped); nothing
    when the scope is empty, as `in_scope` says."""
    prefix = scope_path.rstrip("/")
    if not prefix:
        return false()
    return or_(column == prefix, column.startswith(prefix + "/", autoescape=True))


def region_path(path: str) -> str:
    """The path of the region at or above `path` ("/hq/huabei/..." → "/hq/huabei");
    HQ's own path (or an empty one) is returned as it is."""
    parts = path.strip("/").split("/")
    return "/" + "/".join(parts[:2]) if len(parts) >= 2 else path


def region_code(path: str) -> str:
    """The code of the region at or above `path`, or "" above region level."""
    parts = path.strip("/").split("/")
    return parts[1] if len(parts) >= 2 else ""
