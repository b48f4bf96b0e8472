"""Node types, one class each, registered by their `type` tag."""

from workflows.nodes import automatic, flow, human, parts
from workflows.nodes.base import NODE_TYPES, AssigneeRule, BaseNode, Runtime, Sla, node_type

__all__ = [
    "NODE_TYPES",
    "AssigneeRule",
    "BaseNode",
    "Runtime",
    "Sla",
    "automatic",
    "flow",
    "human",
    "node_type",
    "parts",
]
