"""A worker SIGKILLed right after a transfer step committed, and replaced: the transfer
completes and every movement is in the journal once."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from temporalio.client import Client

from servflow.inventory import service
from servflow.inventory.models import StockMovement
from servflow.platform.db import make_engine, make_session_factory
from servflow.tables import metadata
from tests.inventory.stockworld import build, receive
from tests.world import _unit
from workflows import constants as c
from workflows.contracts import TransferInput, TransferReceipt, TransferShipment, TransferState

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'transfer-crash.db'}"
    engine = make_engine(url)
    metadata.create_all(engine)
    with make_session_factory(engine)() as session:
        hq = _unit(session, "hq", "hq", "总部", None)
        units = {
            u.code: u
            for u in (
                hq,
                _unit(session, "region", "huabei", "华北", hq),
                _unit(session, "region", "huadong", "华东", hq),
            )
        }
        stock = build(session, units)
        receive(session, stock, "WH-BJ", "MOTOR", 10, "opening")
        session.commit()
    engine.dispose()
    yield url


def spawn(address: str, queue: str, url: str, *extra: str) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.inventory.crashing_worker",
            "--address",
            address,
            "--task-queue",
            queue,
            "--database-url",
            url,
            *extra,
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    return process


def ready(process: subprocess.Popen[str]) -> None:
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "worker ready"


async def until_status(handle, want: str) -> None:
    for _ in range(200):
        state = await handle.query(c.QUERY_TRANSFER, result_type=TransferState)
        if state.status == want:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"never {want}")


async def test_a_worker_killed_after_shipping_is_replaced_and_nothing_moves_twice(
    client: Client, database_url: str, tmp_path: Path
) -> None:
    queue, marker = f"transfer-crash-{uuid.uuid4()}", tmp_path / "died"
    address = client.service_client.config.target_host
    first = spawn(address, queue, database_url, "--die-after", "ship", "--marker", str(marker))
    # The replacement is started now (its imports take seconds) and polls once the first died.
    second = spawn(address, queue, database_url, "--wait-for", str(marker))
    await asyncio.to_thread(ready, first)
    await asyncio.to_thread(ready, second)
    code = f"T-{uuid.uuid4().hex[:8]}"
    start = TransferInput(
        code=code,
        order_id="WO-1",
        line_key="WO-1/1",
        sku="MOTOR",
        qty=3,
        source="WH-BJ",
        destination="WH-TJ",
    )
    handle = await client.start_workflow(c.TRANSFER_WORKFLOW, start, id=code, task_queue=queue)
    try:
        await until_status(handle, "reserved")
        shipping = asyncio.create_task(
            handle.execute_update(
                c.UPDATE_TRANSFER_SHIP,
                TransferShipment(carrier="SF", tracking_no="SF9"),
                result_type=TransferState,
            )
        )
        assert await asyncio.to_thread(first.wait, 60) == -9  # died right after the commit
        assert (await shipping).status == "shipped"
        await handle.execute_update(
            c.UPDATE_TRANSFER_RECEIVE, TransferReceipt(), result_type=TransferState
        )
        result = TransferState.model_validate(await handle.result())
    finally:
        for process in (first, second):
            if process.poll() is None:
                process.terminate()
                process.wait(30)
    assert result.status == "received"
    assert marker.read_text() == code

    engine = make_engine(database_url)
    with make_session_factory(engine)() as session:
        keys = sorted(session.scalars(select(StockMovement.key).where(StockMovement.ref == "WO-1")))
        assert keys == sorted(
            [f"reserve:{code}/source", f"{code}/out", f"{code}/in", "reserve:WO-1/1"]
        )
        entries, _ = service.page_stock(session, scope_path=None, limit=10, offset=0, sku="MOTOR")
        balances = {e.warehouse.code: (e.level.on_hand, e.level.reserved) for e in entries}
        assert balances == {"WH-BJ": (7, 0), "WH-TJ": (3, 3)}
        assert service.journal_mismatches(session) == []
    engine.dispose()
