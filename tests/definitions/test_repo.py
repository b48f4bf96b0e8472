import pytest
from sqlalchemy.exc import IntegrityError

from servflow.definitions import repo as definitions
from servflow.definitions.models import DefinitionVersion


def test_publishing_numbers_versions_and_keeps_them_unchanged(session):
    definitions.save_draft(session, key="ac-repair", draft={"name": "空调维修", "nodes": []})
    v1 = definitions.publish_version(session, key="ac-repair", body={"nodes": [1]}, user="d")
    definitions.save_draft(session, key="ac-repair", draft={"nodes": [1, 2]})
    v2 = definitions.publish_version(session, key="ac-repair", body={"nodes": [1, 2]}, user="d")
    session.commit()

    assert (v1.version, v2.version) == (1, 2)
    assert definitions.get_version(session, key="ac-repair").version == 2
    assert definitions.get_version(session, key="ac-repair", version=1).body == {
        "nodes": [1],
        "key": "ac-repair",
        "version": 1,
    }
    assert [v.version for v in definitions.list_versions(session, key="ac-repair")] == [1, 2]
    assert definitions.get_definition(session, key="ac-repair").name == "空调维修"


def test_publishing_an_unknown_definition_fails(session):
    with pytest.raises(LookupError):
        definitions.publish_version(session, key="nope", body={})


def test_the_same_version_cannot_be_published_twice(session):
    definition = definitions.save_draft(session, key="k", draft={})
    definitions.publish_version(session, key="k", body={})
    session.commit()
    session.add(DefinitionVersion(definition_id=definition.id, key="k", version=1, body={}))
    with pytest.raises(IntegrityError):
        session.commit()


def test_node_templates_are_saved_listed_and_deleted(session):
    definitions.save_node_template(
        session,
        key="dispatch-refrigeration-200",
        node_type="dispatch",
        preset={"params": {"skills": ["refrigeration"], "radius_km": 200}},
        name="制冷派单 200km",
    )
    session.commit()
    (template,) = definitions.list_node_templates(session, node_type="dispatch")
    assert template.preset["params"]["radius_km"] == 200
    assert definitions.delete_node_template(session, key="dispatch-refrigeration-200")
    assert definitions.list_node_templates(session) == []
