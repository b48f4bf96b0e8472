"""Runs the API with uvicorn on settings.api_host / settings.api_port."""

from __future__ import annotations

import uvicorn

from api.main import create_app
from servflow.platform.keys import WeakSecret
from servflow.platform.logs import configure_logging
from servflow.platform.settings import Settings, get_settings


def serve(settings: Settings | None = None) -> None:
    """Serves the API until interrupted (SIGINT/SIGTERM)."""
    settings = settings or get_settings()
    configure_logging(settings.log_format)
    try:
        app = create_app(settings)
    except WeakSecret as exc:
        raise SystemExit(f"servflow API refuses to start: {exc}") from None
    # log_config=None: uvicorn's loggers keep no handlers of their own and reach the root
    # logger's, so its access lines come out in the same format (JSON in production).
    uvicorn.run(app, host=settings.api_host, port=settings.api_port, log_config=None)
