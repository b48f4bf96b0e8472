"""A designer's test run is a sandbox order: in no list, count or task, seen by its designer."""

from datetime import UTC, datetime

from sqlalchemy import select
from temporalio.testing import ActivityEnvironment

from servflow.orders import repo, steps
from servflow.orders import service as orders
from servflow.orders.models import WorkOrder
from servflow.org.rules import Principal
from tests.orders.test_waiting import waiting
from tests.world import make_step
from workflows.contracts import ActiveNode, OrderContext, OrderState

NOW = datetime(2026, 11, 22, 8, tzinfo=UTC)
TEST_ID = "test-wo-1"
BJ_001 = "/hq/huabei/bj-branch/bj-001"


def person(username: str, *roles: str, scope: str = "/hq") -> Principal:
    return Principal(id=1, username=username, display_name=username, roles=roles, scope_path=scope)


DESIGNER = person("designer_amy", "designer")
OTHER_DESIGNER = person("designer_bob", "designer")
ADMIN = person("hq_admin", "hq_admin")
ENGINEER = person("engineer_bj_near", "engineer", scope=BJ_001)


def open_test_run(session, order_id: str = TEST_ID) -> None:
    steps.open_test_run(
        session,
        order_id=order_id,
        definition_key="ac-repair-test",
        definition_version=0,
        region="huabei",
        org_path=BJ_001,
        started_by=orders.test_run_by(DESIGNER.username),
        now=NOW,
    )


def add_real_order(session, order_id: str = "wo-real") -> None:
    session.add(
        WorkOrder(
            order_id=order_id, org_path=BJ_001, status="running", created_at=NOW, updated_at=NOW
        )
    )
    session.commit()


async def test_a_test_run_whose_first_step_is_human_stays_out_of_every_task_list(
    run, world, session
):
    open_test_run(session)
    # WaitingStep carries no sandbox flag: the row written at start keeps the order apart.
    step = waiting(order_id=TEST_ID, context=OrderContext(region="huabei", started_by="x"))
    await ActivityEnvironment().run(run.by_name["record_waiting"], step)

    session.expire_all()
    row = session.scalars(select(WorkOrder).where(WorkOrder.order_id == TEST_ID)).one()
    assert row.sandbox is True and row.current_node == "service"
    for user in (ENGINEER, DESIGNER, ADMIN):
        assert orders.waiting_for(session, user, limit=10) == []


async def test_a_real_order_waiting_for_the_same_engineer_is_still_their_task(run, world, session):
    open_test_run(session)
    await ActivityEnvironment().run(run.by_name["record_waiting"], waiting(order_id=TEST_ID))
    await ActivityEnvironment().run(run.by_name["record_waiting"], waiting(order_id="wo-real"))

    tasks = orders.waiting_for(session, person("engineer_bj_near", "engineer"), limit=10)
    assert [order.order_id for _step, order in tasks] == ["wo-real"]


def test_test_runs_are_in_no_list_and_no_count(session, tree):
    open_test_run(session)
    add_real_order(session)

    rows, total = repo.list_orders(session, scope_path="/hq")
    assert [r.order_id for r in rows] == ["wo-real"] and total == 1
    for user in (DESIGNER, ADMIN):
        rows, total = orders.search_orders(
            session, user, status=None, region=None, definition_key=None, limit=50, offset=0
        )
        assert [r.order_id for r in rows] == ["wo-real"] and total == 1


def test_only_the_designer_who_started_a_test_run_may_see_it(session, tree):
    open_test_run(session)
    row = repo.get_order(session, order_id=TEST_ID)

    assert orders.may_see(session, DESIGNER, row=row, state=None)
    for user in (OTHER_DESIGNER, ADMIN, ENGINEER):
        assert not orders.may_see(session, user, row=row, state=None)


def test_a_test_run_not_yet_in_the_read_model_is_its_designers_alone(session, tree):
    # The engineer the simulated dispatch chose is the step's assignee in the live state.
    active = ActiveNode(
        node_id="service",
        node_type="service",
        name="上门服务",
        visit=1,
        since=NOW,
        human=True,
        assignee=ENGINEER.username,
    )
    state = OrderState(
        order_id=TEST_ID,
        definition_key="ac-repair-test",
        definition_version=0,
        status="dispatched",
        context=OrderContext(region="huabei", started_by=orders.test_run_by("designer_amy")),
        active=[active],
        variables={},
        timeline=[],
        breaches=[],
    )

    assert orders.may_see(session, DESIGNER, row=None, state=state)
    assert not orders.may_see(session, ENGINEER, row=None, state=state)
    assert not orders.may_see(session, ADMIN, row=None, state=state)


async def test_a_test_run_never_blocks_a_customers_real_order_as_a_duplicate(run, world, session):
    sandboxed = make_step("report", order_id=TEST_ID).model_copy(update={"sandbox": True})
    await run("report", sandboxed)

    real = await run("report", make_step("report", order_id="wo-real"))

    assert real.output["order_no"]
    assert session.scalars(select(WorkOrder.sandbox).order_by(WorkOrder.id)).all() == [True, False]
