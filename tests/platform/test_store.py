from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import text

from servflow.orders import repo as orders
from servflow.orders.models import WorkOrder
from servflow.platform.db import make_engine


def test_timestamps_come_back_timezone_aware_utc(session, tree):
    beijing_time = datetime(2026, 11, 22, 16, 0, tzinfo=timezone(timedelta(hours=8)))
    session.add(WorkOrder(order_id="o-1", created_at=beijing_time, updated_at=beijing_time))
    session.commit()
    session.expire_all()
    order = orders.get_order(session, order_id="o-1")
    assert order.created_at == datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
    assert order.created_at.tzinfo is not None


def test_naive_timestamps_are_refused(session):
    session.add(WorkOrder(order_id="o-1", created_at=datetime(2026, 1, 1)))
    with pytest.raises(Exception, match="naive datetime"):
        session.flush()


def test_sqlite_engine_uses_wal_and_foreign_keys(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path}/x/servflow.db")
    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert connection.execute(text("PRAGMA synchronous")).scalar() == 1  # NORMAL
        assert connection.execute(text("PRAGMA busy_timeout")).scalar() > 0
    engine.dispose()
