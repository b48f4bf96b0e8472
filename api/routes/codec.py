"""The codec server of the Temporal UI and CLI: POST /api/codec/decode and /encode.

Temporal stores every payload encrypted (servflow.platform.codec). The UI, configured with
this endpoint, sends the payloads it shows here and displays what comes back; only an HQ
admin signed in with a servflow token (Authorization: Bearer) gets plain text. A refusal
carries no CORS headers, so in a browser the UI keeps showing ciphertext. See
docs/deploy-secrets.md for configuring the UI.
"""

from __future__ import annotations

import logging
from functools import cache
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field

from api.deps import CtxDep, CurrentUser
from api.schemas import ERRORS
from servflow.org.rules import Principal
from servflow.platform.codec import (
    EncryptionCodec,
    PayloadKeyError,
    codec_from_settings,
    payloads_from_json,
    payloads_to_json,
)
from servflow.platform.errors import AppError, Forbidden, Invalid
from servflow.platform.keys import WeakSecret
from servflow.platform.settings import Settings

router = APIRouter(prefix="/api/codec", tags=["codec"])
log = logging.getLogger(__name__)

ALLOWED_HEADERS = "Authorization, Content-Type, X-Namespace"


class CodecPayloads(BaseModel):
    """The codec server protocol's body, both ways: Temporal payloads in proto3 JSON
    (`{"metadata": {"encoding": "<base64>", ...}, "data": "<base64>"}`)."""

    payloads: list[dict[str, Any]] = Field(max_length=10_000)


async def hq_admin(user: CurrentUser) -> Principal:
    """Decoding shows any customer's data: only an HQ-wide admin, signed in as a person."""
    if user.via_api_key:
        raise Forbidden("the codec answers signed-in HQ admins only, not API keys")
    hq_wide = bool(user.scope_path) and user.scope_path.strip("/").count("/") == 0
    if not (user.has("hq_admin") and hq_wide):
        raise Forbidden("only an HQ admin may decode Temporal payloads")
    return user


HqAdmin = Annotated[Principal, Depends(hq_admin)]


def allowed_origins(settings: Settings) -> set[str]:
    return {o.strip().rstrip("/") for o in settings.codec_allowed_origins.split(",") if o.strip()}


def cors_headers(request: Request, settings: Settings) -> dict[str, str]:
    """CORS headers for the request's Origin; none without one (the CLI sends none).

    Raises:
        Forbidden: an Origin not in settings.codec_allowed_origins.
    """
    origin = request.headers.get("origin")
    if origin is None:
        return {}
    if origin.rstrip("/") not in allowed_origins(settings):
        raise Forbidden(f"origin {origin} is not in SERVFLOW_CODEC_ALLOWED_ORIGINS")
    return {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Allow-Credentials": "true",
        "Vary": "Origin",
    }


@cache
def _codec(payload_key: str, demo: bool) -> EncryptionCodec:
    return codec_from_settings(Settings(payload_key=payload_key, demo=demo))


def codec_of(settings: Settings) -> EncryptionCodec:
    try:
        return _codec(settings.payload_key, settings.demo)
    except WeakSecret as exc:
        raise AppError(f"the codec has no usable key: {exc}", status_code=503) from None


@router.options("/{operation}", status_code=204, responses=ERRORS)
async def preflight_codec(
    operation: Literal["decode", "encode"], request: Request, ctx: CtxDep
) -> Response:
    """The browser's CORS preflight before the UI's POST (no credentials are sent here)."""
    headers = cors_headers(request, ctx.settings)
    if not headers:
        raise Forbidden("a CORS preflight needs an Origin header")
    headers["Access-Control-Allow-Methods"] = "POST, OPTIONS"
    headers["Access-Control-Allow-Headers"] = ALLOWED_HEADERS
    headers["Access-Control-Max-Age"] = "600"
    return Response(status_code=204, headers=headers)


@router.post("/decode", response_model=CodecPayloads, responses=ERRORS)
async def decode_payloads(
    body: CodecPayloads, admin: HqAdmin, request: Request, response: Response, ctx: CtxDep
) -> CodecPayloads:
    """Plain payloads for encrypted ones; payloads not encrypted come back as they are."""
    response.headers.update(cors_headers(request, ctx.settings))
    # Who read customers' data, and how much of it: the trail an audit asks for.
    namespace = request.headers.get("x-namespace", "")
    log.info(
        "codec: %s decodes %d payloads (namespace %r)",
        admin.username,
        len(body.payloads),
        namespace,
    )
    codec = codec_of(ctx.settings)
    payloads = _parsed(body)
    for index, payload in enumerate(payloads):
        try:
            payloads[index] = codec.open(payload)
        except PayloadKeyError as exc:
            raise Invalid(str(exc), errors={f"payloads[{index}]": str(exc)}) from None
    return CodecPayloads(payloads=payloads_to_json(payloads))


@router.post("/encode", response_model=CodecPayloads, responses=ERRORS)
async def encode_payloads(
    body: CodecPayloads, _admin: HqAdmin, request: Request, response: Response, ctx: CtxDep
) -> CodecPayloads:
    """Encrypted payloads for plain ones (the UI encodes what an admin sends a workflow)."""
    response.headers.update(cors_headers(request, ctx.settings))
    codec = codec_of(ctx.settings)
    return CodecPayloads(payloads=payloads_to_json(await codec.encode(_parsed(body))))


def _parsed(body: CodecPayloads) -> list[Any]:
    try:
        return payloads_from_json(body.payloads)
    except ValueError as exc:
        raise Invalid("not Temporal payloads", errors={"payloads": str(exc)}) from None
