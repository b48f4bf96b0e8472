"""Node templates: named, reusable presets of a node."""

from __future__ import annotations

from fastapi import APIRouter, Response

from api.deps import CurrentUser, Designer, SessionDep
from api.schemas import ERRORS, Page
from servflow.definitions import service
from workflows.definition import NodeTemplate

router = APIRouter(prefix="/api/node-templates", tags=["node templates"])


@router.get("", response_model=Page[NodeTemplate], responses=ERRORS)
def read_node_templates(session: SessionDep, _user: CurrentUser) -> Page[NodeTemplate]:
    data = service.list_node_templates(session)
    return Page(data=data, count=len(data))


@router.post("", status_code=201, response_model=NodeTemplate, responses=ERRORS)
def create_node_template(body: NodeTemplate, session: SessionDep, _user: Designer) -> NodeTemplate:
    template = service.create_node_template(session, body)
    session.commit()
    return template


@router.get("/{key}", response_model=NodeTemplate, responses=ERRORS)
def read_node_template(key: str, session: SessionDep, _user: CurrentUser) -> NodeTemplate:
    return service.get_node_template(session, key=key)


@router.put("/{key}", response_model=NodeTemplate, responses=ERRORS)
def update_node_template(
    key: str, body: NodeTemplate, session: SessionDep, _user: Designer
) -> NodeTemplate:
    template = service.update_node_template(session, key=key, template=body)
    session.commit()
    return template


@router.delete("/{key}", status_code=204, response_class=Response, responses=ERRORS)
def delete_node_template(key: str, session: SessionDep, _user: Designer) -> Response:
    service.delete_node_template(session, key=key)
    session.commit()
    return Response(status_code=204)
