"""redact_money: what a caller without money rights sees of an order's settlements."""

from __future__ import annotations

from datetime import UTC, datetime

from servflow.orders.rules import MASKED_OUTCOME, redact_money
from workflows.contracts import OrderContext, OrderState, TimelineEntry

NOW = datetime(2026, 12, 3, tzinfo=UTC)
SETTLED = {
    "amount": "60.00",
    "currency": "CNY",
    "milestone": "commissioning",
    "share": "0.6",
    "job_amount": "100.00",
    "status": "paid",
    "payouts": [{"payee_kind": "outlet", "payee_id": "bj-001", "amount": "42.00"}],
}


def entry(node_id: str, node_type: str, data: dict, outcome: str = "") -> TimelineEntry:
    return TimelineEntry(
        node_id=node_id, node_type=node_type, visit=1, started_at=NOW, data=data, outcome=outcome
    )


def state(**variables: object) -> OrderState:
    return OrderState(
        order_id="wo-1",
        definition_key="ac-repair",
        definition_version=1,
        status="settled",
        context=OrderContext(),
        active=[],
        variables=dict(variables),
        timeline=[
            entry("service", "service", {"diagnosis": "补焊"}, "done"),
            entry("commissioning", "settlement", SETTLED, "里程碑 commissioning 结算 60.00 CNY"),
        ],
        breaches=[],
    )


def test_settlement_amounts_leave_steps_variables_and_timeline():
    steps = [entry("commissioning", "settlement", SETTLED, "结算 60.00 CNY")]
    before = state(commissioning=SETTLED, fault="ac_leak", service={"diagnosis": "补焊"})
    out_steps, after = redact_money(steps, before)
    assert after is not None
    kept = {"currency": "CNY", "milestone": "commissioning", "share": "0.6", "status": "paid"}
    assert out_steps[0].data == kept and out_steps[0].outcome == MASKED_OUTCOME
    assert after.variables == {
        "commissioning": kept,
        "fault": "ac_leak",
        "service": {"diagnosis": "补焊"},
    }
    assert after.timeline[1].data == kept and "60.00" not in after.timeline[1].outcome
    assert after.timeline[0] == before.timeline[0]  # other steps as they were
    assert before.variables["commissioning"] == SETTLED  # the arguments are not changed
    assert steps[0].data == SETTLED


def test_a_variable_named_like_a_field_of_an_ordinary_step_keeps_its_amount():
    quote = {"amount": "300.00", "currency": "CNY"}  # a service form's own field
    _, after = redact_money([], state(service=quote))
    assert after is not None and after.variables["service"] == quote


def test_no_state_redacts_the_steps_alone():
    steps, after = redact_money([entry("final", "settlement", SETTLED)])
    assert after is None and "amount" not in steps[0].data and steps[0].outcome == ""


def test_a_simulated_settlement_of_a_test_run_keeps_its_amounts():
    simulated = {**SETTLED, "sandbox": True}
    steps = [entry("commissioning", "settlement", simulated, "[模拟] 结算 60.00 CNY")]
    out_steps, after = redact_money(steps, state(commissioning=simulated))
    assert out_steps == steps
    assert after is not None and after.variables["commissioning"] == simulated
