"""`servflow migrate`, and the database sessions of the other commands."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from servflow.cli.common import say
from servflow.platform.settings import Settings


def session_factory(settings: Settings) -> sessionmaker[Session]:
    from servflow.platform.db import make_engine, make_session_factory

    return make_session_factory(make_engine(settings.database_url))


def cmd_migrate(settings: Settings) -> int:
    from servflow.platform.migrate import upgrade

    if settings.database_url.startswith("sqlite:///"):
        Path(settings.database_url.removeprefix("sqlite:///")).parent.mkdir(
            parents=True, exist_ok=True
        )
    upgrade(settings.database_url)
    say(f"==> database migrated ({_safe_url(settings.database_url)})")
    return 0


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
