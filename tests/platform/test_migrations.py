from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from servflow.platform.db import make_engine
from servflow.platform.migrate import downgrade, upgrade
from servflow.tables import metadata


def diffs(url):
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            return compare_metadata(context, metadata)
    finally:
        engine.dispose()


def test_migration_produces_exactly_the_schema_of_the_models(make_database_url):
    url = make_database_url()
    upgrade(url)
    assert diffs(url) == []


def test_migration_downgrades_and_upgrades_again(make_database_url):
    url = make_database_url()
    upgrade(url)
    downgrade(url)
    engine = make_engine(url)
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    engine.dispose()
    upgrade(url)
    assert diffs(url) == []
