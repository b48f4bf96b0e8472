"""Tmall workcards through TMC and JD tasks by polling: stored once, confirmed only after
they are stored, redelivered when not confirmed, dropped as replays."""

from __future__ import annotations

import base64
import os

import pytest
from sqlalchemy import select

from servflow.integrations.marketplaces import service
from servflow.integrations.marketplaces.feeds import FeedError, JdTaskFeed, TmallTmcFeed
from servflow.integrations.models import InboundMessage
from servflow.integrations.sealing import Sealer
from servflow.platform.base import utcnow
from tests.integrations.fake_marketplaces import APP_KEY, SECRET, FakeJd, FakeTmc, http_client

SEALER = Sealer([base64.b64decode(base64.b64encode(os.urandom(32)))])


def workcard(n: int) -> dict:
    return {
        "workcard_id": f"WC{n}",
        "buyer_name": "孙丽",
        "buyer_phone": f"1360000{n:04d}",
        "address": "上海市浦东新区世纪大道100号",
        "city": "上海",
        "lat": 31.2354,
        "lng": 121.5055,
        "buyer_id": f"tb-{n}",
        "service_name": "空调安装",
    }


def test_a_workcard_not_confirmed_is_redelivered_and_stored_once(session_factory):
    tmc = FakeTmc()
    tmc.publish(workcard(1))
    feed = TmallTmcFeed(
        url="http://tmc.fake/router/rest", app_key=APP_KEY, secret=SECRET, http=http_client(tmc)
    )

    class DiesBeforeConfirming(TmallTmcFeed):
        def confirm(self, messages):
            raise ConnectionError("the poller died")

    dying = DiesBeforeConfirming(
        url="http://tmc.fake/router/rest", app_key=APP_KEY, secret=SECRET, http=http_client(tmc)
    )
    with pytest.raises(ConnectionError):
        service.poll(session_factory, dying, sealer=SEALER, clock=utcnow)
    assert len(tmc.queue) == 1  # not confirmed: TMC keeps it
    tmc.publish(workcard(2))

    new = service.poll(session_factory, feed, sealer=SEALER, clock=utcnow)

    assert len(new) == 1  # workcard 1 came again and was dropped; workcard 2 is new
    assert tmc.queue == [] and tmc.confirmed == ["1000", "1001"]
    with session_factory() as session:
        stored = session.scalars(select(InboundMessage).order_by(InboundMessage.id)).all()
        assert [(m.platform, m.external_order_id, m.status) for m in stored] == [
            ("tmall", "WC1", "received"),
            ("tmall", "WC2", "received"),
        ]
        assert "孙丽" not in stored[0].sealed_body
        assert '"buyer_name": "孙丽"' in SEALER.open(stored[0].sealed_body).decode()


def test_a_request_signed_with_another_secret_is_refused_by_tmc(session_factory):
    tmc = FakeTmc()
    tmc.publish(workcard(3))
    feed = TmallTmcFeed(
        url="http://tmc.fake/router/rest", app_key=APP_KEY, secret="wrong", http=http_client(tmc)
    )
    with pytest.raises(FeedError, match="Invalid signature"):
        service.poll(session_factory, feed, sealer=SEALER, clock=utcnow)


def test_jd_tasks_are_paged_by_the_cursor_and_never_stored_twice(session_factory):
    jd = FakeJd(tasks=[{"task_id": f"T{n}", **workcard(n)} for n in range(5)])
    feed = JdTaskFeed(
        url="http://jd.fake/routerjson", app_key=APP_KEY, secret=SECRET, http=http_client(jd)
    )
    seen = [service.poll(session_factory, feed, sealer=SEALER, clock=utcnow) for _ in range(4)]
    assert [len(ids) for ids in seen] == [2, 2, 1, 0]
    # A poller restarted from an old cursor sees the same tasks again: dropped.
    again = JdTaskFeed(
        url="http://jd.fake/routerjson", app_key=APP_KEY, secret=SECRET, http=http_client(jd)
    )
    assert service.poll(session_factory, again, sealer=SEALER, clock=utcnow) == []
    with session_factory() as session:
        ids = session.scalars(
            select(InboundMessage.external_order_id).where(InboundMessage.platform == "jd")
        ).all()
        assert sorted(ids) == ["T0", "T1", "T2", "T3", "T4"]
