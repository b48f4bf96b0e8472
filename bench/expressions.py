"""Expression engines for decision branches: simpleeval (chosen) vs CEL (cel-python).

Both evaluate the same decision over the same variables; prints microseconds per compile
and per evaluation and the ratio `cel_vs_simpleeval=<ratio>` (>1: CEL is slower).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import Decimal

import celpy

from workflows.expressions import compile_expression, evaluate

SIMPLE = "service.parts_needed and quote > 500 and order.region == '华北'"
CEL = "service.parts_needed && quote > 500.0 && order.region == '华北'"
VARIABLES = {
    "service": {"parts_needed": True},
    "quote": Decimal("620.50"),
    "order": {"region": "华北"},
}


def per_call_us(fn: Callable[[], object], repeat: int) -> float:
    started = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - started) / repeat * 1e6


def main() -> None:
    env = celpy.Environment()
    program = env.program(env.compile(CEL))
    activation = {
        k: celpy.json_to_cel(v if not isinstance(v, Decimal) else float(v))
        for k, v in VARIABLES.items()
    }
    assert program.evaluate(activation) == evaluate(SIMPLE, VARIABLES) is True
    parsed = compile_expression(SIMPLE)

    simple_compile = per_call_us(lambda: compile_expression.__wrapped__(SIMPLE), 2000)
    cel_compile = per_call_us(lambda: env.program(env.compile(CEL)), 200)
    simple_eval = per_call_us(lambda: evaluate(parsed, VARIABLES), 5000)
    cel_eval = per_call_us(lambda: program.evaluate(activation), 1000)
    print(f"simpleeval: compile {simple_compile:7.1f} us  evaluate {simple_eval:7.1f} us")
    print(f"cel-python: compile {cel_compile:7.1f} us  evaluate {cel_eval:7.1f} us")
    print(f"cel_vs_simpleeval={cel_eval / simple_eval:.1f}")


if __name__ == "__main__":
    main()
