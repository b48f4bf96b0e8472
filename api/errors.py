"""The API side of the one error hierarchy (servflow.platform.errors): JSON for each error.

Every error body is `{"detail": "<message>", ...}`; 422s add `errors` ({field: message}) or
`problems` (definition problems). Services raise these, never `HTTPException`.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from temporalio.service import RPCError, RPCStatusCode

from servflow.platform.base import Base
from servflow.platform.errors import AppError

log = logging.getLogger(__name__)
# Temporal answers that mean "not now": the caller may retry the same request.
_TRANSIENT = {
    RPCStatusCode.UNAVAILABLE,
    RPCStatusCode.DEADLINE_EXCEEDED,
    RPCStatusCode.RESOURCE_EXHAUSTED,
    RPCStatusCode.ABORTED,
}


def field_path(loc: tuple[Any, ...] | list[Any]) -> str:
    """ "body.customer.lat" → "customer.lat"; list indexes become "[i]"."""
    parts = list(loc)
    if parts and parts[0] in ("body", "query", "path", "header", "cookie"):
        source = parts.pop(0)
        if not parts:
            return str(source)
        if source != "body":
            parts[0] = str(parts[0])
    path = ""
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path or "body"


def validation_errors(errors: list[Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for error in errors:
        path = field_path(error.get("loc", ()))
        message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        out[path] = f"{out[path]}; {message}" if path in out else message
    return out


def _app_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    headers = None
    if exc.status_code == 401:
        headers = {"WWW-Authenticate": "Bearer"}
    elif exc.status_code in (503, 504):
        headers = {"Retry-After": "1"}  # a passing condition: the same request may succeed
    return JSONResponse(
        {"detail": exc.message, **exc.extra}, status_code=exc.status_code, headers=headers
    )


def _request_validation(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = validation_errors(list(exc.errors()))
    first = next(iter(errors.items()), ("body", "invalid"))
    return JSONResponse({"detail": f"{first[0]}: {first[1]}", "errors": errors}, status_code=422)


def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    return JSONResponse(
        {"detail": str(exc.detail)}, status_code=exc.status_code, headers=exc.headers
    )


# "UNIQUE constraint failed: engineer.region_id, engineer.code" (SQLite): the last column.
_SQLITE_COLUMN = re.compile(r"constraint failed: (?:.*[ ,])?\w+\.(\w+)\s*$")


def _constraint_column(table: str | None, constraint: str | None) -> str | None:
    """The last column of a named constraint, from the tables' metadata (PostgreSQL names
    the constraint, not the column, for unique and foreign-key violations)."""
    found = Base.metadata.tables.get(table or "")
    for item in found.constraints if found is not None else ():
        columns = list(getattr(item, "columns", ()))
        if item.name == constraint and columns:
            return str(columns[-1].name)
    return None


def refused_field(orig: BaseException | None) -> str | None:
    """The column a database refusal is about, when the driver tells: the field to name."""
    diag = getattr(orig, "diag", None)  # psycopg
    if diag is not None:
        return getattr(diag, "column_name", None) or _constraint_column(
            getattr(diag, "table_name", None), getattr(diag, "constraint_name", None)
        )
    match = _SQLITE_COLUMN.search(str(orig).splitlines()[0]) if orig is not None else None
    return match.group(1) if match else None


def _refusal(request: Request, exc: DBAPIError, message: str, status: int) -> JSONResponse:
    # The driver's text names tables, constraints and SQL: it goes to the log, never out.
    log.warning("%s %s: the database refused: %s", request.method, request.url.path, exc.orig)
    field = refused_field(exc.orig)
    if field is None:
        return JSONResponse({"detail": message}, status)
    return JSONResponse({"detail": f"{field}: {message}", "errors": {field: message}}, status)


def _data_error(request: Request, exc: Exception) -> JSONResponse:
    # A value the database refuses (a NUL byte, a number out of range) is bad input.
    assert isinstance(exc, DBAPIError)
    return _refusal(request, exc, "a value was refused by the database", 422)


def _integrity_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, IntegrityError)
    return _refusal(request, exc, "conflicts with stored data", 409)


def _workflow_service_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RPCError)
    log.warning(
        "%s %s: Temporal answered %s: %s",
        request.method,
        request.url.path,
        exc.status.name,
        exc.message,
    )
    if exc.status in _TRANSIENT:
        return JSONResponse(
            {"detail": f"the workflow service is unavailable ({exc.status.name}); retry"},
            status_code=503,
            headers={"Retry-After": "1"},
        )
    return JSONResponse(
        {"detail": f"the workflow service refused the request ({exc.status.name}): {exc.message}"},
        status_code=502,
    )


def _database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    # Down, unreachable or (SQLite) busy past its timeout: nothing was written; retry.
    log.warning("%s %s: database unavailable: %s", request.method, request.url.path, exc)
    return JSONResponse(
        {"detail": "the database is unavailable or busy; retry"},
        status_code=503,
        headers={"Retry-After": "1"},
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(RPCError, _workflow_service_error)
    app.add_exception_handler(OperationalError, _database_unavailable)
    app.add_exception_handler(DataError, _data_error)
    app.add_exception_handler(IntegrityError, _integrity_error)
    app.add_exception_handler(RequestValidationError, _request_validation)
    app.add_exception_handler(StarletteHTTPException, _http_error)
