"""Every validator rule, each with a definition that breaks it; the message names the node."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from tests.workflows.support import ROOT
from workflows.definition import NodeTemplate
from workflows.messages import _ZH
from workflows.validate import validate_definition

AC_REPAIR = json.loads((ROOT / "examples" / "ac-repair.json").read_text())


def minimal(*nodes: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {
        "key": "broken",
        "name": "broken",
        "start": nodes[0]["id"],
        "nodes": list(nodes),
        **fields,
    }


def codes(raw: Any, **kwargs: Any) -> dict[str, list[Any]]:
    found: dict[str, list[Any]] = {}
    for problem in validate_definition(raw, **kwargs).problems:
        found.setdefault(problem.code, []).append(problem)
    return found


def edited(change: Any) -> dict[str, Any]:
    raw = copy.deepcopy(AC_REPAIR)
    change(raw)
    return raw


def node(raw: dict[str, Any], node_id: str) -> dict[str, Any]:
    return next(n for n in raw["nodes"] if n["id"] == node_id)


END = {"id": "end", "type": "end"}


def test_the_example_pipeline_is_valid_and_resolved() -> None:
    report = validate_definition(AC_REPAIR)
    assert report.ok and report.definition is not None
    assert report.definition.node_map()["dispatch"].params.skills == ["refrigeration"]


CASES: list[tuple[str, dict[str, Any], str, str | None, str]] = [
    (
        "unknown_type",
        minimal({"id": "a", "type": "teleport", "next": "end"}, END),
        "$.nodes[0].type",
        "a",
        "teleport",
    ),
    (
        "dangling_next",
        minimal({"id": "a", "type": "report", "next": "nowhere"}, END),
        "$.nodes[0].next",
        "a",
        "nowhere",
    ),
    (
        "missing_next",
        minimal({"id": "a", "type": "report"}, END),
        "$.nodes[0].next",
        "a",
        "no next",
    ),
    (
        "duplicate_id",
        minimal({"id": "a", "type": "report", "next": "a"}, {"id": "a", "type": "end"}),
        "$.nodes[1].id",
        "a",
        "twice",
    ),
    (
        "unknown_start",
        {**minimal({"id": "a", "type": "report", "next": "end"}, END), "start": "zz"},
        "$.start",
        None,
        "zz",
    ),
    ("no_end", minimal({"id": "a", "type": "task", "next": "a"}), "$.nodes", None, "no end"),
    (
        "unreachable",
        minimal(
            {"id": "a", "type": "report", "next": "end"},
            {"id": "orphan", "type": "task", "next": "end"},
            END,
        ),
        "$.nodes[1]",
        "orphan",
        "never be reached",
    ),
    (
        "loop_without_exit",
        minimal(
            {"id": "a", "type": "report", "next": "b"},
            {"id": "b", "type": "task", "next": "c"},
            {"id": "c", "type": "task", "next": "b"},
            END,
        ),
        "$.nodes[1]",
        "b",
        "loop",
    ),
    (
        "loop_without_exit",
        minimal(
            {
                "id": "a",
                "type": "decision",
                "branches": [{"when": "true", "next": "end"}],
                "default": "stuck",
            },
            {"id": "stuck", "type": "join", "next": "stuck2"},
            {"id": "stuck2", "type": "decision", "branches": [{"when": "true", "next": "stuck"}]},
            END,
        ),
        "$.nodes[1]",
        "stuck",
        "loop",
    ),
    (
        "join_without_fork",
        minimal({"id": "a", "type": "join", "next": "end"}, END),
        "$.nodes[0]",
        "a",
        "no parallel",
    ),
    (
        "fork_without_join",
        minimal(
            {"id": "f", "type": "parallel", "branches": ["x", "y"], "join": "end"},
            {"id": "x", "type": "task", "next": "end"},
            {"id": "y", "type": "task", "next": "end"},
            END,
        ),
        "$.nodes[0].join",
        "f",
        "join node",
    ),
    (
        "branch_never_joins",
        minimal(
            {"id": "f", "type": "parallel", "branches": ["x", "y"], "join": "j"},
            {"id": "x", "type": "task", "next": "j"},
            {"id": "y", "type": "task", "next": "end"},
            {"id": "j", "type": "join", "next": "end"},
            END,
        ),
        "$.nodes[0].branches[1]",
        "f",
        "never reaches join",
    ),
    (
        "expression_invalid",
        edited(lambda r: node(r, "parts")["branches"][0].update(when="service.parts_needed ==")),
        "$.nodes[4].branches[0].when",
        "parts",
        "does not parse",
    ),
    (
        "expression_invalid",
        edited(
            lambda r: node(r, "parts")["branches"][0].update(when="__import__('os').system('x')")
        ),
        "$.nodes[4].branches[0].when",
        "parts",
        "only these functions",
    ),
    (
        "expression_unknown_variable",
        edited(lambda r: node(r, "parts")["branches"][0].update(when="servce.parts_needed")),
        "$.nodes[4].branches[0].when",
        "parts",
        "servce",
    ),
    (
        "expression_unknown_variable",
        edited(lambda r: node(r, "parts")["branches"][0].update(when="service.parts_neded")),
        "$.nodes[4].branches[0].when",
        "parts",
        "parts_neded",
    ),
    (
        "invalid_setting",
        edited(
            lambda r: node(r, "service")["form"].append(
                {"name": "qty", "type": "number", "min": 5, "max": 1}
            )
        ),
        "$.nodes[2].form[4]",
        "service",
        "larger than max",
    ),
    (
        "invalid_setting",
        edited(lambda r: node(r, "service")["form"].append({"name": "kind", "type": "choice"})),
        "$.nodes[2].form[4]",
        "service",
        "at least one entry",
    ),
    (
        "form_duplicate_field",
        edited(lambda r: node(r, "service")["form"].append({"name": "diagnosis", "type": "text"})),
        "$.nodes[2].form[4].name",
        "service",
        "2 times",
    ),
    (
        "invalid_setting",
        edited(lambda r: node(r, "service")["sla"].update(within="P1M")),
        "$.nodes[2].sla.within",
        "service",
        "ISO-8601",
    ),
    (
        "invalid_setting",
        edited(lambda r: node(r, "service")["sla"].update(within="4 hours")),
        "$.nodes[2].sla.within",
        "service",
        "ISO-8601",
    ),
    (
        "sla_incomplete",
        edited(lambda r: node(r, "dispatch")["sla"].update(escalate_to="")),
        "$.nodes[1].sla.escalate_to",
        "dispatch",
        "role",
    ),
    (
        "invalid_setting",
        edited(lambda r: node(r, "commissioning")["params"].update(share="1.5")),
        "$.nodes[3].params.share",
        "commissioning",
        "less than or equal to 1",
    ),
    (
        "invalid_setting",
        edited(lambda r: node(r, "dispatch").update(colour="red")),
        "$.nodes[1].colour",
        "dispatch",
        "not a setting",
    ),
    (
        "assignee_without_dispatch",
        minimal(
            {"id": "a", "type": "task", "next": "end", "assignee": {"kind": "dispatched_engineer"}},
            END,
        ),
        "$.nodes[0].assignee",
        "a",
        "no dispatch node",
    ),
    (
        "recursive_subpipeline",
        minimal(
            {"id": "a", "type": "subpipeline", "next": "end", "params": {"definition": "broken"}},
            END,
        ),
        "$.nodes[0].params.definition",
        "a",
        "its own",
    ),
    (
        "decision_has_next",
        minimal(
            {
                "id": "a",
                "type": "decision",
                "next": "end",
                "branches": [{"when": "true", "next": "end"}],
            },
            END,
        ),
        "$.nodes[0].next",
        "a",
        "branches",
    ),
    (
        "invalid_node",
        minimal({"id": "a", "type": "report", "next": "end"}, END, "oops"),
        "$.nodes[2]",
        None,
        "object",
    ),
    (
        "id_shadows_variable",
        minimal(
            {"id": "fault", "type": "report", "next": "end"}, END, variables=[{"name": "fault"}]
        ),
        "$.nodes[0].id",
        "fault",
        "variable name",
    ),
    (
        "assignee_incomplete",
        minimal({"id": "a", "type": "task", "next": "end", "assignee": {"kind": "role"}}, END),
        "$.nodes[0].assignee.value",
        "a",
        "needs a value",
    ),
    (
        "notify_no_recipient",
        minimal({"id": "a", "type": "notify", "next": "end", "params": {"message": "hi"}}, END),
        "$.nodes[0].params.to_roles",
        "a",
        "at least one role",
    ),
    (
        "parallel_has_next",
        minimal(
            {"id": "f", "type": "parallel", "branches": ["x", "y"], "join": "j", "next": "end"},
            {"id": "x", "type": "task", "next": "j"},
            {"id": "y", "type": "task", "next": "j"},
            {"id": "j", "type": "join", "next": "end"},
            END,
        ),
        "$.nodes[0].next",
        "f",
        "after its join",
    ),
    (
        "end_has_next",
        minimal(
            {"id": "a", "type": "report", "next": "end"}, {"id": "end", "type": "end", "next": "a"}
        ),
        "$.nodes[1].next",
        "end",
        "no next",
    ),
    (
        "invalid_field",
        {**minimal({"id": "a", "type": "report", "next": "end"}, END), "key": "Bad Key"},
        "$.key",
        None,
        "pattern",
    ),
    (
        "definition_too_large",
        minimal(*({"id": f"n{i}", "type": "task", "next": "end"} for i in range(600)), END),
        "$.nodes",
        None,
        "at most 500",
    ),
    (
        "invalid_text",
        minimal({"id": "a", "type": "task", "next": "end", "name": "UX-\ud800"}, END),
        "$.nodes[0].name",
        "a",
        "unpaired surrogate",
    ),
    (
        "form_pattern_invalid",
        minimal(
            {
                "id": "a",
                "type": "task",
                "next": "end",
                "form": [{"name": "code", "type": "text", "pattern": "(a)\\1"}],
            },
            END,
        ),
        "$.nodes[0].form[0].pattern",
        "a",
        "code",
    ),
]


@pytest.mark.parametrize(
    ("code", "raw", "path", "node_id", "words"),
    CASES,
    ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)],
)
def test_rule_is_reported_at_its_node(
    code: str, raw: dict[str, Any], path: str, node_id: str | None, words: str
) -> None:
    report = validate_definition(raw)
    assert not report.ok and report.definition is None
    matching = [p for p in report.problems if p.code == code]
    assert matching, [p.model_dump() for p in report.problems]
    problem = next((p for p in matching if p.path.startswith(path)), matching[0])
    assert problem.path.startswith(path)
    assert problem.node_id == node_id
    assert words in problem.message
    if node_id:
        assert node_id in problem.message and node_id in problem.message_zh


def test_branch_that_ends_before_join_is_reported() -> None:
    raw = minimal(
        {"id": "f", "type": "parallel", "branches": ["x", "y"], "join": "j"},
        {
            "id": "x",
            "type": "decision",
            "branches": [{"when": "true", "next": "j"}],
            "default": "end",
        },
        {"id": "y", "type": "task", "next": "j"},
        {"id": "j", "type": "join", "next": "end"},
        END,
    )
    assert [p.node_id for p in codes(raw)["branch_escapes_join"]] == ["f"]


def test_branch_into_a_node_of_unknown_type_is_reported_not_raised() -> None:
    raw = minimal(
        {"id": "f", "type": "parallel", "branches": ["x", "y"], "join": "j"},
        {"id": "x", "type": "task", "next": "bad"},
        {"id": "bad", "type": "weird", "next": "j"},
        {"id": "y", "type": "task", "next": "j"},
        {"id": "j", "type": "join", "next": "end"},
        END,
    )
    assert [p.node_id for p in codes(raw)["unknown_type"]] == ["bad"]


def test_join_shared_by_two_forks_is_reported() -> None:
    raw = minimal(
        {"id": "f1", "type": "parallel", "branches": ["a", "b"], "join": "j"},
        {"id": "a", "type": "task", "next": "j"},
        {"id": "b", "type": "task", "next": "f2"},
        {"id": "f2", "type": "parallel", "branches": ["c", "d"], "join": "j"},
        {"id": "c", "type": "task", "next": "j"},
        {"id": "d", "type": "task", "next": "j"},
        {"id": "j", "type": "join", "next": "end"},
        END,
    )
    assert "join_shared" in codes(raw)


def test_all_problems_are_returned_at_once() -> None:
    def break_many(r: dict[str, Any]) -> None:
        node(r, "report")["type"] = "teleport"
        node(r, "signoff")["next"] = "nowhere"
        node(r, "parts")["branches"][0]["when"] = "x >"

    found = codes(edited(break_many))
    assert {"unknown_type", "dangling_next", "expression_invalid"} <= set(found)


def test_loop_with_an_exit_is_valid() -> None:
    raw = minimal(
        {
            "id": "visit",
            "type": "task",
            "next": "again",
            "form": [{"name": "fixed", "type": "boolean"}],
        },
        {
            "id": "again",
            "type": "decision",
            "branches": [{"when": "visit.fixed", "next": "end"}],
            "default": "visit",
        },
        END,
    )
    assert validate_definition(raw).ok


TEMPLATE = NodeTemplate(
    key="dispatch-refrigeration",
    name="派单给制冷持证工程师（200 km）",
    node={"type": "dispatch", "params": {"skills": ["refrigeration"], "radius_km": 200}},
    locked=["params.skills"],
)


def test_template_reference_resolves_with_overrides() -> None:
    raw = minimal(
        {
            "id": "d",
            "template": "dispatch-refrigeration",
            "next": "end",
            "params": {"radius_km": 50},
        },
        END,
    )
    report = validate_definition(raw, templates={TEMPLATE.key: TEMPLATE})
    assert report.ok and report.definition is not None
    params = report.definition.node_map()["d"].params
    assert params.skills == ["refrigeration"] and params.radius_km == 50


def test_unknown_template_and_locked_override_are_reported() -> None:
    raw = minimal(
        {
            "id": "d",
            "template": "dispatch-refrigeration",
            "next": "x",
            "params": {"skills": ["gas"]},
        },
        {"id": "x", "template": "no-such-template", "next": "end"},
        END,
    )
    found = codes(raw, templates={TEMPLATE.key: TEMPLATE})
    assert found["template_locked"][0].node_id == "d"
    assert found["unknown_template"][0].node_id == "x"


def test_unpublished_subpipeline_is_reported_when_known_keys_are_given() -> None:
    raw = minimal(
        {"id": "a", "type": "subpipeline", "next": "end", "params": {"definition": "inspection"}},
        END,
    )
    assert "unknown_subpipeline" in codes(raw, known_definitions={"ac-repair"})
    assert validate_definition(raw, known_definitions={"inspection"}).ok


def test_non_object_definition_is_refused_clearly() -> None:
    assert codes([1, 2])["invalid_definition"][0].path == "$"


def test_every_problem_code_has_a_breaking_definition_here() -> None:
    covered = {case[0] for case in CASES} | {
        "branch_escapes_join",
        "join_shared",
        "unknown_template",
        "template_locked",
        "unknown_subpipeline",
        "invalid_definition",
        "unassigned_step",  # a warning: test_unassigned_human_step_warns_but_validates
        "settlement_parts_source_invalid",  # test_forms.py: test_parts_from_must_name_a_parts_...
    }
    assert set(_ZH) <= covered, sorted(set(_ZH) - covered)


def test_oversized_definitions_are_refused_before_any_other_work() -> None:
    many = minimal(END, variables=[{"name": "x", "type": "list", "default": [0] * 200_000}])
    [problem] = codes(many)["definition_too_large"]
    assert problem.path == "$" and "100000 values" in problem.message
    deep: Any = "x"
    for _ in range(5000):
        deep = {"d": deep}
    [problem] = codes(minimal(END, description=deep))["definition_too_large"]
    assert "nests deeper" in problem.message and problem.message_zh


def test_lone_surrogate_in_the_definition_name_is_a_problem_not_an_exception() -> None:
    raw = edited(lambda r: r.update(name="UX-\ud800"))
    [problem] = validate_definition(raw).problems
    assert (problem.code, problem.path) == ("invalid_text", "$.name")
    problem.model_dump_json()  # the answer itself can be sent


def test_unassigned_human_step_warns_but_validates() -> None:
    raw = edited(lambda r: node(r, "parts_fitting").pop("assignee"))
    report = validate_definition(raw)
    [warning] = report.problems
    assert (warning.code, warning.severity) == ("unassigned_step", "warning")
    assert warning.node_id == "parts_fitting" and warning.path.endswith(".assignee")
    assert "dispatcher" in warning.message and "调度员" in warning.message_zh
    assert report.ok and report.definition is not None  # still publishable


def test_a_warning_does_not_hide_errors() -> None:
    def change(r: dict[str, Any]) -> None:
        node(r, "parts_fitting").pop("assignee")
        node(r, "service")["next"] = "nowhere"

    report = validate_definition(edited(change))
    assert {p.severity for p in report.problems} == {"error", "warning"}
    assert not report.ok and report.definition is None
