"""Definitions: validation against stored templates and published keys, templates as models."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from servflow.definitions import repo
from servflow.definitions.models import DefinitionVersion
from servflow.definitions.models import NodeTemplate as NodeTemplateRow
from workflows.definition import NodeTemplate
from workflows.validate import ValidationReport, validate_definition


def template_to_model(row: NodeTemplateRow) -> NodeTemplate:
    """A stored node template as the format's model (preset = {"node", "locked"})."""
    preset: dict[str, Any] = row.preset or {}
    if isinstance(preset.get("node"), dict):
        node, locked = dict(preset["node"]), list(preset.get("locked", []))
    else:
        node, locked = dict(preset), []
    if row.node_type and "type" not in node:
        node = {"type": row.node_type, **node}
    return NodeTemplate(
        key=row.key,
        name=row.name or row.key,
        description=row.description,
        node=node,
        locked=locked,
    )


def stored_templates(session: Session) -> dict[str, NodeTemplate]:
    return {row.key: template_to_model(row) for row in repo.list_node_templates(session)}


def published_keys(session: Session) -> set[str]:
    return set(session.scalars(select(DefinitionVersion.key).distinct()))


def validate_raw(session: Session, raw: Any) -> ValidationReport:
    """Validation against the stored node templates and the published pipelines."""
    return validate_definition(
        raw, templates=stored_templates(session), known_definitions=published_keys(session)
    )
