"""Master-data use cases for every kind of the registry (servflow.masterdata.registry): list,
create and update one row, and import a CSV file all or nothing (the API and any script).

The kinds' own rules live in their domains' services; this module only dispatches to them and
turns what they refuse into row errors. Every reference is resolved by its code, and every
row must lie within the caller's scope (None: HQ, everywhere).
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from servflow.masterdata.registry import MasterKind, get_kind
from servflow.platform.errors import AppError, Conflict, Invalid, NotFound

# ---- one row ---------------------------------------------------------------------------------

log = logging.getLogger(__name__)


def list_rows(
    session: Session,
    kind: MasterKind,
    *,
    scope_path: str | None,
    limit: int,
    offset: int,
    filters: Mapping[str, Any] | None = None,
) -> tuple[list[BaseModel], int]:
    """A page of `kind` within `scope_path` as public models, and the count of all."""
    rows, count = kind.page(
        session, scope_path=scope_path, limit=limit, offset=offset, **(filters or {})
    )
    return [kind.show(session, row) for row in rows], count


def _save(
    session: Session, kind: MasterKind, row: BaseModel, *, scope_path: str | None, **key: Any
) -> BaseModel:
    try:
        stored = kind.save(session, scope_path=scope_path, **row.model_dump(), **key)
    except IntegrityError as exc:
        session.rollback()
        log.warning("master data %s refused by the database: %s", kind.name, exc.orig)
        raise Conflict("conflicts with stored data") from exc
    return kind.show(session, stored)


def _named(key: Any) -> str:
    return f"'{key}'" if isinstance(key, str) else str(key)


def create_row(
    session: Session, kind: MasterKind, row: BaseModel, *, scope_path: str | None
) -> BaseModel:
    """Creates a row of `kind` (a kind without a URL key sets the row its fields name).

    Raises:
        Conflict: a row with the body's key exists already (anywhere).
        Invalid, Forbidden: as the kind's `save` refuses the row.
    """
    if kind.key is not None and kind.key.in_body:
        value = getattr(row, kind.key.param)
        if kind.key.find(session, scope_path=None, **{kind.key.param: value}) is not None:
            raise Conflict(f"{kind.key.param}: {kind.noun} {_named(value)} exists already")
    return _save(session, kind, row, scope_path=scope_path)


def update_row(
    session: Session, kind: MasterKind, key: Any, row: BaseModel, *, scope_path: str | None
) -> BaseModel:
    """Updates the row of `kind` the URL names by `key`.

    Raises:
        NotFound: no such row within `scope_path`.
        Invalid: the body names another key, or the kind's `save` refuses the row.
        Forbidden: as the kind's `save` refuses the row.
    """
    spec = kind.key
    assert spec is not None, f"{kind.name} rows have no URL key"
    if spec.find(session, scope_path=scope_path, **{spec.param: key}) is None:
        raise NotFound(f"no {kind.noun} {_named(key)}")
    if not spec.in_body:
        return _save(session, kind, row, scope_path=scope_path, **{spec.param: key})
    if getattr(row, spec.param) != key:
        message = f"must be {_named(key)}"
        raise Invalid(f"{spec.param}: {message}", errors={spec.param: message})
    return _save(session, kind, row, scope_path=scope_path)


# ---- CSV import ------------------------------------------------------------------------------


@dataclass
class ImportReport:
    """`imported` rows (0 when any row is bad: nothing is imported then) and row errors.

    `row` is the line number in the file (the header is line 1).
    """

    imported: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


Progress = Callable[[int, int], None]


def read_csv(data: bytes) -> list[dict[str, str]]:
    """Rows of a UTF-8 (optionally BOM-prefixed) CSV file with a header line.

    Raises:
        ValueError: not UTF-8 text, or no header.
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError("the file is not UTF-8 text") from exc
    if "\x00" in text:
        raise ValueError("the file contains NUL characters")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        if not reader.fieldnames:
            raise ValueError("the file has no header line")
        return [dict(row) for row in reader]
    except csv.Error as exc:
        raise ValueError(f"not a CSV file: line {reader.line_num}: {exc}") from exc


def _clean(raw: Mapping[Any, Any]) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for key, value in raw.items():
        if key is None:
            row["_extra"] = value  # more cells than header columns
            continue
        key = key.strip()
        if isinstance(value, str) and value.strip() == "":
            continue  # an empty cell means "the default"
        row[key] = value
    return row


def _row_problems(
    session: Session, kind: MasterKind, raw: Mapping[Any, Any], scope_path: str | None
) -> list[tuple[str, str]]:
    """What is wrong with one CSV row as (field, message) pairs; none when it was saved."""
    cleaned = _clean(raw)
    if "_extra" in cleaned:
        return [("", "too many cells")]
    try:
        row = kind.row.model_validate(cleaned)
    except ValidationError as exc:
        return [(".".join(str(p) for p in e["loc"]), e["msg"]) for e in exc.errors()]
    try:
        kind.save(session, scope_path=scope_path, **row.model_dump())
    except AppError as exc:
        return list((exc.extra.get("errors") or {"": exc.message}).items())
    return []


def import_csv(
    session: Session,
    kind: str,
    rows: Iterable[Mapping[Any, Any]],
    *,
    scope_path: str | None = None,
    progress: Progress | None = None,
) -> ImportReport:
    """Imports rows of `kind` (created or updated by their natural key) all or nothing.

    Every row is checked; when any row is bad, the session is rolled back and the report
    lists every error with its line and field. Otherwise the rows are applied and flushed;
    the caller commits.

    Args:
        session: the transaction to import in.
        kind: the name of a registry kind (raises ValueError for another name).
        rows: dicts of column name to cell text (e.g. from `read_csv`).
        scope_path: when given, every row must lie within this org path.
        progress: called as `progress(done, total)` while rows are applied.
    """
    spec = get_kind(kind)
    materialized = list(rows)
    report = ImportReport()
    for index, raw in enumerate(materialized):
        line = index + 2
        conflict = False
        try:
            problems = _row_problems(session, spec, raw, scope_path)
        except IntegrityError as exc:
            session.rollback()  # the transaction is unusable: no later row can be checked
            log.warning("import of %s row %s refused by the database: %s", kind, line, exc.orig)
            problems, conflict = [("", "conflicts with stored data")], True
        report.errors += [{"row": line, "field": f, "message": m} for f, m in problems]
        if conflict:
            break
        if progress is not None:
            progress(index + 1, len(materialized))
    if report.errors:
        session.rollback()
        return report
    report.imported = len(materialized)
    return report
