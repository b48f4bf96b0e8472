"""The dispatch node's new params are checked by the validator, naming node and field."""

import json
from pathlib import Path

from workflows.validate import validate_definition

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "smart-lock-install.json"


def with_dispatch_params(**params):
    raw = json.loads(EXAMPLE.read_text())
    dispatch = next(n for n in raw["nodes"] if n["id"] == "dispatch")
    dispatch["params"] = {**dispatch["params"], **params}
    return validate_definition(raw)


def test_the_smart_lock_example_names_its_policy_and_is_valid():
    assert with_dispatch_params().problems == []


def test_an_acceptance_time_under_a_minute_is_refused_naming_node_and_field():
    report = with_dispatch_params(accept_within="PT10S")
    problem = next(p for p in report.problems if p.node_id == "dispatch")
    assert problem.node_id == "dispatch"
    assert problem.path.endswith("params.accept_within")
    assert "PT1M" in problem.message


def test_a_policy_key_that_cannot_be_one_is_refused_naming_the_field():
    report = with_dispatch_params(policy="Not A Key!")
    problem = next(p for p in report.problems if p.node_id == "dispatch")
    assert problem.node_id == "dispatch" and problem.path.endswith("params.policy")
