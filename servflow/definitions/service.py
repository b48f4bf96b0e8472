"""Definitions: drafts, validation against stored templates and published keys, publishing,
versions and diffs; node templates. Called alike by the API and the CLI.

The caller commits; a use case that loses a race on a unique key rolls back and raises
`Conflict`, since the session cannot be used after the failed flush.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from servflow.definitions import repo
from servflow.definitions.models import Definition, DefinitionVersion
from servflow.definitions.models import NodeTemplate as NodeTemplateRow
from servflow.platform.errors import Conflict, Invalid, NotFound
from workflows.definition import DEFINITION_KEY, NodeTemplate
from workflows.definition import Definition as Pipeline
from workflows.diff import diff_definitions
from workflows.nodes import NODE_TYPES
from workflows.nodes.flow import SubpipelineNode
from workflows.validate import Problem, ValidationReport, validate_definition


@dataclass(frozen=True)
class Publication:
    """A published version; `fresh` is False when an identical latest version was kept."""

    key: str
    version: int
    fresh: bool = True


@dataclass(frozen=True)
class DefinitionOverview:
    """A definition with its latest published version and whether a draft is pending."""

    definition: Definition
    latest_version: int | None
    has_draft: bool


@contextmanager
def _conflict_on_duplicate(message: str, session: Session) -> Iterator[None]:
    try:
        yield
    except IntegrityError as exc:
        session.rollback()
        raise Conflict(message) from exc


# --- validation ---------------------------------------------------------------------------


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


def validate_raw(session: Session, raw: Any) -> ValidationReport:
    """Validation against the stored node templates and the published pipelines."""
    return validate_definition(
        raw, templates=stored_templates(session), known_definitions=repo.published_keys(session)
    )


def draft_problems(session: Session, draft: dict[str, Any] | None) -> list[Problem]:
    """What keeps a draft from being published; none for an empty draft."""
    return validate_raw(session, draft).problems if draft else []


def check_key(definition: dict[str, Any], expected: str | None = None) -> str:
    """The definition's key; with `expected` (the URL's), a missing key is set to it.

    Raises:
        Invalid: the key is not a valid key, or not `expected`.
    """
    key = definition.get("key")
    if expected is not None and key is None:
        definition["key"] = key = expected
    if not isinstance(key, str) or not re.match(DEFINITION_KEY, key):
        raise Invalid(
            "definition.key must be lower-case letters, digits, - or _ (2-64 characters)",
            errors={"definition.key": "must match " + DEFINITION_KEY},
        )
    if expected is not None and key != expected:
        raise Invalid(
            f"definition.key '{key}' does not match the URL's '{expected}'",
            errors={"definition.key": f"must be '{expected}'"},
        )
    return key


# --- definitions and versions -------------------------------------------------------------


def get_definition(session: Session, *, key: str) -> Definition:
    """Raises NotFound when there is no definition `key`."""
    row = repo.get_definition(session, key=key)
    if row is None:
        raise NotFound(f"no definition '{key}'")
    return row


def get_version(session: Session, *, key: str, version: int) -> DefinitionVersion:
    """Raises NotFound when `key` has no published `version`."""
    row = repo.get_version(session, key=key, version=version)
    if row is None:
        raise NotFound(f"definition '{key}' has no version {version}")
    return row


def list_versions(session: Session, *, key: str) -> list[DefinitionVersion]:
    """Every published version of `key`, oldest first; NotFound without a definition."""
    get_definition(session, key=key)
    return repo.list_versions(session, key=key)


def list_definitions(session: Session) -> list[DefinitionOverview]:
    latest = repo.latest_versions(session)
    overviews = []
    for row in repo.list_definitions(session):
        version, published_at = latest.get(row.key, (None, None))
        # Edited after the latest publish (or never published): a draft is pending.
        has_draft = bool(row.draft) and (published_at is None or row.updated_at > published_at)
        overviews.append(DefinitionOverview(row, version, has_draft))
    return overviews


def _name_of(draft: dict[str, Any], default: str) -> str:
    name = draft.get("name")
    return name if isinstance(name, str) and name else default


def create_definition(
    session: Session, *, draft: dict[str, Any], layout: dict[str, Any] | None, user: str
) -> Definition:
    """Creates a definition from a draft, which may still have problems.

    Raises:
        Invalid: the draft's key is not a valid key.
        Conflict: a definition with that key exists.
    """
    key = check_key(draft)
    if repo.get_definition(session, key=key) is not None:
        raise Conflict(f"definition '{key}' exists already; save its draft instead")
    with _conflict_on_duplicate(f"definition '{key}' exists already", session):
        return repo.save_draft(
            session,
            key=key,
            draft=draft,
            name=_name_of(draft, key),
            layout=layout or {},
            user=user,
        )


def save_draft(
    session: Session,
    *,
    key: str,
    draft: dict[str, Any],
    layout: dict[str, Any] | None,
    user: str,
) -> Definition:
    """Replaces the draft of `key` even when it has problems (and the layout when given)."""
    row = get_definition(session, key=key)
    check_key(draft, expected=key)
    return repo.save_draft(
        session, key=key, draft=draft, name=_name_of(draft, row.name), layout=layout, user=user
    )


def publish(
    session: Session,
    *,
    key: str,
    raw: Any,
    user: str,
    layout: dict[str, Any] | None = None,
    unless_unchanged: bool = False,
) -> Publication:
    """Validates `raw` and publishes it as the next version of `key`, creating the
    definition (with `raw` as its draft) when there is none.

    Args:
        unless_unchanged: keep the latest version when its body is the same as `raw`'s.

    Raises:
        Invalid: `raw` has problems (`problems` lists them) or another key.
        Conflict: a concurrent publish of `key` took the version number.
    """
    report = validate_raw(session, raw)
    if report.definition is None:
        raise Invalid(
            f"definition '{key}' has {len(report.errors)} problem(s); fix them before publishing",
            problems=[p.model_dump() for p in report.problems],
        )
    if report.definition.key != key:
        raise Invalid(
            f"definition.key '{report.definition.key}' is not '{key}'",
            errors={"definition.key": f"must be '{key}'"},
        )
    check_runnable_size(session, report.definition)
    body = report.definition.model_dump(mode="json")
    if unless_unchanged:
        latest = repo.get_version(session, key=key)
        if latest is not None and {**latest.body, "version": 0} == {**body, "version": 0}:
            return Publication(key=key, version=latest.version, fresh=False)
    with _conflict_on_duplicate(
        f"definition '{key}' was published concurrently; try again", session
    ):
        if repo.get_definition(session, key=key) is None:
            repo.save_draft(session, key=key, draft=raw, name=report.definition.name, user=user)
        row = repo.publish_version(session, key=key, body=body, user=user, layout=layout)
    return Publication(key=key, version=row.version)


def publish_draft(session: Session, *, key: str, user: str) -> Publication:
    """Publishes the stored draft (and layout) of `key`; see `publish` for the errors."""
    row = get_definition(session, key=key)
    return publish(session, key=key, raw=row.draft, user=user, layout=row.layout)


def diff(session: Session, *, key: str, base: int, target: int | None) -> dict[str, Any]:
    """What changed from version `base` to version `target` (None: the draft)."""
    row = get_definition(session, key=key)
    a = get_version(session, key=key, version=base).body
    b = row.draft if target is None else get_version(session, key=key, version=target).body
    return diff_definitions(a, b)


def draft_from_version(session: Session, *, key: str, version: int, user: str) -> Definition:
    """Replaces the draft (and layout) of `key` with a copy of a published version."""
    row = get_definition(session, key=key)
    source = get_version(session, key=key, version=version)
    draft = {k: v for k, v in source.body.items() if k != "version"}
    repo.save_draft(session, key=key, draft=draft, layout=source.layout, user=user)
    return row


# --- node templates -----------------------------------------------------------------------


def _get_template_row(session: Session, key: str) -> NodeTemplateRow:
    row = repo.get_node_template(session, key=key)
    if row is None:
        raise NotFound(f"no node template '{key}'")
    return row


def _store_template(session: Session, template: NodeTemplate) -> NodeTemplate:
    node_type = template.node.get("type")
    if node_type not in NODE_TYPES:
        raise Invalid(
            f"node.type must be one of the node types, not {node_type!r}",
            errors={"node.type": f"unknown node type {node_type!r}"},
        )
    for forbidden in ("id", "next"):
        if forbidden in template.node:
            raise Invalid(
                f"node.{forbidden} belongs to the definition, not to a template",
                errors={f"node.{forbidden}": "not allowed in a template"},
            )
    row = repo.save_node_template(
        session,
        key=template.key,
        node_type=str(node_type),
        preset={"node": template.node, "locked": template.locked},
        name=template.name,
        description=template.description,
    )
    return template_to_model(row)


def list_node_templates(session: Session) -> list[NodeTemplate]:
    return [template_to_model(row) for row in repo.list_node_templates(session)]


def get_node_template(session: Session, *, key: str) -> NodeTemplate:
    """Raises NotFound when there is no node template `key`."""
    return template_to_model(_get_template_row(session, key))


def create_node_template(session: Session, template: NodeTemplate) -> NodeTemplate:
    """Raises Conflict when `template.key` exists, Invalid when the node is not a preset."""
    if repo.get_node_template(session, key=template.key) is not None:
        raise Conflict(f"node template '{template.key}' exists already")
    return _store_template(session, template)


def update_node_template(session: Session, *, key: str, template: NodeTemplate) -> NodeTemplate:
    """Replaces the node template `key`; NotFound, or Invalid for another key or node."""
    _get_template_row(session, key)
    if template.key != key:
        raise Invalid(f"key '{template.key}' does not match the URL's '{key}'", errors={"key": key})
    return _store_template(session, template)


def delete_node_template(session: Session, *, key: str) -> None:
    """Raises NotFound when there is no node template `key`."""
    _get_template_row(session, key)
    repo.delete_node_template(session, key=key)


# ---- what an order runs --------------------------------------------------------------------


def load_snapshot(
    session: Session, *, key: str, version: int | None
) -> tuple[Pipeline, dict[str, Pipeline]]:
    """The published definition and every pipeline it calls, recursively (latest versions).

    Raises:
        Invalid: the definition (or a sub-pipeline it calls) is not published.
    """
    row = repo.get_version(session, key=key, version=version)
    if row is None:
        which = f"version {version}" if version else "published version"
        raise Invalid(
            f"definition_key: '{key}' has no {which}",
            errors={"definition_key" if version is None else "version": f"no {which} of '{key}'"},
        )
    definition = Pipeline.model_validate(row.body)
    return definition, load_subdefinitions(session, definition)


# Temporal refuses a payload over 2 MiB (its default blob limit). An order's start input
# carries the definition, every sub-pipeline it calls and the order's variables (up to the
# 1 MiB request body), so the definitions get the other half; an 18 MB draft once
# published fine and then failed every start.
MAX_SNAPSHOT_BYTES = 1_000_000


def check_runnable_size(session: Session, definition: Pipeline) -> None:
    """Refuses a definition whose snapshot, with the sub-pipelines it calls, is too large
    for an order to start on; the problem names the node calling the largest sub-pipeline.

    Raises:
        Invalid: the snapshot is over MAX_SNAPSHOT_BYTES (`problems` has one problem).
    """
    subs = load_subdefinitions(session, definition)
    sizes = {key: len(sub.model_dump_json().encode()) for key, sub in subs.items()}
    total = len(definition.model_dump_json().encode()) + sum(sizes.values())
    if total <= MAX_SNAPSHOT_BYTES:
        return
    largest = max(sizes, key=sizes.__getitem__, default=None)
    calls = [
        (index, node)
        for index, node in enumerate(definition.nodes)
        if isinstance(node, SubpipelineNode) and node.params.definition == largest
    ]
    index, node = calls[0] if calls else (None, None)
    problem = Problem(
        code="definition_too_large",
        message=f"with the sub-pipelines it calls the definition takes {total} bytes; "
        f"an order can start on at most {MAX_SNAPSHOT_BYTES}",
        message_zh=f"连同所调用的子流程共 {total} 字节，工单最多只能携带 {MAX_SNAPSHOT_BYTES} 字节",
        node_id=node.id if node else None,
        path=f"$.nodes[{index}]" if node else "$",
    )
    raise Invalid(
        f"definition '{definition.key}' is too large to run: {problem.message}",
        problems=[problem.model_dump()],
    )


def load_subdefinitions(session: Session, definition: Pipeline) -> dict[str, Pipeline]:
    subs: dict[str, Pipeline] = {}
    queue = deque([definition])
    while queue:
        current = queue.popleft()
        for node in current.nodes:
            if not isinstance(node, SubpipelineNode):
                continue
            key = node.params.definition
            if key in subs or key == definition.key:
                continue
            row = repo.get_version(session, key=key)
            if row is None:
                raise Invalid(
                    f"sub-pipeline '{key}' called by node '{node.id}' is not published",
                    errors={"definition_key": f"calls unpublished pipeline '{key}'"},
                )
            subs[key] = Pipeline.model_validate(row.body)
            queue.append(subs[key])
    return subs


# ---- who sees what -----------------------------------------------------------------------


def node_names(session: Session, versions: set[tuple[str, int]]) -> dict[tuple[str, int, str], str]:
    """Node names by (definition key, version, node id), for the given published versions."""
    names: dict[tuple[str, int, str], str] = {}
    for key, version in versions:
        row = repo.get_version(session, key=key, version=version)
        for node in row.body.get("nodes", []) if row is not None else []:
            names[(key, version, node["id"])] = node.get("name") or node["id"]
    return names
