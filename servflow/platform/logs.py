"""Log setup of the worker and the API: plain text for people, or one JSON object per line
for a log pipeline, each line naming the order (and node) it is about when that is known.

Where the order is known: inside an activity, from the running activity's workflow id (an
order is one workflow); in the API, from the route's path parameters, which the metrics
middleware binds with `bind_log_source` for the length of the request.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import TextIO

from temporalio import activity

# Where the log fields of the current request or task come from (order_id, node_id): each
# source is asked when a line is written, so a request's fields can be bound before its
# route (and so its path parameters) is known.
FieldSource = Callable[[], Mapping[str, object]]
_sources: ContextVar[tuple[FieldSource, ...]] = ContextVar("servflow_log_sources", default=())
CONTEXT_FIELDS = ("order_id", "node_id")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


@contextmanager
def bind_log_source(source: FieldSource) -> Iterator[None]:
    """Adds the fields `source()` returns (order_id, node_id; others are ignored) to every
    log line written inside the block, asking it anew for each line."""
    token = _sources.set((*_sources.get(), source))
    try:
        yield
    finally:
        _sources.reset(token)


def bind_log_context(**fields: str) -> AbstractContextManager[None]:
    """Adds `fields` (order_id, node_id) to every log line written inside the block."""
    return bind_log_source(lambda: fields)


def log_context() -> dict[str, str]:
    """The order and node the current code works on, as far as known."""
    fields: dict[str, object] = {}
    if activity.in_activity():
        # An order is one workflow; a standalone activity has no workflow id.
        fields["order_id"] = activity.info().workflow_id or ""
    for source in _sources.get():
        fields.update(source())
    return {k: str(v) for k, v in fields.items() if k in CONTEXT_FIELDS and v}


class LogContextFilter(logging.Filter):
    """Stamps order_id / node_id on each record as it is written, while the context that
    knows them is still current (a handler may format it later, elsewhere)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in log_context().items():
            setattr(record, key, value)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, then
    order_id / node_id when known, and the exception text when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, str] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        stamped = {key: getattr(record, key) for key in CONTEXT_FIELDS if hasattr(record, key)}
        entry.update(stamped or log_context())
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        # ensure_ascii=False: Chinese messages stay readable in the log viewer.
        return json.dumps(entry, ensure_ascii=False, default=str)


def log_handler(log_format: str, stream: TextIO | None = None) -> logging.Handler:
    """A handler writing to `stream` (stderr) in `log_format` ("text" or "json"), each
    record stamped with the order and node it is about."""
    handler = logging.StreamHandler(stream)
    handler.addFilter(LogContextFilter())
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    return handler


def configure_logging(log_format: str, *, level: int = logging.INFO) -> None:
    """Sends every log record to stderr in `log_format` ("text" or "json"), replacing
    whatever handlers the root logger had (uvicorn's loggers propagate to it)."""
    logging.basicConfig(level=level, handlers=[log_handler(log_format)], force=True)
