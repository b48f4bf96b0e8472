"""Definitions (drafts and immutable published versions) and node templates."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from servflow.definitions.models import Definition, DefinitionVersion, NodeTemplate


def get_definition(session: Session, *, key: str) -> Definition | None:
    return session.scalar(select(Definition).where(Definition.key == key))


def list_definitions(session: Session) -> list[Definition]:
    return list(session.scalars(select(Definition).order_by(Definition.key)))


def save_draft(
    session: Session,
    *,
    key: str,
    draft: dict[str, Any],
    name: str | None = None,
    layout: dict[str, Any] | None = None,
    user: str = "",
) -> Definition:
    """Creates the definition `key` or replaces its draft (and layout when given)."""
    definition = get_definition(session, key=key)
    if definition is None:
        definition = Definition(key=key, name=name or draft.get("name", key), created_by=user)
        session.add(definition)
    elif name is not None:
        definition.name = name
    definition.draft = draft
    if layout is not None:
        definition.layout = layout
    session.flush()
    return definition


def publish_version(
    session: Session,
    *,
    key: str,
    body: dict[str, Any],
    user: str = "",
    layout: dict[str, Any] | None = None,
) -> DefinitionVersion:
    """Publishes `body` as the next version of `key` (1, 2, ...); versions never change.

    The caller validates `body` first. Two concurrent publishes of one key collide on the
    unique (key, version) constraint; the loser's commit raises IntegrityError.

    Raises:
        LookupError: no definition `key`.
    """
    definition = get_definition(session, key=key)
    if definition is None:
        raise LookupError(f"no definition {key!r}")
    latest = session.scalar(
        select(func.max(DefinitionVersion.version)).where(DefinitionVersion.key == key)
    )
    version = (latest or 0) + 1
    row = DefinitionVersion(
        definition_id=definition.id,
        key=key,
        version=version,
        body={**body, "key": key, "version": version},
        layout=layout or {},
        published_by=user,
    )
    session.add(row)
    session.flush()
    return row


def get_version(
    session: Session, *, key: str, version: int | None = None
) -> DefinitionVersion | None:
    """A published version of `key`; the latest when `version` is None."""
    query = select(DefinitionVersion).where(DefinitionVersion.key == key)
    if version is None:
        query = query.order_by(DefinitionVersion.version.desc()).limit(1)
    else:
        query = query.where(DefinitionVersion.version == version)
    return session.scalar(query)


def latest_versions(session: Session) -> dict[str, tuple[int, datetime]]:
    """Each published key's latest version and when it was published."""
    latest = (
        select(DefinitionVersion.key, func.max(DefinitionVersion.version).label("version"))
        .group_by(DefinitionVersion.key)
        .subquery()
    )
    rows = session.execute(
        select(
            DefinitionVersion.key, DefinitionVersion.version, DefinitionVersion.published_at
        ).join(
            latest,
            and_(
                DefinitionVersion.key == latest.c.key, DefinitionVersion.version == latest.c.version
            ),
        )
    )
    return {key: (version, published_at) for key, version, published_at in rows}


def published_keys(session: Session) -> set[str]:
    return set(session.scalars(select(DefinitionVersion.key).distinct()))


def list_versions(session: Session, *, key: str) -> list[DefinitionVersion]:
    return list(
        session.scalars(
            select(DefinitionVersion)
            .where(DefinitionVersion.key == key)
            .order_by(DefinitionVersion.version)
        )
    )


def get_node_template(session: Session, *, key: str) -> NodeTemplate | None:
    return session.scalar(select(NodeTemplate).where(NodeTemplate.key == key))


def list_node_templates(session: Session, *, node_type: str | None = None) -> list[NodeTemplate]:
    query = select(NodeTemplate).order_by(NodeTemplate.key)
    if node_type:
        query = query.where(NodeTemplate.node_type == node_type)
    return list(session.scalars(query))


def save_node_template(
    session: Session,
    *,
    key: str,
    node_type: str,
    preset: dict[str, Any],
    name: str = "",
    description: str = "",
) -> NodeTemplate:
    """Creates or replaces the node template `key`."""
    template = get_node_template(session, key=key)
    if template is None:
        template = NodeTemplate(key=key)
        session.add(template)
    template.node_type = node_type
    template.preset = preset
    template.name = name or key
    template.description = description
    session.flush()
    return template


def delete_node_template(session: Session, *, key: str) -> bool:
    template = get_node_template(session, key=key)
    if template is None:
        return False
    session.delete(template)
    session.flush()
    return True
