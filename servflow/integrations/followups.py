"""A detractor's score (0-6 at sign-off) opens a follow-up order for customer care: the
`nps_followup` pipeline (published from servflow/customers/data when none is), placed at
the rated order's outlet, whose call-back task waits for customer care (role
`customer_care`, 客服) of the order's outlet or region. Dispatchers of that scope read the
order as any order of their scope, but the task is not theirs.

Exactly once per survey: the order's workflow id is `nps-<rated order id>` (a second start
finds the first) and the survey records it by a conditional UPDATE. Started by the
worker's intake loop (customers cannot import orders: orders link customers).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client

from servflow.customers import service as customers
from servflow.definitions import service as definitions
from servflow.orders import engine
from servflow.orders import service as orders
from servflow.org import service as org
from servflow.platform.errors import NotFound
from workflows.contracts import OrderContext
from workflows.definition import Definition as Pipeline

log = logging.getLogger(__name__)


SHIPPED_BY = "system"
"""Who publishes the shipped follow-up pipeline (a designer's versions are theirs)."""


def _shipped_is_latest(session: Session, key: str) -> bool:
    """True when `key` is not published yet or its latest version is the shipped one."""
    try:
        versions = definitions.list_versions(session, key=key)
    except NotFound:
        return True
    return not versions or versions[-1].published_by == SHIPPED_BY


def _definition(session: Session) -> tuple[Pipeline, dict[str, Pipeline]]:
    key = customers.FOLLOW_UP_DEFINITION
    if _shipped_is_latest(session, key):
        # Publishes the shipped file when none is, or when the file changed since (the
        # call back moved from the dispatcher to customer care); the same body is kept.
        published = definitions.publish(
            session,
            key=key,
            raw=customers.follow_up_definition(),
            user=SHIPPED_BY,
            unless_unchanged=True,
        )
        if published.fresh:
            session.commit()
    return definitions.load_snapshot(session, key=key, version=None)


def _new_order(
    session_factory: sessionmaker[Session], item: customers.FollowUpToOpen
) -> engine.NewOrder:
    with session_factory() as session:
        definition, subs = _definition(session)
        units = org.units_of(session, region=item.region, outlet=item.outlet)
        placement = orders.Placement(
            region=units.region.code if units.region is not None else item.region,
            outlet=units.outlet.code if units.outlet is not None else "",
            path=units.unit.path if units.unit is not None else "",
            region_name=units.region.name if units.region is not None else "",
        )
        return engine.NewOrder(
            order_id=item.order_id,
            definition=definition,
            subdefinitions=subs,
            variables={
                "fault": f"差评回访: {item.rating} 分 ({item.survey_order_id})",
                "survey_order_id": item.survey_order_id,
                "rating": item.rating,
                "comment": item.comment,
            },
            context=OrderContext(
                region=placement.region_label,
                outlet=placement.outlet,
                customer=item.customer,
                started_by="nps-follow-up",
            ),
            placement=placement,
            fingerprint=item.order_id,
        )


def _mark(session_factory: sessionmaker[Session], survey_id: int, order_id: str) -> None:
    with session_factory() as session:
        customers.follow_up_opened(session, survey_id=survey_id, order_id=order_id)
        session.commit()


def _to_open(session_factory: sessionmaker[Session], limit: int) -> list[customers.FollowUpToOpen]:
    with session_factory() as session:
        return customers.follow_ups_to_open(session, limit=limit)


async def open_follow_ups(
    session_factory: sessionmaker[Session],
    client: Client,
    *,
    task_queue: str,
    clock: Callable[[], datetime],
    limit: int = 50,
) -> int:
    """Starts the follow-up order of every detractor's survey not followed up yet;
    returns how many orders this call created (a survey whose order a crashed call
    started is only recorded)."""
    created = 0
    for item in await asyncio.to_thread(_to_open, session_factory, limit):
        try:
            new_order = await asyncio.to_thread(_new_order, session_factory, item)
            result = await engine.start(client, task_queue, new_order)
            created += result.created
            await asyncio.to_thread(_mark, session_factory, item.survey_id, result.order_id)
        except Exception:
            log.exception("the follow-up of survey %s was not opened", item.survey_id)
    return created
