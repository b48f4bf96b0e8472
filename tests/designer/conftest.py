"""Browser tests of the designer: the live stack, and Chromium driven by Playwright.

Playwright's async API runs inside the async tests, on the same session event loop as the
Temporal environment and the worker. Chromium is Debian's (/usr/bin/chromium, installed by
scripts/ensure-system-deps.sh); `playwright install` is never used.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright, expect
from temporalio.testing import WorkflowEnvironment

from tests.designer.stack import LiveStack, live_stack

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ROOT = Path(__file__).resolve().parents[2]
# The machine running the tests is often busy: waits are generous, never timed assertions.
expect.set_options(timeout=15_000)
ARTIFACTS = ROOT / "test-artifacts"
BUNDLE = ROOT / "designer" / "static" / "build" / "designer.js"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    reason = None
    if not Path(CHROMIUM).exists():
        reason = f"{CHROMIUM} is missing (scripts/ensure-system-deps.sh installs it)"
    elif not BUNDLE.exists():
        reason = "the designer bundle is not built (bash scripts/build-designer.sh)"
    if reason:
        for item in items:
            if "browser" in item.keywords:
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session")
async def stack(
    temporal_env: WorkflowEnvironment, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[LiveStack]:
    db_path = tmp_path_factory.mktemp("designer") / "db.sqlite"
    async with live_stack(temporal_env.client, db_path) as running:
        yield running


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as p:
        chromium = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        await chromium.close()


@pytest.fixture
async def page(browser: Browser, request: pytest.FixtureRequest) -> AsyncIterator[Page]:
    context = await browser.new_context(viewport={"width": 1440, "height": 900}, locale="zh-CN")
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    # The last view of every test, to see what a failure looked like.
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"last-{request.node.name}.png"))
    await context.close()
    assert not errors, f"errors in the page: {errors}"


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


def publish_screenshot(source: Path) -> None:
    """The README's picture of the designer (docs/designer.png, the one committed PNG).

    Refreshed only on purpose (SERVFLOW_UPDATE_SCREENSHOT=1), so a test run leaves the
    work tree clean.
    """
    if os.environ.get("SERVFLOW_UPDATE_SCREENSHOT") != "1":
        return
    docs = ROOT / "docs"
    docs.mkdir(exist_ok=True)
    shutil.copyfile(source, docs / "designer.png")
