"""The web front end: the designer at /designer, the operations console at /console, the
offline API docs at /docs and /redoc, and their bundles under /designer/static/.

The page is a single-page app (designer/frontend/, bundled by esbuild into
designer/static/build/); everything it does goes through the JSON API under /api.
"""

from __future__ import annotations

import os
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

HERE = Path(__file__).resolve().parent
STATIC = HERE / "static"
BUNDLE = STATIC / "build" / "designer.js"
CONSOLE = STATIC / "build" / "console.js"
VENDOR = "/designer/static/build/vendor"
# Set for a dev build that emits source maps (designer/frontend/build.mjs); without it a
# .map file is never served, even one an earlier dev build left in designer/static/.
SOURCEMAPS_ENV = "SERVFLOW_DESIGNER_SOURCEMAPS"
templates = Jinja2Templates(directory=HERE / "templates")

router = APIRouter(include_in_schema=False)
docs_router = APIRouter(include_in_schema=False)

_MEDIA = {
    ".js": "text/javascript",
    ".css": "text/css",
    ".map": "application/json",
    ".txt": "text/plain",
    ".png": "image/png",
    ".svg": "image/svg+xml",
}


@router.get("/designer", response_class=HTMLResponse)
def designer_page(request: Request) -> HTMLResponse:
    """The designer's single page; the bundle's mtime busts browser caches."""
    built = BUNDLE.is_file()
    return templates.TemplateResponse(
        request,
        "designer.html",
        {
            "built": built,
            "static_base": "/designer/static",
            "version": int(BUNDLE.stat().st_mtime) if built else 0,
        },
    )


@router.get("/designer/")
def designer_slash() -> RedirectResponse:
    return RedirectResponse("/designer")


@router.get("/designer/static/{path:path}")
def designer_static(path: str) -> FileResponse:
    """Files of the built bundle; nothing outside designer/static/ is ever served."""
    target = (STATIC / path).resolve()
    hidden = target.suffix == ".map" and os.environ.get(SOURCEMAPS_ENV) != "1"
    if hidden or not target.is_file() or not target.is_relative_to(STATIC):
        raise HTTPException(status_code=404, detail="not found")
    return FileResponse(target, media_type=_MEDIA.get(target.suffix, "application/octet-stream"))


@router.get("/console", response_class=HTMLResponse)
def console_page(request: Request) -> HTMLResponse:
    """The operations console's single page (dashboards, dispatch, orders, finance, admin)."""
    built = CONSOLE.is_file()
    return templates.TemplateResponse(
        request,
        "console.html",
        {
            "built": built,
            "static_base": "/designer/static",
            "version": int(CONSOLE.stat().st_mtime) if built else 0,
        },
    )


@router.get("/console/")
def console_slash() -> RedirectResponse:
    return RedirectResponse("/console")


@docs_router.get("/docs", response_class=HTMLResponse)
def swagger_ui() -> HTMLResponse:
    """Swagger UI from the bundled swagger-ui-dist files: no CDN, works offline."""
    return get_swagger_ui_html(
        openapi_url="/openapi.json",
        title="servflow API",
        swagger_js_url=f"{VENDOR}/swagger-ui-bundle.js",
        swagger_css_url=f"{VENDOR}/swagger-ui.css",
        swagger_favicon_url=f"{VENDOR}/favicon-32x32.png",
    )


@docs_router.get("/redoc", response_class=HTMLResponse)
def redoc() -> HTMLResponse:
    """ReDoc from the bundled redoc standalone file: no CDN, works offline."""
    return get_redoc_html(
        openapi_url="/openapi.json",
        title="servflow API",
        redoc_js_url=f"{VENDOR}/redoc.standalone.js",
        redoc_favicon_url=f"{VENDOR}/favicon-32x32.png",
        with_google_fonts=False,
    )
