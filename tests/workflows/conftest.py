from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from temporalio.client import Client

from tests.workflows.fakes import FakeActivities
from worker import build_worker


@pytest.fixture
def fakes() -> FakeActivities:
    return FakeActivities()


@pytest.fixture
def task_queue() -> str:
    return f"test-{uuid.uuid4()}"


@pytest.fixture
async def worker(client: Client, task_queue: str, fakes: FakeActivities) -> AsyncIterator[None]:
    async with build_worker(client, task_queue=task_queue, activities=fakes.all()):
        yield
