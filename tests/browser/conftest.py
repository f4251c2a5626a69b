"""Headless Chromium (Debian's /usr/bin/chromium) driven by Python Playwright.

The page loads htmx, its SSE extension and Chart.js from the CDN with SRI hashes; this
machine has no internet, so the same versions are installed from the npm registry
(`tests/browser/package.json`) and served through Playwright's request interception.
Without Chromium or npm these tests skip with the reason, except under CI=true, where that
fails the run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient

from tests.conftest import ACCOUNTS, IN_CI
from webapp import assets

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
HERE = Path(__file__).resolve().parent
NODE_MODULES = HERE / "node_modules"
ARTIFACTS = HERE.parents[1] / "test-artifacts"


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
    """CDN URL -> the same file from the npm registry."""
    wanted = {a.url: NODE_MODULES / a.package / a.path for a in assets.ALL}
    if not all(path.exists() for path in wanted.values()):
        npm = shutil.which("npm")
        if npm is None:
            _unavailable("npm is not installed: cannot fetch the front-end libraries")
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=HERE, check=True)
    for asset in assets.ALL:
        version = (NODE_MODULES / asset.package / "package.json").read_text()
        assert f'"version": "{asset.version}"' in version, f"{asset.package} is not {asset.version}"
    return wanted


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

    async def _page(role: str | None):
        context = await browser.new_context(viewport={"width": 1280, "height": 900})
        contexts.append(context)
        await context.route(f"{assets.CDN}/**", serve_cdn)
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
