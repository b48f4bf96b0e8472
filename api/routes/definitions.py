"""Definitions: drafts, validation, publishing, versions and diffs."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Query
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api.deps import CurrentUser, Designer, SessionDep, VersionPath
from api.schemas import (
    ERRORS,
    DataList,
    DefinitionDetail,
    DefinitionDiff,
    DefinitionSummary,
    DefinitionValidate,
    DefinitionWrite,
    DraftSaved,
    Page,
    Published,
    ValidationResult,
    VersionDetail,
    VersionSummary,
)
from servflow.definitions import repo
from servflow.definitions.models import Definition as DefinitionRow
from servflow.definitions.models import DefinitionVersion
from servflow.definitions.service import validate_raw
from servflow.platform.errors import Conflict, Invalid, NotFound
from workflows.definition import DEFINITION_KEY
from workflows.diff import diff_definitions

router = APIRouter(prefix="/api/definitions", tags=["definitions"])


def _key_of(definition: dict[str, Any], expected: str | None = None) -> str:
    key = definition.get("key")
    if expected is not None and key is None:
        definition["key"] = key = expected
    if not isinstance(key, str) or not re.match(DEFINITION_KEY, key):
        raise Invalid(
            "definition.key must be lower-case letters, digits, - or _ (2-64 characters)",
            errors={"definition.key": "must match " + DEFINITION_KEY},
        )
    if expected is not None and key != expected:
        raise Invalid(
            f"definition.key '{key}' does not match the URL's '{expected}'",
            errors={"definition.key": f"must be '{expected}'"},
        )
    return key


def _get(session: Session, key: str) -> DefinitionRow:
    row = repo.get_definition(session, key=key)
    if row is None:
        raise NotFound(f"no definition '{key}'")
    return row


def _detail(session: Session, row: DefinitionRow) -> DefinitionDetail:
    return DefinitionDetail(
        key=row.key,
        name=row.name,
        draft=row.draft,
        layout=row.layout,
        versions=[
            VersionSummary(
                version=v.version, published_at=v.published_at, published_by=v.published_by
            )
            for v in repo.list_versions(session, key=row.key)
        ],
        problems=validate_raw(session, row.draft).problems if row.draft else [],
    )


@router.get("", response_model=Page[DefinitionSummary], responses=ERRORS)
def read_definitions(session: SessionDep, _user: CurrentUser) -> Page[DefinitionSummary]:
    """Every definition with its latest published version and whether a draft is pending."""
    rows = repo.list_definitions(session)
    latest = {
        key: (version, published_at)
        for key, version, published_at in session.execute(
            select(
                DefinitionVersion.key, DefinitionVersion.version, DefinitionVersion.published_at
            ).order_by(DefinitionVersion.key, DefinitionVersion.version)
        ).all()
    }
    data = []
    for row in rows:
        version, published_at = latest.get(row.key, (None, None))
        # Edited after the latest publish (or never published): a draft is pending.
        has_draft = bool(row.draft) and (published_at is None or row.updated_at > published_at)
        data.append(
            DefinitionSummary(
                key=row.key,
                name=row.name,
                latest_version=version,
                has_draft=has_draft,
                updated_at=row.updated_at,
            )
        )
    return Page(data=data, count=len(data))


@router.post("", status_code=201, response_model=DefinitionDetail, responses=ERRORS)
def create_definition(
    body: DefinitionWrite, session: SessionDep, user: Designer
) -> DefinitionDetail:
    """Creates a definition from a draft (which may still have problems)."""
    key = _key_of(body.definition)
    if repo.get_definition(session, key=key) is not None:
        raise Conflict(f"definition '{key}' exists already; save its draft instead")
    name = body.definition.get("name")
    row = repo.save_draft(
        session,
        key=key,
        draft=body.definition,
        name=name if isinstance(name, str) and name else key,
        layout=body.layout or {},
        user=user.username,
    )
    try:
        session.commit()
    except IntegrityError as exc:
        raise Conflict(f"definition '{key}' exists already") from exc
    return _detail(session, row)


@router.post("/validate", response_model=ValidationResult, responses=ERRORS)
def validate(body: DefinitionValidate, session: SessionDep, _user: CurrentUser) -> ValidationResult:
    """Every problem of a definition, without saving anything."""
    report = validate_raw(session, body.definition)
    return ValidationResult(ok=report.ok, problems=report.problems)


@router.get("/{key}", response_model=DefinitionDetail, responses=ERRORS)
def read_definition(key: str, session: SessionDep, _user: CurrentUser) -> DefinitionDetail:
    return _detail(session, _get(session, key))


@router.put("/{key}/draft", response_model=DraftSaved, responses=ERRORS)
def save_draft(key: str, body: DefinitionWrite, session: SessionDep, user: Designer) -> DraftSaved:
    """Saves the draft even when it has problems, and returns them."""
    row = _get(session, key)
    _key_of(body.definition, expected=key)
    name = body.definition.get("name")
    repo.save_draft(
        session,
        key=key,
        draft=body.definition,
        name=name if isinstance(name, str) and name else row.name,
        layout=body.layout,
        user=user.username,
    )
    session.commit()
    return DraftSaved(key=key, problems=validate_raw(session, body.definition).problems)


@router.post("/{key}/publish", status_code=201, response_model=Published, responses=ERRORS)
def publish(key: str, session: SessionDep, user: Designer) -> Published:
    """Publishes the draft as the next version; refused while it has problems."""
    row = _get(session, key)
    report = validate_raw(session, row.draft)
    if report.definition is None:
        count = len(report.problems)
        raise Invalid(
            f"definition '{key}' has {count} problem(s); fix them before publishing",
            problems=[p.model_dump() for p in report.problems],
        )
    body = report.definition.model_dump(mode="json")
    try:
        version = repo.publish_version(
            session, key=key, body=body, user=user.username, layout=row.layout
        )
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        raise Conflict(f"definition '{key}' was published concurrently; try again") from exc
    return Published(key=key, version=version.version)


@router.get("/{key}/versions", response_model=DataList[VersionSummary], responses=ERRORS)
def read_versions(key: str, session: SessionDep, _user: CurrentUser) -> DataList[VersionSummary]:
    _get(session, key)
    return DataList(
        data=[
            VersionSummary(
                version=v.version, published_at=v.published_at, published_by=v.published_by
            )
            for v in repo.list_versions(session, key=key)
        ]
    )


def _version(session: Session, key: str, version: int) -> DefinitionVersion:
    row = repo.get_version(session, key=key, version=version)
    if row is None:
        raise NotFound(f"definition '{key}' has no version {version}")
    return row


@router.get("/{key}/versions/{version}", response_model=VersionDetail, responses=ERRORS)
def read_version(
    key: str, version: VersionPath, session: SessionDep, _user: CurrentUser
) -> VersionDetail:
    row = _version(session, key, version)
    return VersionDetail(
        key=key,
        version=row.version,
        definition=row.body,
        layout=row.layout,
        published_at=row.published_at,
        published_by=row.published_by,
    )


@router.get("/{key}/diff", response_model=DefinitionDiff, responses=ERRORS)
def read_diff(
    key: str,
    session: SessionDep,
    _user: CurrentUser,
    base: int = Query(ge=1, le=2_147_483_647, description="a published version"),
    target: str = Query(default="draft", pattern=r"^(draft|[1-9][0-9]{0,8})$"),
) -> DefinitionDiff:
    """What changed from version `base` to version `target` (a number, or `draft`)."""
    row = _get(session, key)
    a = _version(session, key, base).body
    b = row.draft if target == "draft" else _version(session, key, int(target)).body
    diff = diff_definitions(a, b)
    return DefinitionDiff(base=str(base), target=target, **diff)


@router.post("/{key}/draft-from/{version}", response_model=DefinitionDetail, responses=ERRORS)
def draft_from_version(
    key: str, version: VersionPath, session: SessionDep, user: Designer
) -> DefinitionDetail:
    """Replaces the draft (and layout) with a copy of a published version."""
    row = _get(session, key)
    source = _version(session, key, version)
    draft = {k: v for k, v in source.body.items() if k != "version"}
    repo.save_draft(session, key=key, draft=draft, layout=source.layout, user=user.username)
    session.commit()
    return _detail(session, row)
