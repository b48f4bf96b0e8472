"""Every rule a definition must meet. Returns all problems at once, each naming its node.

The checks run in three passes: each node on its own (its model and its `problems()`),
then the graph (references, reachability, ends, loops, forks and joins), then the
expressions against the variables the definition can have at run time.
"""

from __future__ import annotations

import re
from collections import defaultdict, deque
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from workflows.contracts import MANAGING_ROLES
from workflows.definition import Definition, NodeTemplate, resolve_templates
from workflows.expressions import CONSTANTS, Expression, ExpressionError, compile_expression
from workflows.forms import compile_pattern
from workflows.messages import zh
from workflows.nodes import NODE_TYPES, BaseNode
from workflows.nodes.automatic import SettlementNode
from workflows.nodes.flow import EndNode, JoinNode, ParallelNode, SubpipelineNode

ORDER_FIELDS = ("order_id", "region", "outlet", "priority", "customer")
# Bounds of a definition, checked before anything expensive (template merging, models,
# graph, expressions). The largest real pipelines have a few dozen nodes and a few
# thousand values; these leave ample room while keeping validation and every snapshot
# sent with an order small.
MAX_NODES = 500
MAX_VALUES = 100_000
"""JSON values in all: every object member, list item and scalar."""
MAX_DEPTH = 32
MAX_TEXT = 1_000_000
"""Characters of all strings (keys included) together."""
_NODE_PATH = re.compile(r"^\$\.nodes\[(\d+)\]")
MAX_TEXT_PROBLEMS = 20
"""Unpaired surrogates reported, at most; one is enough to fix the source of them."""


class Problem(BaseModel):
    """One thing wrong with a definition, phrased for the designer who drew it."""

    code: str
    message: str
    message_zh: str = ""
    node_id: str | None = None
    path: str = Field(description="JSON path into the definition, e.g. $.nodes[2].next")
    severity: Literal["error", "warning"] = Field(
        default="error", description="an error stops publishing; a warning only informs"
    )


class ValidationReport(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)

    problems: list[Problem]
    """Errors and warnings together, in the order found."""
    definition: Definition | None = None
    """The resolved definition, when nothing but warnings was found."""

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def ok(self) -> bool:
        """True when the definition may be published (warnings allowed)."""
        return not self.errors


class _Header(Definition):
    nodes: list[Any] = Field(min_length=1)  # type: ignore[assignment]


def _loc_to_path(base: str, loc: Iterable[int | str]) -> str:
    path = base
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def _pydantic_message(error: Mapping[str, Any]) -> str:
    message = str(error["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    if error["type"] == "extra_forbidden":
        return "is not a setting of this node" if error["loc"] else "is not allowed here"
    return message


class _Collector:
    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def add(
        self,
        code: str,
        path: str,
        message: str,
        node_id: str | None = None,
        *,
        warning: bool = False,
        **fmt: Any,
    ) -> None:
        self.problems.append(
            Problem(
                code=code,
                message=message,
                message_zh=zh(code, node=node_id or "", **fmt) or message,
                node_id=node_id,
                path=path,
                severity="warning" if warning else "error",
            )
        )


def _printable(text: str) -> str:
    """`text` safe to put into a JSON answer: unpaired surrogates shown as escapes."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _has_surrogate(text: str) -> bool:
    if text.isascii():
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _walk_json(raw: Any, out: _Collector) -> tuple[int, int]:
    """Count the values and characters of `raw`, without recursion, stopping at a bound.

    A container's members are counted before they are queued, so a list of ten million
    items stops the walk at once. Strings (and keys) holding an unpaired surrogate such as
    "\\ud800" are reported: no JSON answer, database or Temporal payload can carry them.
    """
    values, chars = 1, 0
    stack: list[tuple[Any, str, int]] = [(raw, "$", 1)]
    while stack:
        value, path, depth = stack.pop()
        if isinstance(value, str):
            chars += len(value)
            if _has_surrogate(value):
                _bad_text(path, out)
        elif isinstance(value, dict | list):
            values += len(value)
            if values > MAX_VALUES or chars > MAX_TEXT:
                break
            if depth >= MAX_DEPTH:
                message = f"{path} nests deeper than {MAX_DEPTH} levels"
                out.add("definition_too_large", path, message, detail=f"嵌套超过 {MAX_DEPTH} 层")
                break
            stack.extend(reversed(_members(value, path, depth + 1, out)))
            chars += (
                sum(len(k) for k in value if isinstance(k, str)) if isinstance(value, dict) else 0
            )
    return values, chars


def _members(
    value: dict[Any, Any] | list[Any], path: str, depth: int, out: _Collector
) -> list[tuple[Any, str, int]]:
    if isinstance(value, list):
        return [(v, f"{path}[{i}]", depth) for i, v in enumerate(value)]
    for key in value:
        if isinstance(key, str) and _has_surrogate(key):
            _bad_text(f"{path}.{_printable(key)}", out)
    return [(v, f"{path}.{_printable(str(k))}", depth) for k, v in value.items()]


def _bad_text(path: str, out: _Collector) -> None:
    if sum(p.code == "invalid_text" for p in out.problems) < MAX_TEXT_PROBLEMS:
        out.add(
            "invalid_text",
            path,
            f"{path} contains an unpaired surrogate character, which is not valid text",
            where=path,
        )


def _name_nodes_of_text_problems(raw: dict[str, Any], out: _Collector) -> None:
    """Give a problem inside `$.nodes[i]` that node's id, when the id itself is valid text."""
    nodes = raw.get("nodes")
    for problem in out.problems:
        found = _NODE_PATH.match(problem.path) if isinstance(nodes, list) else None
        if found is None or problem.code != "invalid_text":
            continue
        node = nodes[int(found.group(1))] if isinstance(nodes, list) else None
        node_id = node.get("id") if isinstance(node, dict) else None
        if isinstance(node_id, str) and not _has_surrogate(node_id):
            problem.node_id = node_id
            problem.message = f"node '{node_id}': {problem.message}"
            problem.message_zh = f"节点「{node_id}」：{problem.message_zh}"


def _check_bounds(raw: dict[str, Any], out: _Collector) -> None:
    """The definition's size and text, before any work that grows with its size."""
    nodes = raw.get("nodes")
    if isinstance(nodes, list) and len(nodes) > MAX_NODES:
        out.add(
            "definition_too_large",
            "$.nodes",
            f"the definition has {len(nodes)} nodes; at most {MAX_NODES} are allowed",
            detail=f"有 {len(nodes)} 个节点，最多允许 {MAX_NODES} 个",
        )
        return
    values, chars = _walk_json(raw, out)
    _name_nodes_of_text_problems(raw, out)
    if values > MAX_VALUES:
        out.add(
            "definition_too_large",
            "$",
            f"the definition has more than {MAX_VALUES} values",
            detail=f"超过 {MAX_VALUES} 个值",
        )
    elif chars > MAX_TEXT:
        out.add(
            "definition_too_large",
            "$",
            f"the definition has more than {MAX_TEXT} characters of text",
            detail=f"文本超过 {MAX_TEXT} 个字符",
        )


def _check_header(raw: dict[str, Any], out: _Collector) -> None:
    try:
        _Header.model_validate(raw)
    except ValidationError as exc:
        for error in exc.errors():
            if error["loc"] and error["loc"][0] == "nodes" and len(error["loc"]) > 1:
                continue
            field = ".".join(str(p) for p in error["loc"])
            out.add(
                "invalid_field",
                _loc_to_path("$", error["loc"]),
                f"{field}: {_pydantic_message(error)}",
                field=field,
                detail=_pydantic_message(error),
            )


def _parse_nodes(
    raw_nodes: list[Any], out: _Collector
) -> tuple[list[tuple[int, BaseNode]], dict[str, int]]:
    parsed: list[tuple[int, BaseNode]] = []
    ids: dict[str, int] = {}
    for index, raw in enumerate(raw_nodes):
        base = f"$.nodes[{index}]"
        if not isinstance(raw, dict):
            out.add("invalid_node", base, "a node must be an object with id and type")
            continue
        node_id = raw.get("id") if isinstance(raw.get("id"), str) else None
        if node_id is not None:
            if node_id in ids:
                out.add("duplicate_id", f"{base}.id", f"node id '{node_id}' is used twice", node_id)
            else:
                ids[node_id] = index
        node_type = raw.get("type")
        cls = NODE_TYPES.get(node_type) if isinstance(node_type, str) else None
        if cls is None:
            known = ", ".join(sorted(NODE_TYPES))
            out.add(
                "unknown_type",
                f"{base}.type",
                f"node '{node_id or index}': unknown type '{node_type}' (known: {known})",
                node_id,
                type=node_type,
            )
            continue
        try:
            node = cls.model_validate(raw)
        except ValidationError as exc:
            for error in exc.errors():
                field = ".".join(str(p) for p in error["loc"])
                out.add(
                    "invalid_setting",
                    _loc_to_path(base, error["loc"]),
                    f"node '{node_id or index}': {field} {_pydantic_message(error)}",
                    node_id,
                    field=field,
                    detail=_pydantic_message(error),
                )
            continue
        for code, suffix, message in node.problems():
            out.add(code, f"{base}.{suffix}", f"node '{node.id}': {message}", node.id)
        parsed.append((index, node))
    return parsed, ids


def _reachable(
    starts: Iterable[str], edges: Mapping[str, Iterable[str]], stop: str | None = None
) -> set[str]:
    seen: set[str] = set()
    queue = deque(s for s in starts)
    while queue:
        current = queue.popleft()
        if current in seen:
            continue
        seen.add(current)
        if current == stop:
            continue
        queue.extend(t for t in edges.get(current, ()) if t not in seen)
    return seen


def _strongly_connected(nodes: list[str], edges: Mapping[str, list[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative so deep pipelines cannot overflow the stack."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    counter = 0
    for root in nodes:
        if root in index:
            continue
        work = [(root, 0)]
        while work:
            node, child_i = work.pop()
            if child_i == 0:
                index[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node)
            children = [c for c in edges.get(node, []) if c in edges]
            if child_i < len(children):
                work.append((node, child_i + 1))
                child = children[child_i]
                if child not in index:
                    work.append((child, 0))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                components.append(component)
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return components


def _check_graph(
    header: dict[str, Any], parsed: list[tuple[int, BaseNode]], ids: dict[str, int], out: _Collector
) -> None:
    nodes = {node.id: (index, node) for index, node in parsed}
    edges = _edges_reporting_broken_links(parsed, ids, out)
    start = header.get("start")
    if isinstance(start, str) and start not in ids:
        out.add("unknown_start", "$.start", f"start node '{start}' does not exist", target=start)
    ends = [node.id for _, node in parsed if isinstance(node, EndNode)]
    if not ends and parsed:
        out.add("no_end", "$.nodes", "the pipeline has no end node")
    if isinstance(start, str) and start in nodes:
        _check_reachable_from_start(start, parsed, edges, out)
    _check_loops_without_exit(ends, nodes, edges, out)
    _check_forks(parsed, nodes, edges, out)


def _edges_reporting_broken_links(
    parsed: list[tuple[int, BaseNode]], ids: dict[str, int], out: _Collector
) -> dict[str, list[str]]:
    """Each node's successors that exist; a missing or dangling `next` is reported."""
    edges: dict[str, list[str]] = {node.id: [] for _, node in parsed}
    for index, node in parsed:
        for suffix, target in node.successors():
            if target not in ids:
                out.add(
                    "dangling_next",
                    f"$.nodes[{index}].{suffix}",
                    f"node '{node.id}' points to '{target}', which does not exist",
                    node.id,
                    target=target,
                )
            else:
                edges[node.id].append(target)
        if node.needs_next() and node.next is None:
            out.add(
                "missing_next",
                f"$.nodes[{index}].next",
                f"node '{node.id}' has no next node",
                node.id,
            )
    return edges


def _check_reachable_from_start(
    start: str, parsed: list[tuple[int, BaseNode]], edges: dict[str, list[str]], out: _Collector
) -> None:
    reached = _reachable([start], edges)
    for index, node in parsed:
        if node.id not in reached:
            out.add(
                "unreachable",
                f"$.nodes[{index}]",
                f"node '{node.id}' can never be reached from the start",
                node.id,
            )


def _stuck_edges(
    ends: list[str], nodes: dict[str, tuple[int, BaseNode]], edges: dict[str, list[str]]
) -> dict[str, list[str]]:
    """The nodes with no path to an end, each with its edges to other such nodes."""
    reverse: dict[str, list[str]] = defaultdict(list)
    for source, targets in edges.items():
        for target in targets:
            reverse[target].append(source)
    finishing = _reachable(ends, reverse) if ends else set()
    stuck = [n for n in edges if n not in finishing]
    return {n: [t for t in edges[n] if t in nodes and t not in finishing] for n in stuck}


def _check_loops_without_exit(
    ends: list[str],
    nodes: dict[str, tuple[int, BaseNode]],
    edges: dict[str, list[str]],
    out: _Collector,
) -> None:
    stuck_edges = _stuck_edges(ends, nodes, edges)
    # A node with no path to an end always leads into a loop with no exit or a broken
    # `next` (reported above): report that root cause once, not every node before it.
    for component in _strongly_connected(list(stuck_edges), stuck_edges):
        members = set(component)
        leaves_component = any(t not in members for n in component for t in stuck_edges[n])
        if leaves_component:
            continue  # not the root cause: it only leads into a stuck part reported below
        first = min(component, key=lambda n: nodes[n][0])
        index = nodes[first][0]
        if len(component) > 1 or first in edges[first]:
            names = ", ".join(sorted(component, key=lambda n: nodes[n][0]))
            out.add(
                "loop_without_exit",
                f"$.nodes[{index}]",
                f"nodes {names} form a loop that never reaches an end",
                first,
                members=names,
            )


def _check_forks(
    parsed: list[tuple[int, BaseNode]],
    nodes: dict[str, tuple[int, BaseNode]],
    edges: dict[str, list[str]],
    out: _Collector,
) -> None:
    forks_of_join: dict[str, list[str]] = defaultdict(list)
    for index, node in parsed:
        if isinstance(node, ParallelNode) and _fork_names_a_join(index, node, nodes, out):
            forks_of_join[node.join].append(node.id)
            _check_branches(index, node, nodes, edges, out)
    _check_joins(parsed, forks_of_join, out)


def _fork_names_a_join(
    index: int, fork: ParallelNode, nodes: dict[str, tuple[int, BaseNode]], out: _Collector
) -> bool:
    target = nodes.get(fork.join)
    if target is not None and isinstance(target[1], JoinNode):
        return True
    out.add(
        "fork_without_join",
        f"$.nodes[{index}].join",
        f"parallel '{fork.id}' must name a join node as its join, not '{fork.join}'",
        fork.id,
        target=fork.join,
    )
    return False


def _check_branches(
    index: int,
    fork: ParallelNode,
    nodes: dict[str, tuple[int, BaseNode]],
    edges: dict[str, list[str]],
    out: _Collector,
) -> None:
    """Each branch of `fork` must reach its join, and no end before it."""
    for i, branch in enumerate(fork.branches):
        if branch not in nodes:
            continue
        reached = _reachable([branch], edges, stop=fork.join)
        if fork.join not in reached:
            out.add(
                "branch_never_joins",
                f"$.nodes[{index}].branches[{i}]",
                f"branch '{branch}' of parallel '{fork.id}' never reaches join '{fork.join}'",
                fork.id,
                branch=branch,
                target=fork.join,
            )
        # A node that did not parse is reported on its own; it says nothing of where it leads.
        escaped = sorted(n for n in reached if n in nodes and isinstance(nodes[n][1], EndNode))
        if escaped:
            out.add(
                "branch_escapes_join",
                f"$.nodes[{index}].branches[{i}]",
                f"branch '{branch}' of parallel '{fork.id}' can end the order at"
                f" '{escaped[0]}' before join '{fork.join}'",
                fork.id,
                branch=branch,
                target=escaped[0],
            )


def _check_joins(
    parsed: list[tuple[int, BaseNode]], forks_of_join: dict[str, list[str]], out: _Collector
) -> None:
    """Each join must belong to exactly one parallel fork."""
    for index, node in parsed:
        if isinstance(node, JoinNode):
            forks = forks_of_join.get(node.id, [])
            if not forks:
                out.add(
                    "join_without_fork",
                    f"$.nodes[{index}]",
                    f"join '{node.id}' belongs to no parallel fork",
                    node.id,
                )
            elif len(forks) > 1:
                out.add(
                    "join_shared",
                    f"$.nodes[{index}]",
                    f"join '{node.id}' is the join of several forks: {', '.join(forks)}",
                    node.id,
                    members=", ".join(forks),
                )


def _fields_of(node: BaseNode) -> set[str] | None:
    """What `<node_id>.<field>` may name; None when anything may (a child's variables)."""
    if isinstance(node, SubpipelineNode):
        return None
    return {f.name for f in node.form_fields()} | set(node.outputs)


def _compiled_or_reported(
    node: BaseNode, source: str, path: str, out: _Collector
) -> Expression | None:
    try:
        return compile_expression(source)
    except ExpressionError as exc:
        shown = source if len(source) <= 80 else source[:77] + "..."  # sources can be huge
        out.add(
            "expression_invalid",
            path,
            f"node '{node.id}': expression '{shown}' {exc}",
            node.id,
            source=shown,
            detail=str(exc),
        )
        return None


def _check_expressions(
    header: dict[str, Any], parsed: list[tuple[int, BaseNode]], out: _Collector
) -> None:
    variables = {v.get("name") for v in header.get("variables") or [] if isinstance(v, dict)}
    by_id = {node.id: node for _, node in parsed}
    for index, node in parsed:
        if node.id in variables:
            out.add(
                "id_shadows_variable",
                f"$.nodes[{index}].id",
                f"node id '{node.id}' is also a variable name",
                node.id,
            )
        for suffix, source in node.expressions():
            path = f"$.nodes[{index}].{suffix}"
            expression = _compiled_or_reported(node, source, path, out)
            if expression is None:
                continue
            for ref in expression.references:
                _check_reference(node, ref, path, variables, by_id, out)


def _check_reference(
    node: BaseNode,
    ref: tuple[str, ...],
    path: str,
    variables: set[Any],
    by_id: dict[str, BaseNode],
    out: _Collector,
) -> None:
    """A name an expression reads: a variable, a constant, `order.<field>` or `<node>.<field>`."""
    head = ref[0]
    if head in variables or head in CONSTANTS:
        return
    if head == "order":
        if len(ref) > 1 and ref[1] not in ORDER_FIELDS:
            out.add(
                "expression_unknown_variable",
                path,
                f"node '{node.id}': order has no field '{ref[1]}'"
                f" (it has {', '.join(ORDER_FIELDS)})",
                node.id,
                name=".".join(ref),
            )
        return
    target = by_id.get(head)
    if target is None:
        out.add(
            "expression_unknown_variable",
            path,
            f"node '{node.id}': '{head}' is neither a declared variable nor a node",
            node.id,
            name=head,
        )
        return
    fields = _fields_of(target)
    if len(ref) > 1 and fields is not None and ref[1] not in fields:
        known = ", ".join(sorted(fields)) or "nothing"
        out.add(
            "expression_unknown_variable",
            path,
            f"node '{node.id}': node '{head}' has no field '{ref[1]}' (it has {known})",
            node.id,
            name=".".join(ref[:2]),
        )


def _check_patterns(parsed: list[tuple[int, BaseNode]], out: _Collector) -> None:
    """Form patterns must compile with RE2 (linear-time matching) and be short."""
    for index, node in parsed:
        for position, field in enumerate(node.form_fields()):
            if field.pattern is None:
                continue
            try:
                compile_pattern(field.pattern)
            except ValueError as exc:
                out.add(
                    "form_pattern_invalid",
                    f"$.nodes[{index}].form[{position}].pattern",
                    f"node '{node.id}': form field '{field.name}': {exc}",
                    node.id,
                    field=field.name,
                    detail=str(exc),
                )


def _check_parts_sources(parsed: list[tuple[int, BaseNode]], out: _Collector) -> None:
    """A settlement prices parts only from `parts` fields of human nodes it names, so what
    an order's variables hold elsewhere never turns into money."""
    by_id = {node.id: node for _, node in parsed}
    for index, node in parsed:
        if not isinstance(node, SettlementNode):
            continue
        for position, source in enumerate(node.params.parts_from):
            node_id, _, name = source.partition(".")
            owner = by_id.get(node_id)
            fields = {f.name: f for f in owner.form_fields()} if owner and owner.human else {}
            if name in fields and fields[name].type == "parts":
                continue
            out.add(
                "settlement_parts_source_invalid",
                f"$.nodes[{index}].params.parts_from[{position}]",
                f"node '{node.id}': '{source}' is not a parts field of a human node",
                node.id,
                source=source,
            )


def _check_assignees(parsed: list[tuple[int, BaseNode]], out: _Collector) -> None:
    """A warning for each human step without an assignee rule: at run time only the order's
    managers may complete it, which is rarely what the designer meant."""
    managers = ", ".join(MANAGING_ROLES)
    for index, node in parsed:
        if node.human and node.assignee is None:
            out.add(
                "unassigned_step",
                f"$.nodes[{index}].assignee",
                f"node '{node.id}' has no assignee: only {managers} may complete it",
                node.id,
                warning=True,
            )


def _check_references(
    header: dict[str, Any],
    parsed: list[tuple[int, BaseNode]],
    known_definitions: set[str] | None,
    out: _Collector,
) -> None:
    has_dispatch = any(node.type == "dispatch" for _, node in parsed)
    for index, node in parsed:
        if (
            node.assignee is not None
            and node.assignee.kind == "dispatched_engineer"
            and not has_dispatch
        ):
            out.add(
                "assignee_without_dispatch",
                f"$.nodes[{index}].assignee",
                f"node '{node.id}' is assigned to the dispatched engineer,"
                " but no dispatch node exists",
                node.id,
            )
        if isinstance(node, SubpipelineNode):
            key = node.params.definition
            if key == header.get("key"):
                out.add(
                    "recursive_subpipeline",
                    f"$.nodes[{index}].params.definition",
                    f"node '{node.id}' calls its own pipeline '{key}'",
                    node.id,
                    target=key,
                )
            elif known_definitions is not None and key not in known_definitions:
                out.add(
                    "unknown_subpipeline",
                    f"$.nodes[{index}].params.definition",
                    f"node '{node.id}' calls pipeline '{key}', which is not published",
                    node.id,
                    target=key,
                )


def validate_definition(
    raw: Any,
    *,
    templates: Mapping[str, NodeTemplate] | None = None,
    known_definitions: set[str] | None = None,
) -> ValidationReport:
    """Check a definition as drawn (JSON-like dict) and return every problem found.

    Args:
        raw: the definition, with node template references not yet resolved.
        templates: the node templates it may reference, by key.
        known_definitions: keys of published pipelines a sub-pipeline may call; None skips
            that check (e.g. when validating offline).

    Returns:
        The problems (empty when valid) and, when valid, the resolved `Definition`.
    """
    out = _Collector()
    if not isinstance(raw, dict):
        out.add("invalid_definition", "$", "a definition must be a JSON object")
        return ValidationReport(problems=out.problems)
    _check_bounds(raw, out)
    if out.problems:
        return ValidationReport(problems=out.problems)
    resolved, template_problems = resolve_templates(raw, dict(templates or {}))
    for problem in template_problems:
        out.add(
            problem.code,
            f"$.nodes[{problem.index}].{problem.path}",
            f"node '{problem.node_id or problem.index}': {problem.message}",
            problem.node_id,
        )
    _check_header(resolved, out)
    raw_nodes = resolved.get("nodes")
    if not isinstance(raw_nodes, list):
        return ValidationReport(problems=out.problems)
    parsed, ids = _parse_nodes(raw_nodes, out)
    _check_graph(resolved, parsed, ids, out)
    _check_expressions(resolved, parsed, out)
    _check_patterns(parsed, out)
    _check_references(resolved, parsed, known_definitions, out)
    _check_parts_sources(parsed, out)
    _check_assignees(parsed, out)
    report = ValidationReport(problems=out.problems)
    if report.ok:
        report.definition = Definition.model_validate(resolved)
    return report
