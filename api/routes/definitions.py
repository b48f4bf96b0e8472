"""Definitions: drafts, validation, publishing, versions and diffs."""

from __future__ import annotations

from fastapi import APIRouter, Query

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
from servflow.definitions import service
from servflow.definitions.models import Definition, DefinitionVersion

router = APIRouter(prefix="/api/definitions", tags=["definitions"])


def _summaries(versions: list[DefinitionVersion]) -> list[VersionSummary]:
    return [
        VersionSummary(version=v.version, published_at=v.published_at, published_by=v.published_by)
        for v in versions
    ]


def _detail(session: SessionDep, row: Definition) -> DefinitionDetail:
    return DefinitionDetail(
        key=row.key,
        name=row.name,
        draft=row.draft,
        layout=row.layout,
        versions=_summaries(service.list_versions(session, key=row.key)),
        problems=service.draft_problems(session, row.draft),
    )


@router.get("", response_model=Page[DefinitionSummary], responses=ERRORS)
def read_definitions(session: SessionDep, _user: CurrentUser) -> Page[DefinitionSummary]:
    """Every definition with its latest published version and whether a draft is pending."""
    data = [
        DefinitionSummary(
            key=o.definition.key,
            name=o.definition.name,
            latest_version=o.latest_version,
            has_draft=o.has_draft,
            updated_at=o.definition.updated_at,
        )
        for o in service.list_definitions(session)
    ]
    return Page(data=data, count=len(data))


@router.post("", status_code=201, response_model=DefinitionDetail, responses=ERRORS)
def create_definition(
    body: DefinitionWrite, session: SessionDep, user: Designer
) -> DefinitionDetail:
    """Creates a definition from a draft (which may still have problems)."""
    row = service.create_definition(
        session, draft=body.definition, layout=body.layout, user=user.username
    )
    session.commit()
    return _detail(session, row)


@router.post("/validate", response_model=ValidationResult, responses=ERRORS)
def validate(body: DefinitionValidate, session: SessionDep, _user: CurrentUser) -> ValidationResult:
    """Every problem of a definition, without saving anything."""
    report = service.validate_raw(session, body.definition)
    return ValidationResult(ok=report.ok, problems=report.problems)


@router.get("/{key}", response_model=DefinitionDetail, responses=ERRORS)
def read_definition(key: str, session: SessionDep, _user: CurrentUser) -> DefinitionDetail:
    return _detail(session, service.get_definition(session, key=key))


@router.put("/{key}/draft", response_model=DraftSaved, responses=ERRORS)
def save_draft(key: str, body: DefinitionWrite, session: SessionDep, user: Designer) -> DraftSaved:
    """Saves the draft even when it has problems, and returns them."""
    service.save_draft(
        session, key=key, draft=body.definition, layout=body.layout, user=user.username
    )
    session.commit()
    return DraftSaved(key=key, problems=service.validate_raw(session, body.definition).problems)


@router.post("/{key}/publish", status_code=201, response_model=Published, responses=ERRORS)
def publish(key: str, session: SessionDep, user: Designer) -> Published:
    """Publishes the draft as the next version; refused while it has problems."""
    publication = service.publish_draft(session, key=key, user=user.username)
    session.commit()
    return Published(key=key, version=publication.version)


@router.get("/{key}/versions", response_model=DataList[VersionSummary], responses=ERRORS)
def read_versions(key: str, session: SessionDep, _user: CurrentUser) -> DataList[VersionSummary]:
    return DataList(data=_summaries(service.list_versions(session, key=key)))


@router.get("/{key}/versions/{version}", response_model=VersionDetail, responses=ERRORS)
def read_version(
    key: str, version: VersionPath, session: SessionDep, _user: CurrentUser
) -> VersionDetail:
    row = service.get_version(session, key=key, version=version)
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
    number = None if target == "draft" else int(target)
    changes = service.diff(session, key=key, base=base, target=number)
    return DefinitionDiff(base=str(base), target=target, **changes)


@router.post("/{key}/draft-from/{version}", response_model=DefinitionDetail, responses=ERRORS)
def draft_from_version(
    key: str, version: VersionPath, session: SessionDep, user: Designer
) -> DefinitionDetail:
    """Replaces the draft (and layout) with a copy of a published version."""
    row = service.draft_from_version(session, key=key, version=version, user=user.username)
    session.commit()
    return _detail(session, row)
