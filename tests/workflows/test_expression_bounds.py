"""Each attack from "valid-looking pipelines wedge the worker" on expressions, refused.

A refusal is an ExpressionError (at validation: a problem naming node and path), raised
fast and the same way every time; never a RecursionError, a hang or a huge value.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from temporalio.client import Client, WorkflowFailureError

from tests.workflows.support import definition, start_order
from workflows.expressions import (
    MAX_DEPTH,
    MAX_LENGTH,
    MAX_NODES,
    MAX_SIZE,
    MAX_STEPS,
    ExpressionError,
    ExpressionLimitError,
    compile_expression,
    evaluate,
)
from workflows.validate import validate_definition

HUGE_FEE = {"amount": "1e300000", "currency": "CNY"}


def refused(call: Callable[[], Any], error: type[ExpressionError] = ExpressionError) -> str:
    """The message of the refusal; fails if it takes more than a blink or is not refused."""
    began = time.perf_counter()
    with pytest.raises(error) as caught:
        call()
    assert time.perf_counter() - began < 0.5
    return str(caught.value)


def decision(when: str) -> dict[str, Any]:
    return {
        "key": "attack",
        "name": "attack",
        "variables": [{"name": "fee", "type": "money"}, {"name": "n", "type": "number"}],
        "start": "pick",
        "nodes": [
            {
                "id": "pick",
                "type": "decision",
                "branches": [{"when": when, "next": "end"}],
                "default": "end",
            },
            {"id": "end", "type": "end"},
        ],
    }


# ---- 1. numbers ------------------------------------------------------------------------


def test_decimal_exponent_blowup_is_refused_at_validation() -> None:
    report = validate_definition(decision('int(decimal("1e300000")) > 0'))
    [problem] = report.problems
    assert problem.code == "expression_invalid"
    assert problem.node_id == "pick" and problem.path == "$.nodes[0].branches[0].when"
    assert "out of range" in problem.message and "pick" in problem.message_zh


@pytest.mark.parametrize(
    "source", ["int(fee) > 0", "round(fee) > 0", "fee + 1 > 0", "fee * 2 > 0", "abs(fee) > 0"]
)
def test_huge_decimal_from_order_data_is_refused_at_run_time(source: str) -> None:
    message = refused(lambda: evaluate(source, {"fee": HUGE_FEE}), ExpressionLimitError)
    assert "out of range" in message and source in message


def test_comparing_a_huge_number_still_works_as_it_is_cheap() -> None:
    assert evaluate("fee > 500", {"fee": HUGE_FEE}) is True


@pytest.mark.parametrize(
    "source",
    ["1" + "0" * 36, "1e400", 'decimal("1e-100")', 'int("9" * 101)', "round(fee, 1000)"],
)
def test_numbers_beyond_the_bound_are_refused(source: str) -> None:
    refused(lambda: evaluate(source, {"fee": Decimal("1.5")}), ExpressionLimitError)


def test_integer_results_are_bounded() -> None:
    assert evaluate("n * n", {"n": 10**17}) == 10**34
    assert "out of range" in refused(lambda: evaluate("n * n", {"n": 10**18}))
    assert "out of range" in refused(lambda: evaluate("str(n)", {"n": 10**4000}))


@pytest.mark.parametrize("source", ['decimal("nan") > 0', "1j", "b'x'", "..."])
def test_values_that_are_not_plain_numbers_or_text_are_refused(source: str) -> None:
    refused(lambda: evaluate(source, {}))


def test_decimal_division_errors_are_clear() -> None:
    assert "division by zero" in refused(lambda: evaluate("decimal(1) / 0", {}))


# ---- 2. bounded parse --------------------------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        "-" * 1990 + "1",
        "not " * 450 + "1",
        "1" + "+1" * 999,
        "(" * 300 + "1" + ")" * 300,
        "[" * 500 + "]" * 500,
        " or ".join(["x"] * 300),
    ],
    ids=["unary", "not", "sum", "parens", "lists", "wide"],
)
def test_deep_or_large_trees_are_refused_without_recursion(source: str) -> None:
    message = refused(lambda: compile_expression(source))
    assert "RecursionError" not in message
    report = validate_definition(decision(source))
    problem = next(p for p in report.problems if p.code == "expression_invalid")
    assert problem.node_id == "pick" and problem.path == "$.nodes[0].branches[0].when"
    assert len(problem.message) < 400  # the source is shortened, not echoed whole


def test_bounds_are_stated_in_the_message() -> None:
    assert f"deeper than {MAX_DEPTH}" in refused(lambda: compile_expression("-" * 100 + "1"))
    wide = " or ".join(["x"] * (MAX_NODES // 2))
    assert f"more than {MAX_NODES} parts" in refused(lambda: compile_expression(wide))
    long = "x == '" + "a" * MAX_LENGTH + "'"
    assert f"longer than {MAX_LENGTH}" in refused(lambda: compile_expression(long))


@pytest.mark.parametrize("source", ["1\x00", "'\ud800' == x", "x ==", "x = 1"])
def test_parser_failures_are_plain_refusals(source: str) -> None:
    refused(lambda: compile_expression(source))


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="-+*/%()[]1x.,'\"<=> notandorif", max_size=400))
def test_any_source_compiles_or_is_refused_and_runs_or_fails_cleanly(source: str) -> None:
    try:
        expression = compile_expression(source)
    except ExpressionError:
        return
    with contextlib.suppress(ExpressionError):
        evaluate(expression, {"x": 3})


# ---- 1. sizes ----------------------------------------------------------------------------


def test_string_repetition_is_bounded_before_it_is_built() -> None:
    assert len(evaluate('"-" * 1990 + "1"', {})) == 1991
    assert "longer than" in refused(lambda: evaluate('"ab" * 5001', {}))
    assert "longer than" in refused(lambda: evaluate('"-" * n', {"n": 10**30}))
    assert "longer than" in refused(lambda: evaluate("[1] * n", {"n": MAX_SIZE + 1}))
    assert "longer than" in refused(lambda: evaluate("t + t", {"t": "a" * MAX_SIZE}))


def test_text_formatting_with_percent_is_refused() -> None:
    assert "formatting" in refused(lambda: evaluate('"%0999999999d" % 1', {}))
    assert evaluate("7 % 4", {}) == 3


def test_list_literals_work() -> None:
    assert evaluate('x in ["a", "b"]', {"x": "a"}) is True
    assert evaluate('x not in ("a", "b")', {"x": "c"}) is True


# ---- 3. budget ---------------------------------------------------------------------------


def test_scanning_huge_data_exceeds_the_step_budget_the_same_way_each_time() -> None:
    big = {"parts": list(range(MAX_STEPS + 1))}
    first = refused(lambda: evaluate("0 in parts", big), ExpressionLimitError)
    second = refused(lambda: evaluate("0 in parts", big), ExpressionLimitError)
    assert first == second and f"more than {MAX_STEPS} steps" in first
    refused(lambda: evaluate("max(parts) > 0", big), ExpressionLimitError)
    assert evaluate("len(parts)", big) == MAX_STEPS + 1  # len does not walk


def test_deeply_nested_order_data_fails_as_an_expression_error() -> None:
    deep: list[Any] = []
    for _ in range(5000):
        deep = [deep]
    message = refused(lambda: evaluate("str(d)", {"d": deep}), ExpressionLimitError)
    assert "nests too deeply" in message


def test_ordinary_expressions_still_evaluate() -> None:
    variables = {"service": {"fee": {"amount": "650.50", "currency": "CNY"}, "ok": True}}
    assert evaluate("service.ok and service.fee > 500", variables) is True
    assert evaluate('round(decimal("2.675"), 2)', {}) == Decimal("2.68")
    assert evaluate("decimal(0.1) + 1", {}) == Decimal("1.1")
    assert evaluate("int('42') + abs(-1)", {}) == 43


# ---- the attack through a running order --------------------------------------------------


@pytest.mark.usefixtures("worker")
async def test_order_with_a_huge_number_fails_instead_of_wedging(
    client: Client, task_queue: str
) -> None:
    raw = decision("int(fee) > 0")
    defn = definition(raw["nodes"], variables=raw["variables"])
    handle = await start_order(client, defn, task_queue, variables={"fee": HUGE_FEE})
    with pytest.raises(WorkflowFailureError) as failed:
        await handle.result()
    assert "out of range" in str(failed.value.cause)
