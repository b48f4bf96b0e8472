"""Master data CRUD and CSV import (hq_admin everywhere; region managers in their region).

The routes of every kind are generated from servflow.masterdata.registry, each with the
kind's own body and response models, so OpenAPI shows them typed:

    GET  /api/{kind}          a page within the caller's scope (`read_{kind}`)
    POST /api/{kind}          201, creates one (`create_{one}`), for kinds with a URL key
    PUT  /api/{kind}/{key}    updates one (`update_{one}`)
    PUT  /api/{kind}          sets one named by its fields (`set_{one}`), for kinds without
    POST /api/import/{kind}   a CSV file, all or nothing
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Path, Query, UploadFile
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from api.deps import MasterDataEditor, Principal, SessionDep
from api.schemas import ERRORS, Page
from servflow.masterdata import service as md
from servflow.masterdata.registry import KINDS, Key, MasterKind
from servflow.platform.errors import Invalid

router = APIRouter(prefix="/api", tags=["master data"])

Limit = Annotated[int, Query(ge=1, le=500)]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]
KEY_LIMITS: dict[type, dict[str, Any]] = {
    str: {"max_length": 64},
    int: {"ge": 1, "le": 2_147_483_647},
}


class ImportResult(BaseModel):
    kind: str
    imported: int
    errors: list[dict[str, Any]]


class ImportRefused(BaseModel):
    """422 of an import: row errors `[{row, field, message}]`, or field errors of the request."""

    detail: str
    kind: str | None = None
    imported: int = 0
    errors: list[dict[str, Any]] | dict[str, str]


class _NoFilters(BaseModel):
    """The list of a kind without query parameters of its own."""


def _scope(user: Principal) -> str | None:
    """None (everything) for HQ admins, else the caller's own path."""
    return None if user.has("hq_admin") else user.scope_path


def _of(generic: Any, *args: Any) -> Any:
    """`generic[*args]` (`Annotated[...]`, `Page[...]`) made at run time from a kind's values,
    which mypy cannot take for types."""
    return generic[args if len(args) > 1 else args[0]]


def _add(
    endpoint: Callable[..., Any],
    path: str,
    method: str,
    name: str,
    types: dict[str, Any],
    **options: Any,
) -> None:
    """Registers `endpoint` with its parameters typed for one kind: FastAPI reads the body,
    path and query models from the annotations, which a loop cannot write literally."""
    endpoint.__annotations__.update(types)
    endpoint.__name__ = name
    options.setdefault("responses", ERRORS)
    router.add_api_route(path, endpoint, methods=[method], name=name, **options)


def _add_read(kind: MasterKind) -> None:
    def read(
        session: SessionDep,
        user: MasterDataEditor,
        filters: BaseModel,
        limit: Limit = 100,
        offset: Offset = 0,
    ) -> Any:
        data, count = md.list_rows(
            session,
            kind,
            scope_path=_scope(user),
            limit=limit,
            offset=offset,
            filters=filters.model_dump(),
        )
        return {"data": data, "count": count}

    filters = _of(Annotated, kind.filters or _NoFilters, Query())
    _add(
        read,
        kind.url,
        "GET",
        f"read_{kind.name}",
        {"filters": filters},
        response_model=_of(Page, kind.public),
        description=f"{kind.title} within the caller's scope.",
    )


def _add_write(kind: MasterKind) -> None:
    def write(body: BaseModel, session: SessionDep, user: MasterDataEditor) -> Any:
        public = md.create_row(session, kind, body, scope_path=_scope(user))
        session.commit()
        return public

    rows = f"one of the {kind.title.lower()}"
    if kind.key is None:  # rows named by their fields: a PUT on the collection sets one
        route = ("PUT", f"set_{kind.one}", 200, f"Sets {rows} (created when missing).")
    else:
        exists = "409 if it exists" if kind.key.in_body else "its natural key updates"
        route = ("POST", f"create_{kind.one}", 201, f"Creates {rows} ({exists}).")
    method, name, status, description = route
    _add(
        write,
        kind.url,
        method,
        name,
        {"body": kind.row},
        status_code=status,
        response_model=kind.public,
        description=description,
    )


def _add_update(kind: MasterKind, key: Key) -> None:
    def update(key: Any, body: BaseModel, session: SessionDep, user: MasterDataEditor) -> Any:
        public = md.update_row(session, kind, key, body, scope_path=_scope(user))
        session.commit()
        return public

    key_type = _of(Annotated, key.type, Path(alias=key.param, **KEY_LIMITS[key.type]))
    _add(
        update,
        f"{kind.url}/{{{key.param}}}",
        "PUT",
        f"update_{kind.one}",
        {"key": key_type, "body": kind.row},
        response_model=kind.public,
        description=f"Updates one of the {kind.title.lower()} (404 outside the caller's scope).",
    )


for _kind in KINDS.values():
    _add_read(_kind)
    _add_write(_kind)
    if _kind.key is not None:
        _add_update(_kind, _kind.key)


# ---- CSV import ----------------------------------------------------------------------------------


def import_master_data(
    kind: str,
    session: SessionDep,
    user: MasterDataEditor,
    file: Annotated[UploadFile, File(description="UTF-8 CSV with a header line")],
) -> Any:
    """Imports a CSV all or nothing: any bad row → 422 with every row error, nothing saved."""
    try:
        rows = md.read_csv(file.file.read())
    except (ValueError, UnicodeError) as exc:
        raise Invalid(f"file: {exc}", errors={"file": str(exc)}) from exc
    report = md.import_csv(session, kind, rows, scope_path=_scope(user))
    if not report.ok:
        first = report.errors[0]
        return JSONResponse(
            {
                "detail": f"row {first['row']} {first['field']}: {first['message']}",
                "kind": kind,
                "imported": 0,
                "errors": report.errors,
            },
            status_code=422,
        )
    session.commit()
    return ImportResult(kind=kind, imported=report.imported, errors=[])


_add(
    import_master_data,
    "/import/{kind}",
    "POST",
    "import_master_data",
    {"kind": Literal[tuple(KINDS)]},
    response_model=ImportResult,
    responses={**ERRORS, 422: {"model": ImportRefused}},
)
