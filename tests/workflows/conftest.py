from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from tests.workflows.fakes import FakeActivities
from worker import build_worker
from workflows import constants as c

ROOT = Path(__file__).resolve().parents[2]
TEMPORAL = ROOT / ".venv" / "bin" / "temporal"
TEST_SERVER = ROOT / ".venv" / "bin" / "temporal-test-server"
SEARCH_KEYS = [
    c.SA_REGION,
    c.SA_OUTLET,
    c.SA_DEFINITION_KEY,
    c.SA_DEFINITION_VERSION,
    c.SA_STATUS,
    c.SA_CURRENT_NODE,
    c.SA_PRIORITY,
]


@pytest.fixture(scope="session")
async def temporal_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(TEMPORAL),
        data_converter=pydantic_data_converter,
        search_attributes=SEARCH_KEYS,
        dev_server_extra_args=["--sqlite-pragma", "journal_mode=wal", "--sqlite-pragma", "synchronous=normal"],
    )
    async with env:
        yield env


@pytest.fixture(scope="session")
async def skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(TEST_SERVER), data_converter=pydantic_data_converter
    )
    async with env:
        yield env


@pytest.fixture
def client(temporal_env: WorkflowEnvironment) -> Client:
    return temporal_env.client


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

