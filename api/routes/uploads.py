"""Photos and signatures from the field app: uploaded as multipart, checked by decoding,
stored with a thumbnail; read back by their id (an unguessable content hash)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, File, Query, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import BaseModel

from api.deps import CtxDep, CurrentUser
from api.schemas import ERRORS
from servflow.integrations.files import MAX_BYTES, FileStore
from servflow.platform.errors import invalid_field

router = APIRouter(prefix="/api", tags=["uploads"])


class FilePublic(BaseModel):
    file_id: str
    content_type: str
    size: int
    width: int
    height: int
    url: str
    thumb_url: str


def store_of(ctx: CtxDep) -> FileStore:
    return FileStore(Path(ctx.settings.uploads_dir))


@router.post("/uploads", status_code=201, response_model=FilePublic, responses=ERRORS)
async def upload_file(
    ctx: CtxDep, user: CurrentUser, file: Annotated[UploadFile, File()]
) -> FilePublic:
    """A photo or signature (JPEG, PNG or WebP, at most 8 MB); its `file_id` goes into the
    step's form. The same bytes uploaded again (an offline retry) give the same id."""
    data = await file.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise invalid_field("file", f"larger than {MAX_BYTES // (1024 * 1024)} MB")
    stored = await run_in_threadpool(
        store_of(ctx).save, data, declared_type=file.content_type or ""
    )
    return FilePublic(
        file_id=stored.file_id,
        content_type=stored.content_type,
        size=stored.size,
        width=stored.width,
        height=stored.height,
        url=f"/api/uploads/{stored.file_id}",
        thumb_url=f"/api/uploads/{stored.file_id}?thumb=true",
    )


@router.get("/uploads/{file_id}", response_class=Response, responses=ERRORS)
async def read_file(
    file_id: str,
    ctx: CtxDep,
    user: CurrentUser,
    thumb: Annotated[bool, Query()] = False,
) -> Response:
    """The file (or its JPEG thumbnail)."""
    data, content_type = await run_in_threadpool(store_of(ctx).read, file_id[:64], thumb=thumb)
    return Response(
        data, media_type=content_type, headers={"Cache-Control": "private, max-age=86400"}
    )
