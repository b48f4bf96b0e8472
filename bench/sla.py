"""How soon 500 simultaneous SLA breaches show in the API's breach list.

`python -m bench.sla [--orders 500] [--within 30] [--poll 0.25]` starts a Temporal dev server
(port 18310) and a worker with the real activities on a fresh SQLite file, starts N orders
whose one human step has a business-time SLA, and makes every deadline fall on the same
second: their calendar's working day begins at a moment T0 after all have started, so each
clock counts `within` seconds from T0. It then polls `GET /api/sla/breaches` (the real app,
in process, as HQ's admin) every `--poll` seconds and records when each step first shows.

Printed, side by side from the same run:
  sla_breach_to_visible_s   p99 of (first listed − deadline): the stored deadline decides,
                            so this is the poll interval plus one query;
  sla_breach_timer_notice_s p99 of (the workflow's own breach notice written − deadline):
                            the baseline, visibility that waits for each workflow's timer,
                            its activity and its write (what an alert-from-the-timer gives);
  sla_breach_timer_vs_list  the ratio of the two p99s.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from activities.registry import ActivityDeps, build_activities
from api.main import create_app
from api.security import create_access_token
from servflow.cli.devserver import DevServer
from servflow.notify.models import Notification
from servflow.org.models import AppUser, OrgUnit
from servflow.platform.db import make_engine, make_session_factory
from servflow.platform.settings import Settings
from servflow.sla.models import SlaCalendar, SlaClock
from servflow.tables import metadata
from worker import build_worker
from workflows import trust
from workflows.business_time import BusinessCalendar, WorkingHours
from workflows.contracts import OrderContext, StartOrderInput
from workflows.definition import Definition
from workflows.interpreter import WorkOrderWorkflow

PORT = 18310
SECRET = "bench-sla-jwt-secret-0123456789abcdef0123456789"  # noqa: S105  (a throwaway bench)
ACTOR_KEY = "bench-sla-actor-key-0123456789abcdef0123456789"


def pipeline(within: int) -> Definition:
    return Definition.model_validate(
        {
            "key": "bench-sla",
            "name": "SLA breach bench",
            "version": 1,
            "start": "repair",
            "nodes": [
                {
                    "id": "repair",
                    "type": "task",
                    "next": "end",
                    "assignee": {"kind": "user", "value": "engineer_bench"},
                    "sla": {"within": f"PT{within}S", "clock": "business", "notify": ["hq_admin"]},
                },
                {"id": "end", "type": "end"},
            ],
        }
    )


def seed(factory: sessionmaker[Session], opens_at: datetime) -> int:
    """HQ, its admin, and a calendar whose working day starts at `opens_at` (UTC)."""
    with factory() as session:
        hq = OrgUnit(kind="hq", code="hq", name="总部", path="/hq")
        session.add(hq)
        session.flush()
        admin = AppUser(username="hq_admin", password_hash="-", roles=["hq_admin"], org_unit=hq)  # noqa: S106
        session.add(admin)
        hours = WorkingHours(days=[1, 2, 3, 4, 5, 6, 7], start=f"{opens_at:%H:%M}", end="24:00")
        calendar = BusinessCalendar(timezone="UTC", hours=[hours])
        session.add(
            SlaCalendar(
                key="bench", name="bench", scope_path="/hq", body=calendar.model_dump(mode="json")
            )
        )
        session.commit()
        return admin.id


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(0.99 * len(ordered)) - 1))]


async def start_orders(client: Client, queue: str, n: int, within: int) -> list[str]:
    definition, ids = pipeline(within), [f"bench-sla-{uuid.uuid4()}" for _ in range(n)]
    limit = asyncio.Semaphore(20)

    async def one(order_id: str) -> None:
        async with limit:
            await client.start_workflow(
                WorkOrderWorkflow.run,
                StartOrderInput(
                    order_id=order_id, definition=definition, context=OrderContext(region="")
                ),
                id=order_id,
                task_queue=queue,
            )

    await asyncio.gather(*(one(i) for i in ids))
    return ids


async def watch(
    http: httpx.AsyncClient,
    headers: dict[str, str],
    factory: sessionmaker[Session],
    ids: set[str],
    poll: float,
    give_up: float,
) -> tuple[dict[str, float], dict[str, datetime]]:
    """First time (epoch s) each order shows in the API's list; each breach notice's write."""
    listed: dict[str, float] = {}
    notices: dict[str, datetime] = {}
    while (len(listed) < len(ids) or len(notices) < len(ids)) and time.time() < give_up:
        offset = 0
        while True:
            response = await http.get(
                "/api/sla/breaches",
                params={"state": "breached", "limit": 500, "offset": offset},
                headers=headers,
            )
            response.raise_for_status()
            seen_at, body = time.time(), response.json()
            for row in body["data"]:
                listed.setdefault(row["order_id"], seen_at)
            offset += len(body["data"])
            if not body["data"] or offset >= body["count"]:
                break
        with factory() as session:
            rows = session.execute(
                select(Notification.order_id, Notification.created_at).where(
                    Notification.idempotency_key.like("%/sla1")
                )
            ).all()
        for order_id, created in rows:
            notices.setdefault(order_id, created)
        await asyncio.sleep(poll)
    return listed, notices


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=500)
    parser.add_argument("--within", type=int, default=30, help="SLA in seconds")
    parser.add_argument("--poll", type=float, default=0.25, help="API poll interval, s")
    args = parser.parse_args()
    trust.configure(ACTOR_KEY)
    with tempfile.TemporaryDirectory(prefix="servflow-bench-sla-") as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'servflow.db'}")
        metadata.create_all(engine)
        factory = make_session_factory(engine)
        # Every clock starts counting at T0, the next whole minute after the orders start.
        budget = 20 + 0.25 * args.orders
        opens_at = (datetime.now(UTC) + timedelta(seconds=budget + 60)).replace(
            second=0, microsecond=0
        )
        if opens_at.date() != (opens_at + timedelta(seconds=args.within + 60)).date():
            raise SystemExit("too close to midnight UTC for a one-window calendar; run later")
        admin_id = seed(factory, opens_at)
        deadline = opens_at + timedelta(seconds=args.within)
        server = DevServer(db_file=Path(tmp) / "temporal.db", port=PORT, ui_port=None)
        with server:
            client = await Client.connect(server.address, data_converter=pydantic_data_converter)
            queue = f"bench-sla-{uuid.uuid4()}"
            deps = ActivityDeps(session_factory=factory)
            settings = Settings(jwt_secret=SECRET, actor_key=ACTOR_KEY)
            app = create_app(
                settings, session_factory=factory, temporal_client=client, task_queue=queue
            )
            token = create_access_token(
                user_id=admin_id, username="hq_admin", secret=SECRET, ttl=timedelta(hours=1)
            )
            headers = {"Authorization": f"Bearer {token}"}
            transport = httpx.ASGITransport(app=app)
            async with (
                build_worker(client, task_queue=queue, activities=build_activities(deps)),
                httpx.AsyncClient(transport=transport, base_url="http://bench") as http,
            ):
                started = time.time()
                ids = await start_orders(client, queue, args.orders, args.within)
                while True:
                    with factory() as session:
                        clocks = session.scalar(select(func.count()).select_from(SlaClock)) or 0
                    if clocks >= args.orders or time.time() > deadline.timestamp():
                        break
                    await asyncio.sleep(0.5)
                ready = time.time() - started
                assert clocks >= args.orders, f"only {clocks} clocks started before T0"
                with factory() as session:
                    stored = set(session.scalars(select(SlaClock.deadline)).all())
                assert stored == {deadline}, f"deadlines differ: {list(stored)[:3]}"
                await asyncio.sleep(max(0.0, deadline.timestamp() - time.time() - 2))
                listed, notices = await watch(
                    http, headers, factory, set(ids), args.poll, deadline.timestamp() + 300
                )
    to_list = [listed[i] - deadline.timestamp() for i in ids if i in listed]
    to_notice = [(notices[i] - deadline).total_seconds() for i in ids if i in notices]
    print(f"sla_orders={args.orders} started_and_clocked_s={ready:.1f}")
    print(f"sla_listed={len(to_list)} sla_noticed={len(to_notice)}")
    print(f"sla_breach_to_visible_s={p99(to_list):.2f}")
    print(f"sla_breach_to_visible_p50_s={statistics.median(to_list):.2f}")
    print(f"sla_breach_timer_notice_s={p99(to_notice):.2f}")
    print(f"sla_breach_timer_notice_p50_s={statistics.median(to_notice):.2f}")
    print(f"sla_breach_timer_vs_list={p99(to_notice) / max(p99(to_list), 1e-3):.1f}")


if __name__ == "__main__":
    asyncio.run(main())
