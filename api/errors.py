"""The API side of the one error hierarchy (servflow.platform.errors): JSON for each error.

Every error body is `{"detail": "<message>", ...}`; 422s add `errors` ({field: message}) or
`problems` (definition problems). Services raise these, never `HTTPException`.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from temporalio.service import RPCError, RPCStatusCode

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
    headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None
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


def _data_error(_request: Request, exc: Exception) -> JSONResponse:
    # A value the database refuses (a NUL byte, a number out of range) is bad input.
    assert isinstance(exc, DBAPIError)
    reason = str(exc.orig).splitlines()[0] if exc.orig is not None else "invalid value"
    return JSONResponse({"detail": f"a value was refused by the database: {reason}"}, 422)


def _integrity_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, IntegrityError)
    reason = str(exc.orig).splitlines()[0] if exc.orig is not None else "conflict"
    return JSONResponse({"detail": f"conflicts with stored data: {reason}"}, 409)


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
