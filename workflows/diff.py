"""What changed between two versions of a definition, node by node (pure; no I/O).

Nodes are matched by `id`. A changed node lists the settings that differ as dotted paths
(`params.radius_km`, `next`, `form`); lists are compared whole, so a reordered form shows
as `form`. Top-level settings of the definition itself (name, start, variables, ...) are
listed under `header`; `version` is ignored since it always differs.
"""

from __future__ import annotations

from typing import Any

_IGNORED_HEADER = frozenset({"nodes", "version"})


def _nodes(definition: dict[str, Any]) -> dict[str, dict[str, Any]]:
    nodes = definition.get("nodes")
    if not isinstance(nodes, list):
        return {}
    by_id: dict[str, dict[str, Any]] = {}
    for node in nodes:
        if isinstance(node, dict) and isinstance(node.get("id"), str):
            by_id.setdefault(node["id"], node)
    return by_id


def _changed_paths(a: Any, b: Any, prefix: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        paths: list[str] = []
        for key in sorted(set(a) | set(b), key=str):
            path = f"{prefix}.{key}" if prefix else str(key)
            if key not in a or key not in b:
                paths.append(path)
            else:
                paths.extend(_changed_paths(a[key], b[key], path))
        return paths
    return [] if a == b else [prefix]


def diff_definitions(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """The difference from definition `a` (base) to definition `b` (target).

    Args:
        a: the base definition as JSON (a published version or a draft); may be invalid.
        b: the target definition as JSON.

    Returns:
        `{"added": [node ids], "removed": [node ids], "changed": [{"node_id", "fields"}],
        "header": [top-level settings that differ]}`, node ids in the target's (for added
        and changed) or base's (for removed) order.
    """
    base, target = _nodes(a), _nodes(b)
    added = [node_id for node_id in target if node_id not in base]
    removed = [node_id for node_id in base if node_id not in target]
    changed = []
    for node_id, node in target.items():
        if node_id in base:
            fields = _changed_paths(base[node_id], node)
            if fields:
                changed.append({"node_id": node_id, "fields": fields})
    header_a = {k: v for k, v in a.items() if k not in _IGNORED_HEADER}
    header_b = {k: v for k, v in b.items() if k not in _IGNORED_HEADER}
    header = sorted({path.split(".")[0] for path in _changed_paths(header_a, header_b)})
    return {"added": added, "removed": removed, "changed": changed, "header": header}
