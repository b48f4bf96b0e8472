"""The request guards (api/guards.py): body size, JSON depth, security headers, source maps.

Most tests drive a tiny app with `install_guards` through httpx's ASGI transport, which
pulls a streamed body from its generator only when the app calls `receive`: counting the
chunks a generator gave shows how much of a body the app read before refusing it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any

import httpx
import pytest
from fastapi import Body, FastAPI, Request
from fastapi.responses import HTMLResponse

import designer.routes
from api.guards import DepthScanner, install_guards

LIMIT = 1000
UPLOAD_LIMIT = 10_000
DEPTH = 64


def tiny_app(**guards: Any) -> FastAPI:
    app = FastAPI()

    @app.post("/echo")
    async def echo(payload: Annotated[Any, Body()]) -> dict[str, str]:
        return {"type": type(payload).__name__}

    @app.post("/upload/raw")
    async def upload(request: Request) -> dict[str, int]:
        return {"bytes": len(await request.body())}

    @app.get("/ping")
    async def ping() -> dict[str, bool]:
        return {"ok": True}

    @app.get("/page", response_class=HTMLResponse)
    async def page() -> str:
        return "<!doctype html><p>hi</p>"

    app.include_router(designer.routes.router)
    settings: dict[str, Any] = {
        "max_body_bytes": LIMIT,
        "large_body_paths": {"/upload/": UPLOAD_LIMIT},
        "max_json_depth": DEPTH,
    }
    install_guards(app, **{**settings, **guards})
    return app


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=tiny_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


class Chunks:
    """A request body of `count` chunks (endless if None) that counts what was read."""

    def __init__(self, size: int, count: int | None = None) -> None:
        self.size, self.count, self.given = size, count, 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while self.count is None or self.given < self.count:
            self.given += 1
            yield b"x" * self.size


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def assert_refused_body(response: httpx.Response, status: int) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"detail", "errors"}
    assert list(body["errors"]) == ["body"]


# ---- body size --------------------------------------------------------------------------


async def test_content_length_over_limit_is_refused_before_the_body_is_read(
    http: httpx.AsyncClient,
) -> None:
    body = Chunks(500, count=100)
    response = await http.post("/echo", content=body, headers={"Content-Length": "50000"})
    assert_refused_body(response, 413)
    assert response.json()["errors"]["body"] == f"at most {LIMIT} bytes"
    assert body.given == 0


async def test_chunked_body_over_limit_is_refused_without_draining_it(
    http: httpx.AsyncClient,
) -> None:
    body = Chunks(400, count=1000)
    response = await http.post("/echo", content=body, headers={"Content-Type": "application/json"})
    assert_refused_body(response, 413)
    # 400-byte chunks cross the 1000-byte limit at the third; nothing after it is pulled.
    assert body.given == 3


async def test_other_requests_are_answered_while_an_endless_body_is_refused(
    http: httpx.AsyncClient,
) -> None:
    endless = Chunks(256)
    big, small = await asyncio.gather(http.post("/echo", content=endless), http.get("/ping"))
    assert big.status_code == 413
    assert small.status_code == 200
    assert small.json() == {"ok": True}
    assert endless.given == LIMIT // 256 + 1


async def test_body_within_limit_reaches_the_route(http: httpx.AsyncClient) -> None:
    response = await http.post("/echo", json={"a": "x" * (LIMIT - 20)})
    assert response.status_code == 200
    assert response.json() == {"type": "dict"}


async def test_path_prefix_gets_its_larger_limit(http: httpx.AsyncClient) -> None:
    accepted = await http.post("/upload/raw", content=Chunks(1000, count=10))
    assert accepted.status_code == 200
    assert accepted.json() == {"bytes": UPLOAD_LIMIT}
    refused = await http.post("/upload/raw", content=b"x" * (UPLOAD_LIMIT + 1))
    assert_refused_body(refused, 413)
    assert refused.json()["errors"]["body"] == f"at most {UPLOAD_LIMIT} bytes"
    # Elsewhere the default limit still holds.
    elsewhere = await http.post("/echo", content=b"x" * (LIMIT + 1))
    assert elsewhere.status_code == 413


# ---- JSON depth -------------------------------------------------------------------------


async def test_deeply_nested_json_is_refused_naming_body() -> None:
    app = tiny_app(max_body_bytes=1_048_576)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as http:
        for depth in (65, 500, 100_000):
            response = await http.post(
                "/echo", content=nested(depth), headers={"Content-Type": "application/json"}
            )
            assert_refused_body(response, 422)
            assert "64" in response.json()["errors"]["body"]


async def test_json_within_depth_is_parsed(http: httpx.AsyncClient) -> None:
    for depth in (1, 60, DEPTH):
        response = await http.post(
            "/echo", content=nested(depth), headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 200, (depth, response.text)
        assert response.json() == {"type": "list"}


async def test_brackets_inside_strings_do_not_count(http: httpx.AsyncClient) -> None:
    # 200 brackets, an escaped quote and an escaped backslash in strings; 3 levels outside.
    inside = "[" * 100 + '"' + "{" * 100 + "\\"
    document = json.dumps({"a": inside, "b": [inside + "]"]})
    response = await http.post(
        "/echo", content=document, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 200, response.text


async def test_depth_is_checked_only_for_json_bodies(http: httpx.AsyncClient) -> None:
    response = await http.post(
        "/upload/raw", content=nested(500), headers={"Content-Type": "text/plain"}
    )
    assert response.status_code == 200
    problem = await http.post(
        "/upload/raw", content=nested(500), headers={"Content-Type": "application/problem+json"}
    )
    assert problem.status_code == 422


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 4096])
def test_depth_scanner_gives_the_same_answer_whatever_the_chunking(chunk: int) -> None:
    deep_in_strings = json.dumps(
        {"s": "\\" * 5 + '"' + "[" * 100, "t": ["\\", "]" * 9, "x"]}
    ).encode()
    too_deep = b'{"k\\\\": ' + nested(65).encode() + b"}"
    for document, fits in ((deep_in_strings, True), (too_deep, False)):
        scanner = DepthScanner(DEPTH)
        parts = [document[i : i + chunk] for i in range(0, len(document), chunk)]
        assert all(scanner.feed(part) for part in parts) is fits, (document, chunk)


# ---- security headers -------------------------------------------------------------------


async def test_json_responses_get_security_headers_but_no_csp(http: httpx.AsyncClient) -> None:
    for response in (await http.get("/ping"), await http.post("/echo", content=b"x" * 5000)):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert "content-security-policy" not in response.headers
        assert "strict-transport-security" not in response.headers


async def test_html_responses_get_a_csp(http: httpx.AsyncClient) -> None:
    for path in ("/page", "/designer"):
        response = await http.get(path)
        assert response.headers["content-type"].startswith("text/html")
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        csp = response.headers["content-security-policy"]
        for directive in ("default-src 'self'", "frame-ancestors 'none'", "object-src 'none'"):
            assert directive in csp
        assert "base-uri 'self'" in csp
        assert "script-src 'self';" in csp  # no inline or remote scripts on our pages


async def test_docs_pages_get_a_policy_that_lets_them_load(http: httpx.AsyncClient) -> None:
    for path in ("/docs", "/redoc"):
        csp = (await http.get(path)).headers["content-security-policy"]
        assert "https://cdn.jsdelivr.net" in csp
        assert "frame-ancestors 'none'" in csp


async def test_hsts_only_when_asked() -> None:
    app = tiny_app(hsts_seconds=31_536_000)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as http:
        response = await http.get("/ping")
    assert response.headers["strict-transport-security"] == "max-age=31536000"


# ---- designer source maps ---------------------------------------------------------------


async def test_source_maps_are_served_only_with_the_env_var(
    http: httpx.AsyncClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "build").mkdir()
    (tmp_path / "build" / "designer.js.map").write_text("{}", encoding="utf-8")
    (tmp_path / "build" / "designer.js").write_text("", encoding="utf-8")
    monkeypatch.setattr(designer.routes, "STATIC", tmp_path)
    monkeypatch.delenv(designer.routes.SOURCEMAPS_ENV, raising=False)
    assert (await http.get("/designer/static/build/designer.js")).status_code == 200
    assert (await http.get("/designer/static/build/designer.js.map")).status_code == 404
    monkeypatch.setenv(designer.routes.SOURCEMAPS_ENV, "1")
    assert (await http.get("/designer/static/build/designer.js.map")).status_code == 200


# ---- the real app -----------------------------------------------------------------------


async def test_real_app_is_guarded(
    module_api: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(designer.routes.SOURCEMAPS_ENV, raising=False)
    big = Chunks(65_536, count=800)  # 50 MiB, the size of the reported attack
    login = await module_api.post(
        "/api/auth/login",
        content=big,
        headers={"Content-Type": "application/json", "Content-Length": str(65_536 * 800)},
    )
    assert_refused_body(login, 413)
    assert big.given == 0
    deep = await module_api.post(
        "/api/auth/login", content=nested(500), headers={"Content-Type": "application/json"}
    )
    assert_refused_body(deep, 422)
    page = await module_api.get("/designer")
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    me = await module_api.get("/api/me")
    assert me.status_code == 401
    assert me.headers["x-content-type-options"] == "nosniff"
    assert "content-security-policy" not in me.headers
    source_map = await module_api.get("/designer/static/build/designer.js.map")
    assert source_map.status_code == 404
