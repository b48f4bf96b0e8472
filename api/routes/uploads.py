"""Photos and signatures from the field app: uploaded as multipart, checked by decoding,
stored with a thumbnail; read back by their id by whom the upload's grants admit (the
uploader; whoever may see the order it is attached to), a 404 for anyone else."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import BaseModel

from api.deps import AppContext, CtxDep, CurrentUser
from api.order_access import db, visible_order
from api.schemas import ERRORS
from servflow.integrations.files import MAX_BYTES, FileStore, check_file_id, store_from_settings
from servflow.integrations.uploads import service as uploads
from servflow.org.rules import Principal
from servflow.platform.base import utcnow
from servflow.platform.errors import NotFound, invalid_field

router = APIRouter(prefix="/api", tags=["uploads"])


class FilePublic(BaseModel):
    file_id: str
    content_type: str
    size: int
    width: int
    height: int
    url: str
    thumb_url: str


def store_of(ctx: AppContext) -> FileStore:
    return store_from_settings(ctx.settings)


async def _order_path(ctx: AppContext, user: Principal, order_id: str) -> str:
    """The unit of an order the caller may see (the read model first, then the order
    itself when a Temporal client is there); NotFound otherwise."""
    known: str | None = await db(ctx, uploads.order_path_for, user, order_id=order_id)
    if known is not None:
        return known
    if ctx.temporal_client is None:
        raise NotFound(f"no order '{order_id}'")
    row, state = await visible_order(ctx, ctx.temporal_client, user, order_id)
    if row is not None and row.org_path:
        return row.org_path
    if state is None:
        return ""
    path: str = await db(
        ctx, uploads.context_path, region=state.context.region, outlet=state.context.outlet
    )
    return path


def _grant(session: Any, **kwargs: Any) -> None:
    uploads.grant(session, now=utcnow(), **kwargs)
    session.commit()


@router.post("/uploads", status_code=201, response_model=FilePublic, responses=ERRORS)
async def upload_file(
    ctx: CtxDep,
    user: CurrentUser,
    file: Annotated[UploadFile, File()],
    order_id: Annotated[str, Form(max_length=200)] = "",
    node_id: Annotated[str, Form(max_length=100)] = "",
) -> FilePublic:
    """A photo or signature (JPEG, PNG or WebP, at most 8 MB); its `file_id` goes into the
    step's form. With `order_id` (and `node_id`) the file belongs to that order's step and
    whoever may see the order may read it; without, only the uploader. The same bytes
    uploaded again (an offline retry) give the same id."""
    org_path = await _order_path(ctx, user, order_id) if order_id else ""
    data = await file.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise invalid_field("file", f"larger than {MAX_BYTES // (1024 * 1024)} MB")
    stored = await run_in_threadpool(
        store_of(ctx).save, data, declared_type=file.content_type or ""
    )
    # The grant is written only once the bytes are in the store: a store fault leaves no row.
    await db(
        ctx,
        _grant,
        file_id=stored.file_id,
        uploaded_by=user.id,
        order_id=order_id,
        node_id=node_id if order_id else "",
        org_path=org_path,
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


async def file_response(ctx: AppContext, file_id: str, *, thumb: bool) -> Response:
    data, content_type = await run_in_threadpool(store_of(ctx).read, file_id, thumb=thumb)
    return Response(
        data, media_type=content_type, headers={"Cache-Control": "private, max-age=86400"}
    )


@router.get("/uploads/{file_id}", response_class=Response, responses=ERRORS)
async def read_file(
    file_id: str,
    ctx: CtxDep,
    user: CurrentUser,
    thumb: Annotated[bool, Query()] = False,
) -> Response:
    """The file (or its JPEG thumbnail), for its uploader and whoever may see its order;
    404 for anyone else, as for a file that does not exist."""
    check_file_id(file_id)
    await db(ctx, uploads.check_readable, user, file_id=file_id)
    return await file_response(ctx, file_id, thumb=thumb)
