"""The definition format: a work-order pipeline as JSON, and node templates.

The models here are the single source of the format: the validator, the interpreter, the
API's JSON Schema and the designer's palette all read them.
"""

from __future__ import annotations

import copy
from functools import cache
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from workflows.nodes import NODE_TYPES, BaseNode

DEFINITION_KEY = r"^[a-z][a-z0-9_-]{1,63}$"
VARIABLE_NAME = r"^[a-z][a-z0-9_]{0,62}$"

if TYPE_CHECKING:
    Node = BaseNode
else:
    # The union is built from the registry, so a new node type needs no edit here.
    Node = Annotated[Union[tuple(NODE_TYPES.values())], Field(discriminator="type")]  # noqa: UP007


class VariableDecl(BaseModel):
    """An order variable the starter provides (or its default)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=VARIABLE_NAME)
    type: Literal["text", "number", "money", "boolean", "object", "list"] = "text"
    required: bool = False
    default: Any = None
    label: str = ""


class Definition(BaseModel):
    """A work-order pipeline. `version` is 0 for a draft and set at publish."""

    model_config = ConfigDict(extra="forbid")

    key: str = Field(pattern=DEFINITION_KEY, description="stable id, e.g. ac-repair")
    name: str = Field(min_length=1, max_length=200)
    version: int = Field(default=0, ge=0)
    description: str = ""
    variables: list[VariableDecl] = Field(default_factory=list)
    start: str
    nodes: list[Node] = Field(min_length=1)

    def node_map(self) -> dict[str, BaseNode]:
        return {node.id: node for node in self.nodes}


class NodeTemplate(BaseModel):
    """A named, reusable preset of a node.

    A definition uses one as `{"id": "dispatch", "template": "dispatch-refrigeration",
    "next": "service", "params": {"radius_km": 50}}`: the template's `node` is the base,
    the definition's keys override it, except the settings listed in `locked`
    (dotted paths such as `params.skills`).
    """

    model_config = ConfigDict(extra="forbid")

    key: str = Field(pattern=DEFINITION_KEY)
    name: str = Field(min_length=1, max_length=200)
    description: str = ""
    node: dict[str, Any] = Field(description="a node without id and next")
    locked: list[str] = Field(default_factory=list)


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _dotted_paths(data: dict[str, Any], prefix: str = "") -> set[str]:
    paths: set[str] = set()
    for key, value in data.items():
        path = f"{prefix}{key}"
        paths.add(path)
        if isinstance(value, dict):
            paths |= _dotted_paths(value, f"{path}.")
    return paths


class TemplateProblem(Exception):
    def __init__(self, index: int, node_id: str | None, path: str, code: str, message: str):
        super().__init__(message)
        self.index, self.node_id, self.path, self.code, self.message = (
            index,
            node_id,
            path,
            code,
            message,
        )


def resolve_templates(
    raw: dict[str, Any], templates: dict[str, NodeTemplate]
) -> tuple[dict[str, Any], list[TemplateProblem]]:
    """Replace each node's `template` reference by the template merged with its overrides.

    Returns the resolved raw definition and the problems found (unknown template, override
    of a locked setting); a node with a problem is left as written, minus `template`.
    """
    resolved = copy.deepcopy(raw)
    problems: list[TemplateProblem] = []
    nodes = resolved.get("nodes")
    if not isinstance(nodes, list):
        return resolved, problems
    for index, node in enumerate(nodes):
        if isinstance(node, dict) and "template" in node:
            nodes[index] = _resolve_node(index, node, templates, problems)
    return resolved, problems


def _resolve_node(
    index: int,
    node: dict[str, Any],
    templates: dict[str, NodeTemplate],
    problems: list[TemplateProblem],
) -> dict[str, Any]:
    """One node with a `template` reference, resolved; its problems added to `problems`."""
    ref = node.pop("template")
    node_id = node.get("id") if isinstance(node.get("id"), str) else None
    template = templates.get(ref) if isinstance(ref, str) else None
    if template is None:
        problems.append(
            TemplateProblem(
                index, node_id, "template", "unknown_template", f"no node template '{ref}'"
            )
        )
        return node
    overridden = _dotted_paths(node)
    for locked in template.locked:
        if locked in overridden or any(p.startswith(locked + ".") for p in overridden):
            problems.append(
                TemplateProblem(
                    index,
                    node_id,
                    locked,
                    "template_locked",
                    f"'{locked}' is locked by template '{ref}' and cannot be changed",
                )
            )
    merged = _merge(template.node, node)
    _restore_locked_settings(merged, template)
    return merged


def _restore_locked_settings(node: dict[str, Any], template: NodeTemplate) -> None:
    """A locked setting always comes from the template, whatever was written."""
    for locked in template.locked:
        keys = locked.split(".")
        source: Any = template.node
        for key in keys:
            source = source.get(key) if isinstance(source, dict) else None
        if source is None:
            continue
        target = node
        for key in keys[:-1]:
            target = target.setdefault(key, {})
        target[keys[-1]] = copy.deepcopy(source)


@cache
def definition_adapter() -> TypeAdapter[Definition]:
    return TypeAdapter(Definition)


def definition_json_schema() -> dict[str, Any]:
    """The JSON Schema of the format, served by the API and used by the designer."""
    schema = Definition.model_json_schema()
    schema["$id"] = "https://servflow.dev/schema/definition.json"
    schema["title"] = "servflow work-order pipeline definition"
    return schema
