"""A small world for domain tests (regions, outlets, engineers, prices, parts), and helpers
to run activities as Temporal would. Loaded by tests/conftest.py as a plugin."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker
from temporalio.testing import ActivityEnvironment

from activities.registry import ActivityDeps, build_activities
from servflow.billing.models import PriceTable
from servflow.dispatch.models import Engineer
from servflow.inventory.models import Part
from servflow.notify.notifier import LoggingNotifier
from servflow.org import service as org_service
from servflow.org.models import AppUser, OrgUnit
from workflows.contracts import OrderContext, StepInput, StepResult, TimelineEntry

NOW = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
# 北京市朝阳区建国路88号
CUSTOMER = {
    "name": "李娜",
    "phone": "13800010001",
    "address": "北京市朝阳区建国路88号",
    "city": "北京",
    "lat": 39.9087,
    "lng": 116.4605,
}


@dataclass
class World:
    units: dict[str, OrgUnit]
    engineers: dict[str, Engineer]


def _unit(session: Session, kind: str, code: str, name: str, parent: OrgUnit | None, **kw: Any):
    unit = OrgUnit(
        kind=kind,
        code=code,
        name=name,
        parent=parent,
        path=f"{parent.path if parent else ''}/{code}",
        **kw,
    )
    session.add(unit)
    session.flush()
    return unit


@pytest.fixture
def world(session_factory: sessionmaker[Session]) -> World:
    """Two regions (华北, 华东), three outlets, engineers placed to test every dispatch rule."""
    with session_factory() as session:
        hq = _unit(session, "hq", "hq", "总部", None)
        huabei = _unit(session, "region", "huabei", "华北", hq)
        huadong = _unit(session, "region", "huadong", "华东", hq)
        bj = _unit(session, "branch", "bj-branch", "北京分公司", huabei, city="北京")
        sh = _unit(session, "branch", "sh-branch", "上海分公司", huadong, city="上海")
        bj1 = _unit(session, "outlet", "bj-001", "北京朝阳服务网点", bj, lat=39.9219, lng=116.4436)
        bj2 = _unit(session, "outlet", "bj-002", "北京海淀服务网点", bj, lat=39.9593, lng=116.2981)
        sh1 = _unit(session, "outlet", "sh-001", "上海浦东服务网点", sh, lat=31.2215, lng=121.5447)
        units = {u.code: u for u in (hq, huabei, huadong, bj, sh, bj1, bj2, sh1)}
        specs = [
            # code, name, outlet, skills, lat, lng, state
            (
                "bj_near",
                "张伟",
                bj1,
                ["refrigeration", "electrical"],
                39.9119,
                116.4336,
                "available",
            ),
            ("bj_far", "王强", bj2, ["refrigeration"], 39.9603, 116.2891, "available"),
            ("bj_noskill", "李明", bj1, ["electrical"], 39.9090, 116.4600, "available"),
            ("bj_off", "赵刚", bj1, ["refrigeration"], 39.9088, 116.4603, "off"),
            # A 华东 engineer who happens to be next to the customer: never picked in-region.
            ("sh_visiting", "陈杰", sh1, ["refrigeration"], 39.9088, 116.4604, "available"),
        ]
        engineers = {}
        for code, name, outlet, skills, lat, lng, state in specs:
            user = AppUser(
                username=f"engineer_{code}",
                password_hash="x",
                display_name=name,
                roles=["engineer"],
                org_unit=outlet,
            )
            engineer = Engineer(
                code=code,
                name=name,
                outlet=outlet,
                skills=skills,
                lat=lat,
                lng=lng,
                state=state,
                user=user,
            )
            session.add(engineer)
            engineers[code] = engineer
        for username, roles, unit in [
            ("region_mgr_huabei", ["region_manager"], huabei),
            ("region_mgr_huadong", ["region_manager"], huadong),
            ("outlet_mgr_bj_001", ["outlet_manager"], bj1),
            ("hq_admin", ["hq_admin"], hq),
        ]:
            session.add(AppUser(username=username, password_hash="x", roles=roles, org_unit=unit))
        for region, fee, per_km, free_km in [
            (huabei, "100.00", "2.00", "15"),
            (huadong, "120.00", "2.50", "15"),
        ]:
            session.add(
                PriceTable(
                    region_id=region.id,
                    currency="CNY",
                    base_visit_fee=Decimal(fee),
                    per_km_surcharge=Decimal(per_km),
                    free_km=Decimal(free_km),
                    valid_from=datetime(2026, 1, 1, tzinfo=UTC),
                )
            )
        session.add_all(
            [
                Part(sku="AC-CAP-35UF", name="空调压缩机启动电容 35UF", price=Decimal("30.00")),
                Part(sku="R410A-1KG", name="R410A 冷媒 1KG", price=Decimal("85.00")),
                Part(sku="USD-PART", name="imported", price=Decimal("9.99"), currency="USD"),
            ]
        )
        session.commit()
        return World(units=units, engineers=engineers)


@pytest.fixture
def notifier() -> LoggingNotifier:
    return LoggingNotifier()


@pytest.fixture
def deps(session_factory: sessionmaker[Session], notifier: LoggingNotifier) -> ActivityDeps:
    return ActivityDeps(session_factory=session_factory, clock=lambda: NOW, notifier=notifier)


class Runner:
    """Runs the registered activities by name inside Temporal's ActivityEnvironment."""

    def __init__(self, deps: ActivityDeps) -> None:
        self.deps = deps
        self.by_name = {
            getattr(fn, "__temporal_activity_definition").name: fn for fn in build_activities(deps)
        }

    async def __call__(self, name: str, step: StepInput) -> StepResult:
        return await ActivityEnvironment().run(self.by_name[name], step)


@pytest.fixture
def run(deps: ActivityDeps) -> Iterator[Runner]:
    yield Runner(deps)


def make_step(
    node_type: str,
    *,
    order_id: str = "order-1",
    node_id: str | None = None,
    visit: int = 1,
    params: dict[str, Any] | None = None,
    variables: dict[str, Any] | None = None,
    region: str = "huabei",
    customer: dict[str, Any] | None = None,
    status: str = "running",
    unrecorded: list[TimelineEntry] | None = None,
    final: bool = False,
) -> StepInput:
    node_id = node_id or node_type
    return StepInput(
        order_id=order_id,
        node_id=node_id,
        node_type=node_type,
        visit=visit,
        idempotency_key=f"{order_id}/{node_id}/{visit}",
        params=params or {},
        variables=variables if variables is not None else {"fault": "ac_leak"},
        context=OrderContext(
            region=region, customer=CUSTOMER if customer is None else customer, started_by="crm"
        ),
        definition_key="ac-repair",
        definition_version=1,
        status=status,  # type: ignore[arg-type]
        unrecorded_steps=unrecorded or [],
        final=final,
    )


@pytest.fixture
def tree(session):
    """A minimal org tree: HQ, two regions, a branch and an outlet."""
    hq = org_service.create_unit(session, kind="hq", code="hq", name="总部")
    huabei = org_service.create_unit(session, kind="region", code="huabei", name="华北", parent=hq)
    hua = org_service.create_unit(session, kind="region", code="hua", name="测试", parent=hq)
    bj = org_service.create_unit(
        session, kind="branch", code="bj-branch", name="北京", parent=huabei
    )
    outlet = org_service.create_unit(session, kind="outlet", code="bj-001", name="朝阳", parent=bj)
    session.commit()
    return {"hq": hq, "huabei": huabei, "hua": hua, "bj": bj, "outlet": outlet}
