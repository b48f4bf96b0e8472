"""Node templates: named, reusable presets of a node."""

from __future__ import annotations

from fastapi import APIRouter, Response
from sqlalchemy.orm import Session

from api.deps import CurrentUser, Designer, SessionDep
from api.schemas import ERRORS, Page
from servflow.definitions import repo
from servflow.definitions.models import NodeTemplate as NodeTemplateRow
from servflow.definitions.service import template_to_model as to_model
from servflow.platform.errors import Conflict, Invalid, NotFound
from workflows.definition import NodeTemplate
from workflows.nodes import NODE_TYPES

router = APIRouter(prefix="/api/node-templates", tags=["node templates"])


def _store(session: Session, template: NodeTemplate) -> NodeTemplate:
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
    session.commit()
    return to_model(row)


def _get(session: Session, key: str) -> NodeTemplateRow:
    row = repo.get_node_template(session, key=key)
    if row is None:
        raise NotFound(f"no node template '{key}'")
    return row


@router.get("", response_model=Page[NodeTemplate], responses=ERRORS)
def read_node_templates(session: SessionDep, _user: CurrentUser) -> Page[NodeTemplate]:
    data = [to_model(row) for row in repo.list_node_templates(session)]
    return Page(data=data, count=len(data))


@router.post("", status_code=201, response_model=NodeTemplate, responses=ERRORS)
def create_node_template(body: NodeTemplate, session: SessionDep, _user: Designer) -> NodeTemplate:
    if repo.get_node_template(session, key=body.key) is not None:
        raise Conflict(f"node template '{body.key}' exists already")
    return _store(session, body)


@router.get("/{key}", response_model=NodeTemplate, responses=ERRORS)
def read_node_template(key: str, session: SessionDep, _user: CurrentUser) -> NodeTemplate:
    return to_model(_get(session, key))


@router.put("/{key}", response_model=NodeTemplate, responses=ERRORS)
def update_node_template(
    key: str, body: NodeTemplate, session: SessionDep, _user: Designer
) -> NodeTemplate:
    _get(session, key)
    if body.key != key:
        raise Invalid(f"key '{body.key}' does not match the URL's '{key}'", errors={"key": key})
    return _store(session, body)


@router.delete("/{key}", status_code=204, response_class=Response, responses=ERRORS)
def delete_node_template(key: str, session: SessionDep, _user: Designer) -> Response:
    _get(session, key)
    repo.delete_node_template(session, key=key)
    session.commit()
    return Response(status_code=204)
