"""Parts and money fields: what a field app submits is bounded before it can become money."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from workflows.forms import MONEY_MAX, FormField, check_submission
from workflows.validate import validate_definition

ROOT = Path(__file__).resolve().parents[2]
AC_REPAIR = json.loads((ROOT / "examples" / "ac-repair.json").read_text(encoding="utf-8"))


def form(**settings: Any) -> list[FormField]:
    return [FormField.model_validate({"name": "parts_used", "required": False, **settings})]


PARTS = form(type="parts")
MONEY = [FormField.model_validate({"name": "fee", "type": "money"})]


def test_parts_lines_are_accepted_and_cleaned():
    data = {"parts_used": [{"sku": "AC-CAP-35UF", "qty": 2}, {"sku": "R410A-1KG", "qty": 1}]}
    assert check_submission(PARTS, data) == (data, {})


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("AC CAP 35UF two pieces", "must be a list"),
        ("AC-CAP-35UF x2", "must be a list"),
        ([{"sku": "AC CAP 35UF", "qty": 2}], "line 1: sku must be a catalogue code"),
        ([{"sku": "ac-cap-35uf", "qty": 2}], "line 1: sku must be a catalogue code"),
        ([{"sku": "A" * 65, "qty": 1}], "line 1: sku must be a catalogue code"),
        ([{"sku": "AC-CAP-35UF", "qty": 99999999999999}], "line 1: qty must be a whole number"),
        ([{"sku": "AC-CAP-35UF", "qty": "1e29"}], "line 1: qty must be a whole number"),
        ([{"sku": "AC-CAP-35UF", "qty": 1.5}], "line 1: qty must be a whole number"),
        ([{"sku": "AC-CAP-35UF", "qty": 0}], "line 1: qty must be a whole number"),
        ([{"sku": "AC-CAP-35UF", "qty": -3}], "line 1: qty must be a whole number"),
        ([{"sku": "AC-CAP-35UF", "qty": True}], "line 1: qty must be a whole number"),
        ([{"sku": "A-1", "qty": 1}, {"sku": "A-2"}], 'line 2: must be {"sku"'),
        ([{"sku": "A-1", "qty": 1, "price": "0.01"}], 'line 1: must be {"sku"'),
        (["A-1"], 'line 1: must be {"sku"'),
    ],
)
def test_malformed_parts_are_refused_with_the_line(value, problem):
    cleaned, errors = check_submission(PARTS, {"parts_used": value})
    assert errors["parts_used"].startswith(problem)
    assert "parts_used" not in cleaned


def test_parts_lines_are_bounded_by_max_lines():
    lines = [{"sku": f"P-{i}", "qty": 1} for i in range(4)]
    _, errors = check_submission(form(type="parts", max_lines=3), {"parts_used": lines})
    assert errors == {"parts_used": "must have at most 3 lines"}
    _, errors = check_submission(PARTS, {"parts_used": lines * 6})
    assert errors == {"parts_used": "must have at most 20 lines"}


def test_max_lines_belongs_to_parts_fields_only():
    with pytest.raises(ValidationError, match="max_lines applies only to parts fields"):
        form(type="text", max_lines=3)


@pytest.mark.parametrize(
    ("amount", "problem"),
    [
        ("-500.00", "amount must be at least 0"),
        ("1e29", f"amount must be at most {MONEY_MAX}"),
        ("99999999999999", f"amount must be at most {MONEY_MAX}"),
        ("12.345", "amount has more than 2 decimal places"),
        ("NaN", "amount must be a finite number"),
        ("lots", "amount must be a number"),
        (12.5, "amount must be a string or an integer"),
        (True, "amount must be a string or an integer"),
    ],
)
def test_money_outside_its_bounds_is_refused(amount, problem):
    cleaned, errors = check_submission(MONEY, {"fee": {"amount": amount, "currency": "CNY"}})
    assert errors["fee"].startswith(problem)
    assert cleaned == {}


def test_money_is_kept_in_cents_and_a_field_may_set_its_own_bounds():
    assert check_submission(MONEY, {"fee": {"amount": 80}})[0] == {
        "fee": {"amount": "80.00", "currency": "CNY"}
    }
    refund = [FormField.model_validate({"name": "fee", "type": "money", "min": -50, "max": 50})]
    assert check_submission(refund, {"fee": {"amount": "-20.5"}})[0]["fee"]["amount"] == "-20.50"
    assert check_submission(refund, {"fee": {"amount": "51"}})[1] == {
        "fee": "amount must be at most 50"
    }


def with_parts_from(sources: list[str], *, parts_type: str = "parts") -> dict[str, Any]:
    definition = json.loads(json.dumps(AC_REPAIR))
    for node in definition["nodes"]:
        if node["id"] == "service":
            for field in node["form"]:
                if field["name"] == "parts_used":
                    field["type"] = parts_type
        if node["type"] == "settlement":
            node["params"]["parts_from"] = sources
    return definition


def test_the_air_conditioner_example_prices_its_declared_parts_field():
    report = validate_definition(AC_REPAIR)
    assert report.ok, report.problems
    settlements = [n for n in report.definition.nodes if n.type == "settlement"]
    assert [n.params.parts_from for n in settlements] == [["service.parts_used"]] * 2


@pytest.mark.parametrize(
    "source",
    ["service.diagnosis", "service.nothing", "nowhere.parts_used", "dispatch.engineer_id"],
)
def test_parts_from_must_name_a_parts_field_of_a_human_node(source):
    report = validate_definition(with_parts_from([source]))
    problems = [p for p in report.problems if p.code == "settlement_parts_source_invalid"]
    assert [p.path for p in problems] == [
        "$.nodes[3].params.parts_from[0]",
        "$.nodes[7].params.parts_from[0]",
    ]
    assert source in problems[0].message
    assert f"「{source}」不是人工节点的备件字段" in problems[0].message_zh


def test_a_free_text_parts_field_cannot_be_priced():
    report = validate_definition(with_parts_from(["service.parts_used"], parts_type="text"))
    assert {p.code for p in report.problems} == {"settlement_parts_source_invalid"}


def test_an_amount_too_large_for_decimal_is_refused_even_under_a_designers_huge_max():
    huge = [FormField.model_validate({"name": "fee", "type": "money", "max": "1e40"})]
    assert check_submission(huge, {"fee": {"amount": "1e35"}})[1] == {"fee": "amount is too large"}
