"""Database fixtures shared by the store, activity and API tests.

Every database test runs on SQLite and, when SERVFLOW_TEST_DATABASE_URL names a PostgreSQL
(CI always does), on PostgreSQL too; each PostgreSQL test session works in a schema of its
own, dropped at the end. Tables are emptied after each test.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from servflow.platform.db import make_engine, make_session_factory
from servflow.tables import metadata
from workflows import constants as c
from workflows import trust

# The small world of domain tests (org tree, engineers, prices) and the activity runner.
pytest_plugins = ["tests.world"]

PG_URL_ENV = "SERVFLOW_TEST_DATABASE_URL"
TEST_ACTOR_KEY = "test-actor-key-for-servflow-step-proofs-0123456789"


@pytest.fixture(scope="session", autouse=True)
def actor_key() -> Iterator[str]:
    """One actor key for the session, as the API and the worker share one in production:
    Settings read it from the environment (the API signs), the interpreter checks with it."""
    previous = os.environ.get("SERVFLOW_ACTOR_KEY")
    os.environ["SERVFLOW_ACTOR_KEY"] = TEST_ACTOR_KEY
    trust.configure(TEST_ACTOR_KEY)
    yield TEST_ACTOR_KEY
    if previous is None:
        os.environ.pop("SERVFLOW_ACTOR_KEY", None)
    else:
        os.environ["SERVFLOW_ACTOR_KEY"] = previous


BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(scope="session", params=BACKENDS)
def db_backend(request: pytest.FixtureRequest) -> str:
    """ "sqlite" or "postgresql"; PostgreSQL is skipped without SERVFLOW_TEST_DATABASE_URL."""
    if request.param == "postgresql" and not os.environ.get(PG_URL_ENV):
        pytest.skip(f"{PG_URL_ENV} not set")
    return str(request.param)


@pytest.fixture(scope="session")
def make_database_url(
    db_backend: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[[], str]]:
    """Makes URLs of fresh, empty databases (a SQLite file, or a new PostgreSQL schema)."""
    schemas: list[str] = []
    admin: Engine | None = None

    def make() -> str:
        nonlocal admin
        if db_backend == "sqlite":
            return f"sqlite:///{tmp_path_factory.mktemp('db') / 'servflow.db'}"
        base = make_url(os.environ[PG_URL_ENV])
        admin = admin or make_engine(base.render_as_string(hide_password=False))
        schema = f"test_{uuid.uuid4().hex[:12]}"
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        schemas.append(schema)
        url = base.update_query_dict({"options": f"-csearch_path={schema}"})
        return url.render_as_string(hide_password=False)

    yield make
    if admin is not None:
        with admin.begin() as connection:
            for schema in schemas:
                connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(scope="session")
def db_engine(make_database_url: Callable[[], str]) -> Iterator[Engine]:
    """One engine per backend and test session, with every table created from the models."""
    engine = make_engine(make_database_url())
    metadata.create_all(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def session_factory(db_engine: Engine) -> Iterator[sessionmaker[Session]]:
    """A session factory on the test database; every table is emptied after the test."""
    yield make_session_factory(db_engine)
    tables = list(reversed(metadata.sorted_tables))
    with db_engine.begin() as connection:
        if db_engine.dialect.name == "postgresql":
            names = ", ".join(f'"{t.name}"' for t in tables)
            connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                connection.execute(table.delete())


@pytest.fixture
def session(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    with session_factory() as session:
        yield session


# ---- Temporal: one dev server and one time-skipping server per test session ----------

ROOT = Path(__file__).resolve().parents[1]
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
        dev_server_extra_args=[
            "--sqlite-pragma",
            "journal_mode=wal",
            "--sqlite-pragma",
            "synchronous=normal",
        ],
    )
    async with env:
        yield env


@pytest.fixture(scope="session")
async def skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(TEST_SERVER), data_converter=pydantic_data_converter
    )
    async with env:
        # The test server knows no custom search attributes until they are added.
        await env.client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(
                namespace=env.client.namespace,
                search_attributes={key.name: key.indexed_value_type for key in SEARCH_KEYS},
            )
        )
        yield env


@pytest.fixture
def client(temporal_env: WorkflowEnvironment) -> Client:
    return temporal_env.client
