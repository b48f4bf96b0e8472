"""Request guards: body size, JSON nesting depth (and unpaired surrogates) and security
headers, as pure ASGI middleware.

They wrap `receive`/`send` instead of using BaseHTTPMiddleware so nothing is buffered: an
oversized body is refused from its Content-Length before a byte of it is read, or after the
first chunk that crosses the limit, and the event loop stays free for other requests.
`install_guards(app)` adds all three.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Mapping
from itertools import accumulate

from fastapi import FastAPI
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

DEFAULT_MAX_BODY = 1_048_576  # 1 MiB: the largest JSON body any route takes is a few kB
DEFAULT_MAX_JSON_DEPTH = 64  # examples/ac-repair.json nests 6 deep; 500 deep gave a 500

# Refuses one request: given the real `send`, sends a complete error response.
Refusal = Callable[[Send], Awaitable[None]]
# Looks at one more chunk of the body (and whether more follows); a refusal stops the request.
ChunkCheck = Callable[[bytes, bool], Refusal | None]


def error_response(status: int, detail: str, errors: dict[str, str]) -> Refusal:
    """The API's error body (`ErrorBody`); the connection is closed because unread body
    bytes may still be on the wire."""
    body = json.dumps({"detail": detail, "errors": errors}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]

    async def refuse(send: Send) -> None:
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return refuse


async def run_checked(
    app: ASGIApp, scope: Scope, receive: Receive, send: Send, check: ChunkCheck
) -> None:
    """Runs `app`, showing every body chunk to `check` before the app sees it.

    On a refusal the error is sent at once (unless the app already started answering), the
    app is told the client has gone, and whatever it sends afterwards is dropped.
    """
    refused = False
    started = False

    async def checked_receive() -> Message:
        nonlocal refused
        if refused:
            return {"type": "http.disconnect"}
        message = await receive()
        if message["type"] == "http.request":
            refusal = check(message.get("body", b""), message.get("more_body", False))
            if refusal is not None:
                refused = True
                if not started:
                    await refusal(send)
                return {"type": "http.disconnect"}
        return message

    async def checked_send(message: Message) -> None:
        nonlocal started
        if refused:
            return
        started = started or message["type"] == "http.response.start"
        await send(message)

    try:
        await app(scope, checked_receive, checked_send)
    except ClientDisconnect:
        # The disconnect we made up to stop the app; the client already has its answer.
        if not refused:
            raise


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return bytes(value)
    return None


class BodyLimitMiddleware:
    """413 for bodies over the limit of their path: the longest matching prefix in
    `large_body_paths`, else `max_body_bytes`. Both Content-Length and streamed bytes count."""

    def __init__(
        self,
        app: ASGIApp,
        max_body_bytes: int = DEFAULT_MAX_BODY,
        large_body_paths: Mapping[str, int] | None = None,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        # Longest prefix first, so "/api/masterdata/import/" can override "/api/masterdata/".
        self.prefixes = sorted((large_body_paths or {}).items(), key=lambda kv: -len(kv[0]))

    def limit_for(self, path: str) -> int:
        for prefix, limit in self.prefixes:
            if path.startswith(prefix):
                return limit
        return self.max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        refusal = error_response(
            413, f"the body is larger than {limit} bytes", {"body": f"at most {limit} bytes"}
        )
        declared = _header(scope, b"content-length")
        if declared is not None and declared.strip().isdigit() and int(declared) > limit:
            # Refused before reading: the server never buffers or parses a byte of it.
            await refusal(send)
            return
        seen = 0

        def count(chunk: bytes, _more: bool) -> Refusal | None:
            nonlocal seen
            seen += len(chunk)
            return refusal if seen > limit else None

        await run_checked(self.app, scope, receive, send, count)


def is_json(content_type: bytes | None) -> bool:
    """What FastAPI parses as JSON: application/json and application/*+json."""
    if content_type is None:
        return False
    media = content_type.split(b";", 1)[0].strip().lower()
    return media == b"application/json" or (
        media.startswith(b"application/") and media.endswith(b"+json")
    )


# The rest of a string: ordinary bytes and complete escapes, up to its closing quote.
_STRING_BODY = re.compile(rb'[^"\\]*(?:\\.[^"\\]*)*', re.DOTALL)
# A whole string, removed in one C-level re.sub so brackets inside strings never count
# and a body of many short strings costs no Python loop per string.
_STRING = re.compile(rb'"' + _STRING_BODY.pattern + rb'"', re.DOTALL)
# Keeps only brackets, as "[" and "]": depth is the same for both kinds.
_SQUARE = bytes.maketrans(b"{}", b"[]")
_NOT_BRACKETS = bytes(range(256)).translate(None, b"[]{}")
_STEP = [0] * 256
_STEP[ord("[")], _STEP[ord("]")] = 1, -1
# Bracket runs are checked in blocks this long: where even all-opening blocks cannot get
# too deep, a block costs two C calls instead of a step per bracket.
_BLOCK = 32
# re.sub over one huge chunk is several times slower than over slices of it (one list of
# pieces to build and join); servers deliver ~64 KiB, but a test client sends it all at once.
_SLICE = 65_536


class DepthScanner:
    """Finds whether a JSON text fed in chunks nests deeper than `max_depth`, in one pass.

    Brackets inside strings do not count; a string or an escape may span chunks. The text
    need not be valid JSON: the parser still judges it, this only keeps it from recursing.
    """

    def __init__(self, max_depth: int) -> None:
        self.max_depth = max_depth
        self.depth = 0
        self.in_string = False
        self.escaped = False  # the previous chunk ended with a backslash inside a string

    def feed(self, chunk: bytes) -> bool:
        """False as soon as the nesting is deeper than `max_depth`."""
        if len(chunk) > _SLICE:
            slices = range(0, len(chunk), _SLICE)
            return all(self.feed(chunk[i : i + _SLICE]) for i in slices)
        if not chunk:
            return True
        start = self._string_end(chunk) if self.in_string else 0
        if start < 0:
            return True
        outside = _STRING.sub(b"", chunk[start:])
        # A quote left over opens a string this chunk does not close.
        quote = outside.find(b'"')
        if quote >= 0:
            outside = outside[:quote]
            self.in_string = True
            trailing = len(chunk) - len(chunk.rstrip(b"\\"))
            self.escaped = trailing % 2 == 1
        return self._brackets(outside.translate(_SQUARE, _NOT_BRACKETS))

    def _string_end(self, chunk: bytes) -> int:
        """Where the string open since an earlier chunk ends (after its quote); -1: not here."""
        match = _STRING_BODY.match(chunk, 1 if self.escaped else 0)
        assert match is not None  # the pattern matches the empty string
        stop = match.end()
        self.escaped = False
        if stop >= len(chunk):
            return -1
        if chunk[stop] == ord("\\"):  # a lone backslash at the end escapes the next chunk
            self.escaped = True
            return -1
        self.in_string = False
        return stop + 1

    def _brackets(self, brackets: bytes) -> bool:
        """Follows the depth through "[" and "]"; False once it exceeds the limit."""
        if self.depth + brackets.count(b"[") <= self.max_depth:
            return self._block(brackets)  # too few openings to get too deep: one step
        blocks = range(0, len(brackets), _BLOCK)
        return all(self._block(brackets[i : i + _BLOCK]) for i in blocks)

    def _block(self, block: bytes) -> bool:
        opened = block.count(b"[")
        if self.depth + opened > self.max_depth:
            peak = max(accumulate(map(_STEP.__getitem__, block), initial=self.depth))
            if peak > self.max_depth:
                return False
        self.depth += 2 * opened - len(block)
        return True


# A JSON escape of a UTF-16 surrogate, paired or not: \ud800-\udfff.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
UNPAIRED = "contains an unpaired surrogate character, which is not valid text"


def unpaired_surrogate_path(value: object) -> str | None:
    """Where a parsed JSON value holds a string (or key) with an unpaired surrogate, as
    "definition.nodes[0].name" ("" for the value itself); None when it holds none.

    json.loads joins a valid pair into one character, so any surrogate left is unpaired;
    no database or JSON encoder will store it.
    """
    return first_text_where(value, lambda text: not _encodable(text))


def first_text_where(value: object, bad: Callable[[str], bool], path: str = "") -> str | None:
    """The path of the first string or key in a parsed JSON value for which `bad` holds."""
    if isinstance(value, str):
        return path if bad(value) else None
    children: list[tuple[str, str, object]]
    if isinstance(value, dict):
        children = [(f"{path}.{k}" if path else str(k), str(k), v) for k, v in value.items()]
    elif isinstance(value, list):
        children = [(f"{path}[{index}]", "", item) for index, item in enumerate(value)]
    else:
        return None
    for where, key, item in children:
        found = where if bad(key) else first_text_where(item, bad, where)
        if found is not None:
            return found
    return None


def _encodable(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


class SurrogateFinder:
    """Finds an unpaired surrogate escape ("UX-\\ud800") in a JSON body fed in chunks.

    Chunks are only kept (not copied) and searched for a surrogate escape; only a body
    that has one is parsed, once complete, to name the field. A body the parser refuses
    is left to the route (which answers 422 for it).
    """

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.tail = b""  # an escape may span two chunks
        self.seen = False

    def feed(self, chunk: bytes, more: bool) -> str | None:
        """The field with an unpaired surrogate, once the last chunk is in; else None."""
        self.chunks.append(chunk)
        self.seen = self.seen or _SURROGATE_ESCAPE.search(self.tail + chunk[:3]) is not None
        self.seen = self.seen or _SURROGATE_ESCAPE.search(chunk) is not None
        self.tail = (self.tail + chunk)[-3:]
        if more or not self.seen:
            return None
        try:
            parsed = json.loads(b"".join(self.chunks))
        except ValueError:
            return None
        found = unpaired_surrogate_path(parsed)
        return None if found is None else found or "body"


class JsonDepthMiddleware:
    """422 naming `body` for JSON bodies nested deeper than `max_depth`, found while the
    body streams in, so a deep document never reaches the recursive JSON parser; and 422
    naming the field for a string with an unpaired surrogate (which would fail the
    database write or the workflow's payload encoding with a 500)."""

    def __init__(self, app: ASGIApp, max_depth: int = DEFAULT_MAX_JSON_DEPTH) -> None:
        self.app = app
        self.max_depth = max_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_json(_header(scope, b"content-type")):
            await self.app(scope, receive, send)
            return
        scanner = DepthScanner(self.max_depth)
        surrogates = SurrogateFinder()
        message = f"nested deeper than {self.max_depth} levels"
        refusal = error_response(422, f"body: {message}", {"body": message})

        def scan(chunk: bytes, more: bool) -> Refusal | None:
            if not scanner.feed(chunk):
                return refusal
            field = surrogates.feed(chunk, more)
            if field is None:
                return None
            return error_response(422, f"{field}: {UNPAIRED}", {field: UNPAIRED})

        await run_checked(self.app, scope, receive, send, scan)


# The designer is one script and one stylesheet from /designer/static. style-src needs
# 'unsafe-inline': the page and LogicFlow set style attributes on the nodes they render.
# data: images are the page's empty favicon and LogicFlow's inline SVG backgrounds.
HTML_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; object-src 'none'; base-uri 'self'"
)
# Swagger UI and ReDoc as FastAPI serves them: bundles from jsDelivr, an inline script that
# starts them, ReDoc's Google fonts and blob: worker. Only on those pages, which show the
# public schema and hold no data.
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com; "
    "font-src 'self' https://fonts.gstatic.com; "
    "img-src 'self' data: https://fastapi.tiangolo.com https://cdn.redoc.ly; "
    "worker-src 'self' blob:; connect-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; object-src 'none'; base-uri 'self'"
)


class SecurityHeadersMiddleware:
    """Adds nosniff, no-referrer, DENY framing (and HSTS if asked) to every response, and a
    Content-Security-Policy to HTML ones; headers a route set itself are kept."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        docs_paths: tuple[str, ...] = ("/docs", "/redoc"),
        hsts_seconds: int | None = None,
    ) -> None:
        self.app = app
        self.docs_paths = docs_paths
        self.always = [
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"no-referrer"),
            (b"x-frame-options", b"DENY"),
        ]
        if hsts_seconds is not None:
            # Off by default: over plain HTTP (the demo) it would lock browsers out later.
            self.always.append((b"strict-transport-security", f"max-age={hsts_seconds}".encode()))

    def policy_for(self, path: str) -> bytes:
        docs = any(path == p or path.startswith(p + "/") for p in self.docs_paths)
        return (DOCS_CSP if docs else HTML_CSP).encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present = {key.lower() for key, _ in headers}
                extra = list(self.always)
                content_type = next((v for k, v in headers if k.lower() == b"content-type"), b"")
                if content_type.lower().startswith(b"text/html"):
                    extra.append((b"content-security-policy", self.policy_for(scope["path"])))
                headers += [(key, value) for key, value in extra if key not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def install_guards(
    app: FastAPI,
    *,
    max_body_bytes: int = DEFAULT_MAX_BODY,
    large_body_paths: dict[str, int] | None = None,
    max_json_depth: int = DEFAULT_MAX_JSON_DEPTH,
    hsts_seconds: int | None = None,
) -> None:
    """Adds the three guards to `app`; call before the app serves its first request.

    Order, outermost first: security headers (so the guards' own 413/422 get them too),
    body size (cheapest refusal first), JSON depth (sees only bodies within the size limit).
    """
    docs = tuple(p for p in (app.docs_url, app.redoc_url) if p)
    app.add_middleware(JsonDepthMiddleware, max_depth=max_json_depth)
    app.add_middleware(
        BodyLimitMiddleware, max_body_bytes=max_body_bytes, large_body_paths=large_body_paths
    )
    app.add_middleware(SecurityHeadersMiddleware, docs_paths=docs, hsts_seconds=hsts_seconds)
