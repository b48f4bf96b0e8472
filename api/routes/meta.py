"""The designer's palette (node types) and the JSON Schema of the definition format."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.deps import CurrentUser
from api.schemas import DataList, NodeTypePublic
from workflows.definition import definition_json_schema
from workflows.nodes import NODE_TYPES

router = APIRouter(prefix="/api", tags=["palette"])


@router.get("/node-types", response_model=DataList[NodeTypePublic], response_model_by_alias=True)
def read_node_types(_user: CurrentUser) -> DataList[NodeTypePublic]:
    """Every node type the designer may place, from the same registry the engine runs."""
    return DataList(
        data=[
            NodeTypePublic(
                type=tag,
                kind=cls.kind,
                human=cls.human,
                label_zh=cls.label_zh,
                label_en=cls.label_en,
                outputs=list(cls.outputs),
                schema_=cls.model_json_schema(),
            )
            for tag, cls in NODE_TYPES.items()
        ]
    )


@router.get("/schema/definition")
def read_definition_schema(_user: CurrentUser) -> dict[str, Any]:
    """The JSON Schema of a definition: the designer and outside tools validate against it."""
    return definition_json_schema()
