"""diff_definitions: added, removed and changed nodes between two definitions."""

import copy
import json
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from workflows.diff import diff_definitions

AC_REPAIR = json.loads(
    (Path(__file__).resolve().parents[2] / "examples" / "ac-repair.json").read_text()
)


def test_identical_definitions_have_no_difference():
    assert diff_definitions(AC_REPAIR, copy.deepcopy(AC_REPAIR)) == {
        "added": [],
        "removed": [],
        "changed": [],
        "header": [],
    }


def test_added_removed_and_changed_nodes_are_named_with_their_fields():
    target = copy.deepcopy(AC_REPAIR)
    nodes = {n["id"]: n for n in target["nodes"]}
    nodes["dispatch"]["params"]["radius_km"] = 50
    nodes["service"]["next"] = "callback"
    target["nodes"] = [n for n in target["nodes"] if n["id"] != "parts_fitting"]
    target["nodes"].append({"id": "callback", "type": "task", "next": "commissioning"})
    target["name"] = "空调维修 v2"

    diff = diff_definitions(AC_REPAIR, target)

    assert diff["added"] == ["callback"]
    assert diff["removed"] == ["parts_fitting"]
    assert {"node_id": "dispatch", "fields": ["params.radius_km"]} in diff["changed"]
    assert {"node_id": "service", "fields": ["next"]} in diff["changed"]
    assert diff["header"] == ["name"]


def test_a_setting_added_or_dropped_counts_as_changed():
    target = copy.deepcopy(AC_REPAIR)
    del target["nodes"][1]["sla"]
    target["nodes"][0]["description"] = "登记"
    diff = diff_definitions(AC_REPAIR, target)
    assert diff["changed"] == [
        {"node_id": "report", "fields": ["description"]},
        {"node_id": "dispatch", "fields": ["sla"]},
    ]


def test_the_version_number_is_not_a_difference():
    diff = diff_definitions({**AC_REPAIR, "version": 1}, {**AC_REPAIR, "version": 2})
    assert diff["header"] == []


def test_malformed_definitions_do_not_raise():
    diff = diff_definitions({"nodes": "x"}, {"nodes": [{"id": "a"}, 3, {"type": "end"}]})
    assert diff["added"] == ["a"]
    assert diff_definitions({}, {})["changed"] == []


node_ids = st.lists(st.sampled_from(["a", "b", "c", "d", "e"]), unique=True, max_size=5)


@given(node_ids, node_ids)
def test_added_and_removed_are_the_set_differences(left, right):
    a = {"nodes": [{"id": i, "type": "task"} for i in left]}
    b = {"nodes": [{"id": i, "type": "end"} for i in right]}
    diff = diff_definitions(a, b)
    assert set(diff["added"]) == set(right) - set(left)
    assert set(diff["removed"]) == set(left) - set(right)
    assert {c["node_id"] for c in diff["changed"]} == set(left) & set(right)
