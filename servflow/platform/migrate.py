"""Runs the Alembic migrations from code (the CLI, `make run` and the tests use it)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from servflow.platform.db import database_url, make_engine

ALEMBIC_DIR = Path(__file__).resolve().parent / "alembic"


def alembic_config(url: str | None = None) -> Config:
    """An Alembic config pointing at servflow/platform/alembic and the given database."""
    config = Config()
    config.set_main_option("script_location", str(ALEMBIC_DIR))
    config.attributes["url"] = url or database_url()
    return config


def upgrade(url: str | None = None, revision: str = "head") -> None:
    """Migrates the database at `url` (default: SERVFLOW_DATABASE_URL or var/) to `revision`."""
    url = url or database_url()
    engine = make_engine(url)  # creates var/ for SQLite files
    try:
        with engine.begin() as connection:
            config = alembic_config(url)
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
    finally:
        engine.dispose()


def downgrade(url: str | None = None, revision: str = "base") -> None:
    """Migrates the database at `url` down to `revision` (default: an empty database)."""
    url = url or database_url()
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            config = alembic_config(url)
            config.attributes["connection"] = connection
            command.downgrade(config, revision)
    finally:
        engine.dispose()
