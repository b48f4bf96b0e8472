"""What an order starts with: the published snapshot and every sub-pipeline it calls."""

from __future__ import annotations

import pytest

from servflow.definitions import repo as definitions
from servflow.definitions.service import load_snapshot
from servflow.orders.rules import check_variables, fingerprint, order_id_for
from servflow.platform.errors import Invalid
from workflows.definition import Definition


def pipeline(key: str, calls: str | None = None) -> dict:
    nodes: list[dict] = [{"id": "callback", "type": "task", "next": "end"}]
    if calls:
        nodes.insert(
            0,
            {
                "id": "child",
                "type": "subpipeline",
                "next": "callback",
                "params": {"definition": calls},
            },
        )
    nodes.append({"id": "end", "type": "end"})
    return {"key": key, "name": key, "start": nodes[0]["id"], "nodes": nodes}


def publish(session, body: dict) -> None:
    definitions.save_draft(session, key=body["key"], draft=body)
    definitions.publish_version(
        session, key=body["key"], body=Definition.model_validate(body).model_dump(mode="json")
    )


def test_sub_pipelines_are_snapshotted_recursively(session):
    publish(session, pipeline("grandchild"))
    publish(session, pipeline("child", calls="grandchild"))
    publish(session, pipeline("parent", calls="child"))
    definition, subs = load_snapshot(session, key="parent", version=None)
    assert definition.key == "parent" and definition.version == 1
    assert sorted(subs) == ["child", "grandchild"]


def test_an_unpublished_sub_pipeline_refuses_the_start(session):
    publish(session, pipeline("parent", calls="child"))
    # "child" was never published, so an order of "parent" could not run it.
    with pytest.raises(Invalid) as raised:
        load_snapshot(session, key="parent", version=None)
    assert raised.value.extra["errors"] == {"definition_key": "calls unpublished pipeline 'child'"}


def test_order_ids_are_stable_per_caller_and_key():
    assert order_id_for("api_client", "k1") == order_id_for("api_client", "k1")
    assert order_id_for("api_client", "k1") != order_id_for("dispatcher", "k1")
    assert order_id_for("api_client", None) != order_id_for("api_client", None)
    assert fingerprint({"a": 1, "b": [1, 2]}) == fingerprint({"b": [1, 2], "a": 1})


def test_variables_are_checked_against_their_declarations():
    definition = Definition.model_validate(
        {
            **pipeline("vars"),
            "variables": [
                {"name": "fault", "type": "text", "required": True},
                {"name": "count", "type": "number"},
                {"name": "urgent", "type": "boolean", "required": True, "default": False},
            ],
        }
    )
    assert check_variables(definition, {"fault": "x", "count": 2}) == {}
    assert check_variables(definition, {"count": True}) == {
        "variables.fault": "is required",
        "variables.count": "must be of type number",
    }


def test_undeclared_variables_are_refused_by_name():
    """Issue 9: `zz.parts_used` once reached the settlement as if the engineer reported it."""
    definition = Definition.model_validate(
        {**pipeline("vars"), "variables": [{"name": "fault", "type": "text"}]}
    )
    errors = check_variables(
        definition, {"fault": "x", "zz": {"parts_used": "R410A-10KG x 1000"}, "service": {}}
    )
    assert errors == {
        "variables.zz": "is not a variable of this pipeline",
        "variables.service": "is not a variable of this pipeline",
    }
