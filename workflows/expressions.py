"""Safe, deterministic expressions for decision branches, assignees and sub-pipeline inputs.

Expressions are Python-like (`service.parts_needed and service.fee > 500`) and are
evaluated by `simpleeval`, chosen over CEL (cel-python) in bench/expressions.py: about 15x
faster per evaluation and 3x per compile here, a syntax designers already read, Decimal
arithmetic as is, and Python's own AST, which we whitelist and walk to check every variable
an expression names at validation time. Before anything is evaluated, the parsed tree is
checked against a whitelist: literals, names, field access, comparisons, boolean and
arithmetic operators, `x if c else y`, and a few pure functions. No calls of methods, no
comprehensions, no lambdas, no subscripts of anything but names, so nothing reaches the
interpreter, the clock or I/O. Never `eval`.

Everything is bounded, because an evaluation runs inside workflow code where a slow or
crashing expression wedges the order (Temporal retries the workflow task forever):
the source, its tree (node count and depth, so neither parser nor evaluator can recurse
deeply), every number (magnitude below 10^36, Decimal arithmetic in a fixed context whose
exponent range traps overflow), every text or list an operator builds, and the work of
one evaluation (a step budget; steps, not time, so the same input always fails the same
way on replay).
"""

from __future__ import annotations

import ast
import decimal
import math
import operator
import types
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Any

import simpleeval

MAX_LENGTH = 2000
"""Characters of source."""
MAX_NODES = 400
"""Syntax-tree nodes; `service.fee > 500 and not service.parts_needed` has 13."""
MAX_DEPTH = 40
"""Syntax-tree nesting; the evaluator recurses about twice per level, so this keeps it
far below Python's recursion limit wherever the workflow calls it from."""
MAX_DIGITS = 36
"""Numbers stay below 10^36 in magnitude: beyond any amount, count or quantity of an
order, and small enough that int/Decimal conversions and arithmetic take microseconds."""
MAX_SIZE = 10_000
"""Longest text, list or tuple an operator or function may build."""
MAX_NUMBER_TEXT = 100
"""Longest text `int()` or `decimal()` will read a number from."""
MAX_STEPS = 100_000
"""Work of one evaluation: one step per tree node visited, plus one per element of
any text, list or mapping scanned by `in`, `min`, `max`, `len`, `str` and the like."""

_LIMIT = 10**MAX_DIGITS
# decimal128 precision; the exponent range keeps every Decimal result below 10^36 and
# traps overflow instead of building a number with a million digits.
CONTEXT = decimal.Context(
    prec=34,
    Emax=MAX_DIGITS - 1,
    Emin=-MAX_DIGITS + 1,
    rounding=decimal.ROUND_HALF_EVEN,
    traps=[decimal.InvalidOperation, decimal.DivisionByZero, decimal.Overflow],
)
_SIZED = (str, list, tuple, dict)


class ExpressionError(ValueError):
    """An expression that does not parse, uses something not allowed, or fails to run."""


class ExpressionLimitError(ExpressionError):
    """An expression, or a value it computes, goes beyond one of the bounds above."""


def _out_of_range() -> ExpressionLimitError:
    return ExpressionLimitError(
        f"a number is out of range (numbers must stay below 10^{MAX_DIGITS} in magnitude)"
    )


def _decimal_in_range(value: Decimal) -> bool:
    # copy_abs and the comparison ignore the context: exact and cheap even for 1e300000.
    exponent = value.as_tuple().exponent
    if not isinstance(exponent, int):  # NaN or infinity
        return False
    return value.copy_abs() < _LIMIT and exponent >= CONTEXT.Etiny()


def _bounded(value: Any) -> Any:
    """`value` when it is within the bounds; raises ExpressionLimitError otherwise."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        if -_LIMIT < value < _LIMIT:
            return value
        raise _out_of_range()
    if isinstance(value, float):
        if math.isfinite(value) and abs(value) < _LIMIT:
            return value
        raise _out_of_range()
    if isinstance(value, Decimal):
        if _decimal_in_range(value):
            return value
        raise _out_of_range() if value.is_finite() else ExpressionError("a number is not finite")
    if isinstance(value, str | list | tuple) and len(value) > MAX_SIZE:
        raise ExpressionLimitError(f"a value is longer than {MAX_SIZE} characters or items")
    return value


def _number_text(value: str) -> str:
    if len(value) > MAX_NUMBER_TEXT:
        raise ExpressionLimitError(
            f"a number is written with more than {MAX_NUMBER_TEXT} characters"
        )
    return value


def _to_decimal(value: Any) -> Decimal:
    """`decimal(x)`; a float is taken as written (its shortest repr), not its binary expansion."""
    if isinstance(value, float):
        value = repr(value)
    elif isinstance(value, str):
        value = _number_text(value.strip())
    elif isinstance(value, Decimal | int):
        value = _bounded(value)
    else:
        raise TypeError(f"decimal() cannot convert {type(value).__name__}")
    return _bounded(Decimal(value))


def _to_int(value: Any) -> int:
    """`int(x)`: the bound is checked before converting, as int(1e300000) is the expensive part."""
    if isinstance(value, str):
        return _bounded(int(_number_text(value)))
    if isinstance(value, int | float | Decimal):
        return int(_bounded(value))
    raise TypeError(f"int() cannot convert {type(value).__name__}")


def _round(value: Any, digits: Any = None) -> Any:
    if digits is None:
        return _bounded(round(_bounded(value)))
    if not isinstance(digits, int) or isinstance(digits, bool) or abs(digits) > MAX_DIGITS:
        raise ExpressionLimitError(f"round() takes a number of digits within ±{MAX_DIGITS}")
    return _bounded(round(_bounded(value), digits))


def _abs(value: Any) -> Any:
    return _bounded(abs(value))


def _str(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        _bounded(value)  # int to text is quadratic in its digits
    return _bounded(str(value))


FUNCTIONS: dict[str, Any] = {
    "abs": _abs,
    "min": min,
    "max": max,
    "len": len,
    "round": _round,
    "int": _to_int,
    "str": _str,
    "decimal": _to_decimal,
}
CONSTANTS = {"true": True, "false": False, "null": None, "True": True, "False": False, "None": None}

_ALLOWED_NODES: tuple[type[ast.AST], ...] = (
    ast.Expression,
    ast.BoolOp,
    ast.And,
    ast.Or,
    ast.UnaryOp,
    ast.Not,
    ast.USub,
    ast.UAdd,
    ast.BinOp,
    ast.Add,
    ast.Sub,
    ast.Mult,
    ast.Div,
    ast.Mod,
    ast.FloorDiv,
    ast.Compare,
    ast.Eq,
    ast.NotEq,
    ast.Lt,
    ast.LtE,
    ast.Gt,
    ast.GtE,
    ast.In,
    ast.NotIn,
    ast.IfExp,
    ast.Constant,
    ast.Name,
    ast.Load,
    ast.Attribute,
    ast.Subscript,
    ast.List,
    ast.Tuple,
    ast.Call,
)

_CONSTANT_TYPES = (str, int, float, bool, type(None))


@dataclass(frozen=True)
class Expression:
    source: str
    tree: ast.Expression
    references: tuple[tuple[str, ...], ...]
    """Each variable the expression reads, as a path: ("service", "parts_needed")."""


def _reference_path(node: ast.AST) -> tuple[str, ...] | None:
    parts: list[str] = []
    while isinstance(node, ast.Attribute | ast.Subscript):
        if isinstance(node, ast.Attribute):
            parts.append(node.attr)
        elif isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, str):
            parts.append(node.slice.value)
        else:
            return None
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return tuple(reversed(parts))
    return None


def _check_shape(tree: ast.Expression) -> None:
    """Node count and depth, counted without recursion so a deep tree cannot overflow here."""
    count = 0
    stack: list[tuple[ast.AST, int]] = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        count += 1
        if count > MAX_NODES:
            raise ExpressionLimitError(f"the expression has more than {MAX_NODES} parts")
        if depth > MAX_DEPTH:
            raise ExpressionLimitError(f"the expression nests deeper than {MAX_DEPTH} levels")
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))


def _check_literal_conversion(call: ast.Call) -> None:
    """`decimal("1e300000")` and `int("x")` with a literal fail at validation, not at run time."""
    name = call.func.id if isinstance(call.func, ast.Name) else None
    literal = call.args[0] if len(call.args) == 1 else None
    if name not in ("int", "decimal") or not isinstance(literal, ast.Constant):
        return
    try:
        FUNCTIONS[name](literal.value)
    except ExpressionError:
        raise
    except (ValueError, TypeError, ArithmeticError) as exc:
        raise ExpressionError(f"{name}({literal.value!r}) cannot be computed: {exc}") from None


def _check_node(node: ast.AST) -> None:
    if not isinstance(node, _ALLOWED_NODES):
        raise ExpressionError(f"'{type(node).__name__}' is not allowed in an expression")
    if isinstance(node, ast.Constant):
        if not isinstance(node.value, _CONSTANT_TYPES):
            raise ExpressionError(f"the literal {node.value!r} is not allowed in an expression")
        _bounded(node.value)
    if isinstance(node, ast.Call):
        _check_literal_conversion(node)
        if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
            raise ExpressionError(
                "only these functions may be called: " + ", ".join(sorted(FUNCTIONS))
            )
        if node.keywords:
            raise ExpressionError("functions take positional arguments only")
    if isinstance(node, ast.Attribute) and node.attr.startswith("_"):
        raise ExpressionError(f"field '{node.attr}' may not start with '_'")
    if isinstance(node, ast.Attribute | ast.Subscript) and _reference_path(node) is None:
        raise ExpressionError("fields can only be read from variables, e.g. service.ok")


def _check(tree: ast.Expression) -> tuple[tuple[str, ...], ...]:
    _check_shape(tree)
    for node in ast.walk(tree):
        _check_node(node)
    references: list[tuple[str, ...]] = []
    called = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    inner = {id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Attribute | ast.Subscript)}
    for node in ast.walk(tree):
        if id(node) in inner or id(node) in called:
            continue
        if isinstance(node, ast.Attribute | ast.Subscript | ast.Name):
            path = _reference_path(node)
            if path and path[0] not in CONSTANTS:
                references.append(path)
    return tuple(dict.fromkeys(references))


def _parse(source: str) -> ast.Expression:
    """The tree, or ExpressionError: every way the parser can fail is a plain refusal."""
    try:
        return ast.parse(source.strip(), mode="eval")
    except SyntaxError as exc:
        column = f" at column {exc.offset}" if exc.offset else ""
        raise ExpressionError(f"does not parse{column}: {exc.msg}") from None
    except (ValueError, UnicodeError) as exc:  # NUL characters, unpaired surrogates
        raise ExpressionError(f"does not parse: {exc}") from None
    except (RecursionError, MemoryError):
        raise ExpressionLimitError("the expression nests too deeply to parse") from None


@lru_cache(maxsize=4096)
def compile_expression(source: str) -> Expression:
    """Parse and check an expression; raises ExpressionError naming what is wrong."""
    if not isinstance(source, str) or not source.strip():
        raise ExpressionError("the expression is empty")
    if len(source) > MAX_LENGTH:
        raise ExpressionLimitError(f"the expression is longer than {MAX_LENGTH} characters")
    tree = _parse(source)
    return Expression(source=source, tree=tree, references=_check(tree))


def _for_expressions(value: Any) -> Any:
    """Money values ({amount, currency}) compare as Decimal amounts."""
    if isinstance(value, dict):
        if set(value) == {"amount", "currency"}:
            try:
                return Decimal(str(value["amount"]))
            except ArithmeticError:
                return value
        return {k: _for_expressions(v) for k, v in value.items()}
    return value


class _Evaluator(simpleeval.SimpleEval):  # type: ignore[misc]
    """simpleeval with a step budget and bounded operators, for one evaluation."""

    def __init__(self, names: dict[str, Any]) -> None:
        super().__init__(operators=self._bounded_operators(), functions=FUNCTIONS, names=names)
        self.nodes[ast.List] = lambda node: [self._eval(item) for item in node.elts]
        self.nodes[ast.Tuple] = lambda node: tuple(self._eval(item) for item in node.elts)
        self.steps = 0

    def _spend(self, steps: int) -> None:
        self.steps += steps
        if self.steps > MAX_STEPS:
            raise ExpressionLimitError(f"the evaluation took more than {MAX_STEPS} steps")

    def _eval(self, node: ast.AST) -> Any:
        # Replaces simpleeval's _eval, whose scan of every result for forbidden functions
        # recurses through nested data: names here hold only JSON-like order data, and
        # callables only reach a call through FUNCTIONS, so a module check is enough.
        self._spend(1)
        handler = self.nodes.get(type(node))
        if handler is None:
            raise ExpressionError(f"'{type(node).__name__}' is not allowed in an expression")
        result = handler(node)
        if isinstance(result, types.ModuleType):
            raise ExpressionError("modules are not allowed in an expression")
        return result

    def _eval_call(self, node: ast.Call) -> Any:
        args = [self._eval(arg) for arg in node.args]
        if not (isinstance(node.func, ast.Name) and node.func.id == "len"):
            # min/max/str walk their argument: that work counts against the budget.
            self._spend(sum(len(a) for a in args if isinstance(a, _SIZED)))
        func = FUNCTIONS[node.func.id] if isinstance(node.func, ast.Name) else None
        if func is None:
            raise ExpressionError("only named functions may be called")
        return func(*args)

    def _bounded_operators(self) -> dict[type[ast.AST], Callable[..., Any]]:
        def arithmetic(op: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
            return lambda a, b: _bounded(op(a, b))

        return {
            ast.Add: self._add,
            ast.Sub: arithmetic(operator.sub),
            ast.Mult: self._mul,
            ast.Div: arithmetic(operator.truediv),
            ast.FloorDiv: arithmetic(operator.floordiv),
            ast.Mod: self._mod,
            ast.USub: lambda a: _bounded(-a),
            ast.UAdd: lambda a: _bounded(+a),
            ast.Not: operator.not_,
            ast.Eq: operator.eq,
            ast.NotEq: operator.ne,
            ast.Lt: operator.lt,
            ast.LtE: operator.le,
            ast.Gt: operator.gt,
            ast.GtE: operator.ge,
            ast.In: self._contains,
            ast.NotIn: lambda a, b: not self._contains(a, b),
        }

    def _add(self, a: Any, b: Any) -> Any:
        if isinstance(a, _SIZED) and isinstance(b, _SIZED) and len(a) + len(b) > MAX_SIZE:
            raise ExpressionLimitError(f"a value is longer than {MAX_SIZE} characters or items")
        return _bounded(a + b)

    def _mul(self, a: Any, b: Any) -> Any:
        # Checked before multiplying: "-" * 10**30 must not be built to be measured.
        for seq, count in ((a, b), (b, a)):
            sized = isinstance(seq, _SIZED) and isinstance(count, int)
            if sized and len(seq) * max(count, 0) > MAX_SIZE:
                raise ExpressionLimitError(f"a value is longer than {MAX_SIZE} characters or items")
        return _bounded(a * b)

    def _mod(self, a: Any, b: Any) -> Any:
        if isinstance(a, str):  # "%0999999999d" % 1 would build a gigabyte
            raise ExpressionError("'%' is arithmetic only; text formatting is not supported")
        return _bounded(a % b)

    def _contains(self, a: Any, b: Any) -> bool:
        self._spend(len(b) if isinstance(b, _SIZED) else 1)
        return a in b


def _explain(exc: Exception) -> ExpressionError:
    """The error to report for an exception of an evaluation; decimal's own name only traps."""
    if isinstance(exc, ExpressionError):
        return type(exc)(str(exc))
    if isinstance(exc, RecursionError):  # comparing or printing deeply nested order data
        return ExpressionLimitError("the data nests too deeply")
    if isinstance(exc, decimal.Overflow):
        return _out_of_range()
    if isinstance(exc, ZeroDivisionError):
        return ExpressionError("division by zero")
    if isinstance(exc, decimal.InvalidOperation):
        return ExpressionError(
            f"the decimal operation is undefined or needs more than {CONTEXT.prec} digits"
        )
    return ExpressionError(str(exc))


def evaluate(expression: Expression | str, variables: dict[str, Any]) -> Any:
    """Evaluate a checked expression against the order's variables.

    Raises only ExpressionError (ExpressionLimitError for a bound), so the interpreter can
    fail the order instead of crashing its workflow task.
    """
    expr = compile_expression(expression) if isinstance(expression, str) else expression
    names = {**CONSTANTS, **{k: _for_expressions(v) for k, v in variables.items()}}
    evaluator = _Evaluator(names)
    try:
        with decimal.localcontext(CONTEXT):
            return evaluator.eval(expr.source.strip(), previously_parsed=expr.tree.body)
    except (
        ExpressionError,
        RecursionError,
        simpleeval.InvalidExpression,
        LookupError,
        TypeError,
        ValueError,
        ArithmeticError,
    ) as exc:
        error = _explain(exc)
        raise type(error)(f"'{expr.source}' failed: {error}") from None
