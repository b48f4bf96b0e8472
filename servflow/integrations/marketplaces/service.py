"""Marketplace intake: store what arrives (sealed, once per platform:msg_id), then — apart
from the request — turn each paid order into an installation order at the outlet that
serves the buyer's address; write status changes back through the outbound queue."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client

from servflow.customers import service as customers
from servflow.definitions import service as definitions
from servflow.dispatch import service as dispatch
from servflow.integrations import repo
from servflow.integrations.marketplaces import rules
from servflow.integrations.marketplaces.clients import DouyinApi
from servflow.integrations.marketplaces.geocode import Geocoder
from servflow.integrations.marketplaces.rules import Buyer, Incoming
from servflow.integrations.models import InboundMessage, OutboundUpdate
from servflow.integrations.sealing import Sealer
from servflow.notify.rules import backoff
from servflow.orders import engine
from servflow.orders import service as orders
from servflow.orders.rules import CLOSED_STATUSES
from servflow.org.rules import Principal
from servflow.platform.errors import AppError, NotFound
from servflow.platform.settings import Settings
from workflows.contracts import OrderContext
from workflows.definition import Definition

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5


def receive(
    session: Session, messages: Iterable[Incoming], *, sealer: Sealer, now: datetime
) -> list[int]:
    """Stores each message sealed, dropping replays (same platform and msg_id).

    Returns:
        The ids of the messages stored by this call (to process).
    """
    stored = []
    for message in messages:
        body = json.dumps(message.raw, ensure_ascii=False, sort_keys=True).encode()
        if repo.insert_inbound_once(
            session,
            row={
                "platform": message.platform,
                "msg_id": message.msg_id,
                "tag": message.tag,
                "external_order_id": message.external_order_id,
                "sealed_body": sealer.seal(body),
                "status": "received",
                "attempts": 0,
                "last_error": "",
                "order_id": "",
                "received_at": now,
            },
        ):
            found = repo.inbound_of(session, platform=message.platform, msg_id=message.msg_id)
            assert found is not None
            stored.append(found.id)
    return stored


def _buyer(platform: str, raw: dict[str, Any]) -> Buyer:
    if platform == "douyin":
        return rules.douyin_buyer(raw.get("data") or {})
    return rules.workcard_buyer(raw.get("data") or {})


@dataclass
class Enricher:
    """What completes a message before it makes an order: Douyin's open API (the order
    detail and its buyer decrypted, when the push carries only the order id) and a
    geocoder (for an address without coordinates)."""

    sealer: Sealer
    geocoder: Geocoder
    douyin: DouyinApi | None = None

    @classmethod
    def from_settings(cls, settings: Settings, *, sealer: Sealer) -> Enricher:
        from servflow.integrations.marketplaces.clients import douyin_from_settings
        from servflow.integrations.marketplaces.geocode import geocoder_from_settings

        return cls(
            sealer=sealer,
            geocoder=geocoder_from_settings(settings),
            douyin=douyin_from_settings(settings),
        )


def _locate(platform: str, data: dict[str, Any], geocoder: Geocoder) -> bool:
    """Adds the address's coordinates (and where they came from, `geo_source`) to a
    message's data that has none; False when nothing could locate it."""
    buyer = _buyer(platform, {"data": data})
    if buyer.lat is not None and buyer.lng is not None:
        return True
    addr = data.get("post_addr") if platform == "douyin" else None
    province = ""
    if isinstance(addr, dict):
        province = rules._name(addr.get("province"))
    found = geocoder.locate(address=buyer.address, city=buyer.city, province=province)
    if found is None:
        return False
    if isinstance(addr, dict):
        data["post_addr"] = {**addr, "lat": found.lat, "lng": found.lng}
    else:
        data["lat"], data["lng"] = found.lat, found.lng
    data["geo_source"] = found.source
    return True


def enrich(session_factory: sessionmaker[Session], message_id: int, enricher: Enricher) -> bool:
    """Completes a received message that makes an order: a Douyin push carrying only the
    order id gets the order's detail (order.orderDetail) with the buyer decrypted
    (order.batchDecrypt), an address without coordinates is geocoded; the message is
    sealed again with what was added (the buyer stays encrypted at rest). The calls to
    the platforms happen outside any transaction. Returns whether anything was added.

    Raises:
        AppError: Douyin's API is needed and not configured, or the address cannot be
            located (the message is tried again later, then marked failed).
        PlatformError: Douyin refused or failed.
    """
    with session_factory() as session:
        row = session.get(InboundMessage, message_id)
        if row is None or row.status != "received" or not rules.wants_order(row.platform, row.tag):
            return False
        platform, external, sealed = row.platform, row.external_order_id, row.sealed_body
    raw = json.loads(enricher.sealer.open(sealed))
    data = dict(raw.get("data") or {})
    before = json.dumps(data, sort_keys=True, ensure_ascii=False)
    if platform == "douyin" and rules.douyin_needs_detail(data):
        if enricher.douyin is None:
            raise AppError(
                "the push carries only the order id and Douyin's open API is not configured"
                " (SERVFLOW_DOUYIN_API_URL, _SHOP_ID)"
            )
        detail = enricher.douyin.order_detail(external)
        plain = enricher.douyin.batch_decrypt(external, rules.douyin_ciphers(detail))
        data = {**data, **rules.douyin_detail_data(external, detail, plain)}
    if not _locate(platform, data, enricher.geocoder):
        raise AppError("the buyer's address could not be located (geocoder and city centroids)")
    if json.dumps(data, sort_keys=True, ensure_ascii=False) == before:
        return False
    raw["data"] = data
    body = json.dumps(raw, ensure_ascii=False, sort_keys=True).encode()
    with session_factory() as session:
        row = session.get(InboundMessage, message_id)
        if row is None or row.status != "received":
            return False
        row.sealed_body = enricher.sealer.seal(body)
        session.commit()
    return True


@dataclass(frozen=True)
class Prepared:
    message_id: int
    new_order: engine.NewOrder


def _prepare(
    session: Session, row: InboundMessage, *, sealer: Sealer, definition_key: str
) -> Prepared | None:
    """Opens the message and readies its order (customer linked, outlet chosen); None when
    the message makes no order (e.g. a Douyin order created but not paid)."""
    if not rules.wants_order(row.platform, row.tag):
        return None
    raw = json.loads(sealer.open(row.sealed_body))
    buyer = _buyer(row.platform, raw)
    if buyer.lat is None or buyer.lng is None:
        raise AppError("the buyer's address has no coordinates")
    if not (buyer.name or buyer.phone):
        raise AppError("the message names no buyer")
    # The outlet whose service area (dispatch's geofences) holds the address, else the
    # nearest outlet.
    units = dispatch.outlet_for(session, lat=buyer.lat, lng=buyer.lng)
    if units.outlet is None:
        raise AppError("no located outlet to serve the order")
    _link_customer(session, row, buyer)
    definition, subs = definitions.load_snapshot(session, key=definition_key, version=None)
    placement = orders.Placement(
        region=units.region.code if units.region else "",
        outlet=units.outlet.code,
        path=units.outlet.path,
        region_name=units.region.name if units.region else "",
    )
    order_id = rules.order_id_for(row.platform, row.external_order_id or row.msg_id)
    return Prepared(
        message_id=row.id,
        new_order=_new_order(
            row,
            buyer,
            order_id=order_id,
            definition=definition,
            subdefinitions=subs,
            placement=placement,
        ),
    )


def _link_customer(session: Session, row: InboundMessage, buyer: Buyer) -> None:
    """Links the buyer to their customer (created when new), and their platform's buyer id
    to that customer when the message gives one."""
    customer, _ = customers.link_or_create_customer(
        session,
        name=buyer.name,
        phone=buyer.phone,
        address=buyer.address,
        city=buyer.city,
        lat=buyer.lat,
        lng=buyer.lng,
    )
    if buyer.buyer_id:
        customers.link_identity(
            session, customer=customer, kind=row.platform, value=buyer.buyer_id, by="intake"
        )


def _new_order(
    row: InboundMessage,
    buyer: Buyer,
    *,
    order_id: str,
    definition: Definition,
    subdefinitions: dict[str, Definition],
    placement: orders.Placement,
) -> engine.NewOrder:
    """The order the message starts: the buyer's fault and address, its platform's ids."""
    return engine.NewOrder(
        order_id=order_id,
        definition=definition,
        subdefinitions=subdefinitions,
        variables={
            "fault": buyer.product,
            "platform": row.platform,
            "external_order_id": row.external_order_id,
        },
        context=OrderContext(
            region=placement.region_label,
            outlet=placement.outlet,
            customer={
                "name": buyer.name,
                "phone": buyer.phone,
                "address": buyer.address,
                "city": buyer.city,
                "lat": buyer.lat,
                "lng": buyer.lng,
            },
            started_by=f"{row.platform}-intake",
        ),
        placement=placement,
        fingerprint=order_id,
    )


def _finish(
    session: Session, *, message_id: int, now: datetime, order_id: str = "", error: str = ""
) -> None:
    row = session.get(InboundMessage, message_id)
    if row is None:
        return
    if error:
        row.attempts += 1
        row.last_error = error[:1000]
        row.status = "failed" if row.attempts >= MAX_ATTEMPTS else "received"
        return
    row.status, row.order_id, row.processed_at, row.last_error = "done", order_id, now, ""
    if order_id:
        enqueue_status(
            session,
            platform=row.platform,
            external_order_id=row.external_order_id,
            order_id=order_id,
            status="accepted",
            now=now,
        )


def _prepared(
    session_factory: sessionmaker[Session],
    message_id: int,
    *,
    sealer: Sealer,
    definition_key: str,
    clock: Callable[[], datetime],
) -> Prepared | None:
    """Claims and readies one message (its own transaction); None when there is nothing
    to start (someone else has it, it is done, or it makes no order)."""
    with session_factory() as session:
        row = repo.claim_inbound(session, message_id=message_id)
        if row is None:
            return None
        prepared = _prepare(session, row, sealer=sealer, definition_key=definition_key)
        if prepared is None:
            _finish(session, message_id=message_id, now=clock())
        session.commit()
        return prepared


def _finished(
    session_factory: sessionmaker[Session],
    message_id: int,
    *,
    clock: Callable[[], datetime],
    order_id: str = "",
    error: str = "",
) -> None:
    with session_factory() as session:
        _finish(session, message_id=message_id, now=clock(), order_id=order_id, error=error)
        session.commit()


async def process(
    session_factory: sessionmaker[Session],
    client: Client,
    *,
    task_queue: str,
    sealer: Sealer,
    definition_key: str,
    clock: Callable[[], datetime],
    ids: Iterable[int] | None = None,
    limit: int = 100,
    enricher: Enricher | None = None,
) -> int:
    """Turns received messages into orders (the given ones, or any waiting); returns how
    many orders this call started. Safe to run twice at once: one order per marketplace
    order (its workflow id), a second start finds the first. The database work runs on a
    thread: this runs on the API's (or the worker's) event loop."""
    if ids is None:
        with session_factory() as session:
            ids = await asyncio.to_thread(
                repo.inbound_ids, session, statuses=("received",), limit=limit
            )
    started = 0
    for message_id in list(ids):
        try:
            if enricher is not None:
                await asyncio.to_thread(enrich, session_factory, message_id, enricher)
            prepared = await asyncio.to_thread(
                _prepared,
                session_factory,
                message_id,
                sealer=sealer,
                definition_key=definition_key,
                clock=clock,
            )
            if prepared is None:
                continue
            result = await engine.start(client, task_queue, prepared.new_order)
            started += result.created
            await asyncio.to_thread(
                _finished, session_factory, message_id, clock=clock, order_id=result.order_id
            )
        except Exception as exc:
            message = exc.message if isinstance(exc, AppError) else f"{type(exc).__name__}: {exc}"
            log.warning("marketplace message %s not processed: %s", message_id, message)
            await asyncio.to_thread(
                _finished, session_factory, message_id, clock=clock, error=message
            )
    return started


# ---- the outbound queue -----------------------------------------------------------------


def enqueue_status(
    session: Session,
    *,
    platform: str,
    external_order_id: str,
    order_id: str,
    status: str,
    now: datetime,
    payload: dict[str, Any] | None = None,
) -> bool:
    """Queues a status change for the marketplace, once per order and status."""
    return repo.insert_outbound_once(
        session,
        row={
            "platform": platform,
            "external_order_id": external_order_id,
            "order_id": order_id,
            "status": status,
            "payload": payload or {},
            "idempotency_key": f"{platform}/{external_order_id}/{status}",
            "state": "pending",
            "attempts": 0,
            "last_error": "",
            "created_at": now,
        },
    )


def milestones_reached(session: Session, *, order_id: str) -> list[tuple[str, dict[str, Any]]]:
    """The writeback milestones an order has reached, in order, with their payloads:
    dispatched (an engineer is on it), serviced (a service step completed), completed or
    cancelled (cancelled or failed, with the outcome)."""
    order = orders.get_order(session, order_id=order_id)
    if order is None:
        return []
    steps = orders.list_steps(session, order_id=order_id)
    reached: list[tuple[str, dict[str, Any]]] = []
    if order.current_engineer_id is not None or any(s.node_type == "service" for s in steps):
        reached.append(("dispatched", {}))
    if any(s.node_type == "service" and s.completed_at is not None for s in steps):
        reached.append(("serviced", {}))
    if order.status == "completed":
        reached.append(("completed", {"outcome": "completed"}))
    elif order.status in CLOSED_STATUSES:
        reached.append(("cancelled", {"outcome": order.status}))
    return reached


def queue_progress(session: Session, *, now: datetime, limit: int = 1000) -> int:
    """Queues the milestones marketplace orders reached since the last call (each once
    per order and milestone) for the writeback; returns how many were queued. Orders
    whose end is queued are not read again."""
    queued = 0
    for message in repo.made_orders_without(
        session, statuses=("completed", "cancelled"), limit=limit
    ):
        for status, payload in milestones_reached(session, order_id=message.order_id):
            queued += enqueue_status(
                session,
                platform=message.platform,
                external_order_id=message.external_order_id,
                order_id=message.order_id,
                status=status,
                now=now,
                payload=payload,
            )
    return queued


class MarketplaceClient(Protocol):
    def update_status(self, update: OutboundUpdate) -> None:
        """Tells the marketplace; raises when it could not (`PlatformError` says
        whether retrying may help; any other error is retried)."""


def _deliver_one(
    session: Session,
    update: OutboundUpdate,
    client: MarketplaceClient,
    *,
    now: datetime,
    max_attempts: int,
) -> bool:
    from servflow.integrations.marketplaces.clients import PlatformError

    update.attempts += 1
    try:
        client.update_status(update)
    except PlatformError as exc:
        parked = not exc.transient or update.attempts >= max_attempts
        update.state = "dead" if parked else "retry"
        update.last_error = str(exc)[:1000]
        update.next_attempt_at = (
            None if parked else now + backoff(update.attempts, retry_after=exc.retry_after)
        )
        return False
    except Exception as exc:
        update.state = "dead" if update.attempts >= max_attempts else "retry"
        update.last_error = f"{type(exc).__name__}: {exc}"[:1000]
        update.next_attempt_at = now + backoff(update.attempts)
        return False
    update.state, update.sent_at, update.last_error = "sent", now, ""
    update.next_attempt_at = None
    return True


def deliver_outbound(
    session_factory: sessionmaker[Session],
    clients: dict[str, MarketplaceClient],
    *,
    clock: Callable[[], datetime],
    limit: int = 100,
    max_attempts: int = 8,
) -> int:
    """Sends due status changes, each in its own transaction (claimed: a second relay
    skips a row being sent); transient failures are retried with the outbox's backoff,
    permanent ones parked (`dead`) with their error. A platform without a client keeps
    its rows pending and says why in `last_error`. Returns how many went."""
    from servflow.integrations.marketplaces.clients import missing_settings

    sent = 0
    with session_factory() as session:
        due = repo.due_outbound_ids(session, now=clock(), limit=limit)
    for update_id in due:
        with session_factory() as session:
            update = repo.claim_outbound(session, update_id=update_id, now=clock())
            if update is None:
                continue
            client = clients.get(update.platform)
            if client is None:
                why = missing_settings(update.platform)
                if update.last_error != why:
                    update.last_error = why
                    session.commit()
                continue
            sent += _deliver_one(session, update, client, now=clock(), max_attempts=max_attempts)
            session.commit()
    return sent


SCAN_LIMIT = 5000  # writebacks read to answer one listing (newest first)


def _visible(session: Session, user: Principal, order_id: str, seen: dict[str, bool]) -> bool:
    if order_id not in seen:
        row = orders.get_order(session, order_id=order_id)
        seen[order_id] = row is not None and orders.may_see(session, user, row=row, state=None)
    return seen[order_id]


def list_outbound(
    session: Session,
    user: Principal,
    *,
    state: str | None = None,
    order_id: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[OutboundUpdate], int]:
    """Writebacks of the orders `user` may see, newest first, and how many there are
    (among the newest SCAN_LIMIT)."""
    seen: dict[str, bool] = {}
    visible: list[OutboundUpdate] = []
    before, scanned = 0, 0
    while scanned < SCAN_LIMIT:
        rows = repo.outbound_rows(
            session, state=state, order_id=order_id, before_id=before, limit=500
        )
        if not rows:
            break
        scanned += len(rows)
        before = rows[-1].id
        visible += [r for r in rows if _visible(session, user, r.order_id, seen)]
    return visible[offset : offset + limit], len(visible)


def retry_outbound(session: Session, user: Principal, *, update_id: int) -> OutboundUpdate:
    """Puts a parked (or waiting) writeback back to pending, due now, with its attempts
    counted afresh when it was parked.

    Raises:
        NotFound: no such row, or not one of `user`'s orders.
    """
    update = session.get(OutboundUpdate, update_id)
    if update is None or not _visible(session, user, update.order_id, {}):
        raise NotFound(f"no writeback {update_id}")
    if update.state == "dead":
        update.attempts = 0
    if update.state != "sent":
        update.state, update.next_attempt_at = "pending", None
    session.flush()
    return update


def poll(
    session_factory: sessionmaker[Session],
    feed: Any,
    *,
    sealer: Sealer,
    clock: Callable[[], datetime],
) -> list[int]:
    """One poll of a feed: stores what it brings (replays dropped), then confirms it.

    Returns:
        The ids of the messages new to us (to process).
    """
    messages = feed.fetch()
    with session_factory() as session:
        ids = receive(session, messages, sealer=sealer, now=clock())
        session.commit()
    feed.confirm(messages)
    return ids


def feeds_from_settings(settings: Settings) -> list[Any]:
    """The polled feeds configured (Tmall TMC, JD tasks)."""
    from servflow.integrations.marketplaces.feeds import JdTaskFeed, TmallTmcFeed

    feeds: list[Any] = []
    if settings.tmall_tmc_url:
        feeds.append(
            TmallTmcFeed(
                url=settings.tmall_tmc_url,
                app_key=settings.tmall_app_key,
                secret=settings.tmall_app_secret,
            )
        )
    if settings.jd_api_url:
        feeds.append(
            JdTaskFeed(
                url=settings.jd_api_url, app_key=settings.jd_app_key, secret=settings.jd_app_secret
            )
        )
    return feeds


async def _logged(step: Callable[[], Awaitable[object]], failed: str, *args: object) -> None:
    """Runs one step of the intake's round; its failure is logged (`failed`), not raised."""
    try:
        await step()
    except Exception:
        log.exception(failed, *args)


async def _poll_feeds(
    session_factory: sessionmaker[Session],
    feeds: list[Any],
    *,
    sealer: Sealer,
    clock: Callable[[], datetime],
    every: float,
) -> None:
    """Polls each feed in turn (in a thread); a failed feed is logged, the next one polled."""
    for feed in feeds:
        try:
            await asyncio.to_thread(poll, session_factory, feed, sealer=sealer, clock=clock)
        except Exception:
            log.exception("polling %s failed; next round in %s s", feed.platform, every)


async def _process_round(
    session_factory: sessionmaker[Session],
    client: Client,
    settings: Settings,
    *,
    sealer: Sealer,
    enricher: Enricher,
    clock: Callable[[], datetime],
) -> None:
    """Queues the milestones orders reached (committed), then turns the received messages
    into their orders."""
    with session_factory() as session:
        queue_progress(session, now=clock())
        session.commit()
    await process(
        session_factory,
        client,
        task_queue=settings.task_queue,
        sealer=sealer,
        definition_key=settings.intake_definition_key,
        clock=clock,
        enricher=enricher,
    )


async def _deliver_writebacks(
    session_factory: sessionmaker[Session],
    writebacks: dict[str, Any],
    settings: Settings,
    *,
    clock: Callable[[], datetime],
) -> None:
    """Sends the writebacks due (in a thread)."""
    await asyncio.to_thread(
        deliver_outbound,
        session_factory,
        writebacks,
        clock=clock,
        max_attempts=settings.writeback_max_attempts,
    )


async def intake_forever(
    session_factory: sessionmaker[Session],
    client: Client,
    settings: Settings,
    *,
    every: float,
    clock: Callable[[], datetime],
) -> None:
    """The worker's intake: applies WeCom clicks an API died before applying, polls the
    feeds, queues the milestones orders reached, turns every received message into its
    order (including pushes whose first processing failed), opens customer care's
    follow-up of each detractor's survey and sends the writebacks due, every `every`
    seconds."""

    from servflow.integrations.followups import open_follow_ups
    from servflow.integrations.marketplaces.clients import clients_from_settings
    from servflow.integrations.wecom.service import reapply_clicks
    from servflow.platform.keys import secret

    sealer = Sealer.from_settings(settings)
    feeds = feeds_from_settings(settings)
    writebacks = clients_from_settings(settings)
    enricher = Enricher.from_settings(settings, sealer=sealer)
    actor_key = secret(settings.actor_key, setting="actor_key", demo=settings.demo)
    while True:
        await _logged(
            lambda: reapply_clicks(session_factory, client, actor_key=actor_key, clock=clock),
            "re-applying WeCom card clicks failed",
        )
        await _poll_feeds(session_factory, feeds, sealer=sealer, clock=clock, every=every)
        await _logged(
            lambda: _process_round(
                session_factory, client, settings, sealer=sealer, enricher=enricher, clock=clock
            ),
            "processing marketplace messages failed",
        )
        await _logged(
            lambda: open_follow_ups(
                session_factory, client, task_queue=settings.task_queue, clock=clock
            ),
            "opening NPS follow-ups failed",
        )
        await _logged(
            lambda: _deliver_writebacks(session_factory, writebacks, settings, clock=clock),
            "marketplace writeback failed; next round in %s s",
            every,
        )
        await asyncio.sleep(every)
