"""Property-based checks of the validator on random graphs (hypothesis)."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from workflows.validate import validate_definition


@st.composite
def random_pipelines(draw: st.DrawFn) -> dict[str, Any]:
    """Graphs of tasks, decisions and ends with random edges (valid or not)."""
    size = draw(st.integers(min_value=1, max_value=12))
    ids = [f"n{i}" for i in range(size)]
    nodes: list[dict[str, Any]] = []
    for node_id in ids:
        kind = draw(st.sampled_from(["task", "task", "decision", "end"]))
        target = st.sampled_from(ids)
        if kind == "task":
            nodes.append({"id": node_id, "type": "task", "next": draw(target)})
        elif kind == "decision":
            branches = draw(st.lists(target, min_size=1, max_size=3))
            nodes.append(
                {
                    "id": node_id,
                    "type": "decision",
                    "branches": [{"when": "true", "next": b} for b in branches],
                    "default": draw(target),
                }
            )
        else:
            nodes.append({"id": node_id, "type": "end"})
    return {"key": "random", "name": "random", "start": "n0", "nodes": nodes}


def _edges(raw: dict[str, Any]) -> dict[str, list[str]]:
    edges: dict[str, list[str]] = {}
    for node in raw["nodes"]:
        targets = [node["next"]] if "next" in node else []
        targets += [b["next"] for b in node.get("branches", [])]
        targets += [node["default"]] if node.get("default") else []
        edges[node["id"]] = targets
    return edges


def _closure(starts: list[str], edges: dict[str, list[str]]) -> set[str]:
    seen, todo = set(), list(starts)
    while todo:
        current = todo.pop()
        if current not in seen:
            seen.add(current)
            todo.extend(edges.get(current, []))
    return seen


@settings(max_examples=300, deadline=None)
@given(random_pipelines())
def test_valid_exactly_when_every_node_is_reachable_and_can_finish(raw: dict[str, Any]) -> None:
    edges = _edges(raw)
    reverse: dict[str, list[str]] = {n: [] for n in edges}
    for source, targets in edges.items():
        for target in targets:
            reverse[target].append(source)
    ends = [n["id"] for n in raw["nodes"] if n["type"] == "end"]
    reachable = _closure(["n0"], edges)
    finishing = _closure(ends, reverse)
    expected_ok = bool(ends) and reachable == set(edges) and finishing == set(edges)
    report = validate_definition(raw)
    assert report.ok == expected_ok, [p.message for p in report.problems]
    for problem in report.problems:
        assert problem.node_id is None or problem.node_id in edges
        assert problem.path.startswith("$")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(
    st.fixed_dictionaries(
        {},
        optional={
            "key": json_values,
            "name": json_values,
            "start": json_values,
            "nodes": st.lists(
                st.fixed_dictionaries(
                    {},
                    optional={
                        "id": st.sampled_from(["a", "b", "end"]) | json_values,
                        "type": st.sampled_from(
                            ["task", "decision", "parallel", "join", "end", "timer"]
                        )
                        | json_values,
                        "next": st.sampled_from(["a", "b", "end"]) | json_values,
                        "branches": json_values,
                        "params": json_values,
                        "form": json_values,
                        "sla": json_values,
                    },
                ),
                max_size=5,
            )
            | json_values,
        },
    )
)
def test_any_json_gets_problems_not_an_exception(raw: dict[str, Any]) -> None:
    report = validate_definition(raw)
    assert report.ok == (report.definition is not None)
