"""Headless Chromium (Debian's /usr/bin/chromium) driven by Python Playwright.

The page loads htmx, its SSE extension and Chart.js from the CDN with SRI hashes; this
machine has no internet, so the CDN's files are served through Playwright's request
interception from the copies the server keeps (`static/vendor/`, the same files: the
integrity hashes are checked). `new_page(role, cdn=False)` makes the CDN unreachable
instead. Without Chromium these tests skip with the reason, except under CI=true, where
that fails the run.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient

from tests.helpers import ACCOUNTS, IN_CI
from webapp import assets

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"


def _unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: browser tests must run)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture
def database_url(tmp_path: Path, sqlite_template: Path) -> str:
    # The portal's HTTP tests cover both databases; the browser journeys use SQLite.
    path = tmp_path / "voltaro.db"
    shutil.copyfile(sqlite_template, path)
    return f"sqlite+aiosqlite:///{path}"


@pytest.fixture(scope="session")
def cdn_files() -> dict[str, Path]:
    """CDN URL -> the same file, as the server keeps it."""
    return {a.url: ROOT / a.local.lstrip("/") for a in assets.ALL}


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def chromium() -> str:
    if not Path(CHROMIUM).exists():
        _unavailable(f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    return CHROMIUM


@pytest.fixture
async def browser(chromium: str, cdn_files: dict[str, Path]) -> AsyncIterator:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=chromium,
            args=[
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield browser
        await browser.close()


@pytest.fixture
async def new_page(browser, cdn_files: dict[str, Path], client: TestClient) -> AsyncIterator:
    """`await new_page("operator")`: a page logged in through the login form."""
    contexts = []

    async def serve_cdn(route) -> None:
        path = cdn_files.get(route.request.url)
        if path is None:
            await route.abort()
            return
        await route.fulfill(
            path=str(path),
            content_type="application/javascript",
            headers={"Access-Control-Allow-Origin": "*"},
        )

    async def unreachable(route) -> None:
        await route.abort("internetdisconnected")

    async def _page(role: str | None, cdn: bool = True):
        context = await browser.new_context(viewport={"width": 1280, "height": 900})
        contexts.append(context)
        await context.route(f"{assets.CDN}/**", serve_cdn if cdn else unreachable)
        page = await context.new_page()
        page.set_default_timeout(15_000)
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        # A script, style or connection the Content-Security-Policy refused is an error too.
        page.on(
            "console",
            lambda message: (
                errors.append(f"{message.text} at {message.location}")
                if "Content Security Policy" in message.text
                else None
            ),
        )
        page.js_errors = errors
        if role is not None:
            login, password = ACCOUNTS[role]
            await page.goto(str(client.make_url("/login")))
            await page.get_by_label("User name").fill(login)
            await page.get_by_label("Password").fill(password)
            await page.get_by_role("button", name="Log in").click()
            await page.wait_for_url(str(client.make_url("/")))
        return page

    yield _page
    for context in contexts:
        await context.close()
