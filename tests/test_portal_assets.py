"""The portal's browser libraries: from the pinned CDN with this server's copies taking
over, or from the copies only (PORTAL_ASSETS=local); the copies are the CDN's files."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import re

import pytest

from ocpp_core.settings import Settings, SettingsError
from webapp import assets
from webapp.app import create_app

LIBRARIES = pytest.mark.parametrize("asset", assets.ALL, ids=lambda a: a.package)


@LIBRARIES
async def test_copies_are_the_pinned_files_and_are_served(client, asset) -> None:
    response = await client.get(asset.local)
    assert response.status == 200
    assert "javascript" in response.headers["Content-Type"]
    digest = base64.b64encode(hashlib.sha384(await response.read()).digest()).decode()
    assert f"sha384-{digest}" == asset.integrity
    # Each copy travels with its licence.
    folder = asset.local.rsplit("/", 1)[0]
    texts = []
    for name in ("LICENSE", "LICENSE.md"):
        licence = await client.get(f"{folder}/{name}")
        texts.append(await licence.text() if licence.status == 200 else "")
    assert any("Permission" in text for text in texts)


async def test_cdn_first_then_the_copies(client) -> None:
    response = await client.get("/login")
    page = await response.text()
    cdn = re.findall(r'<script src="(https://[^"]+)" integrity="([^"]+)"', page)
    assert cdn == [(assets.HTMX.url, assets.HTMX.integrity),
                   (assets.HTMX_SSE.url, assets.HTMX_SSE.integrity)]  # fmt: skip
    fallback = re.search(r'<script src="/static/asset-fallback.js" data-fallbacks="([^"]+)"', page)
    listed = json.loads(fallback[1].replace("&#34;", '"'))
    assert listed == [["htmx", assets.HTMX.local, assets.HTMX.integrity],
                      ["htmx", assets.HTMX_SSE.local, assets.HTMX_SSE.integrity]]  # fmt: skip
    assert (await client.get("/static/asset-fallback.js")).status == 200
    assert f"script-src 'self' {assets.CDN}/;" in response.headers["Content-Security-Policy"]


async def test_local_only_never_names_the_cdn(settings, aiohttp_client) -> None:
    client = await aiohttp_client(create_app(dataclasses.replace(settings, portal_assets="local")))
    response = await client.get("/login")
    page = await response.text()
    assert "cdn.jsdelivr" not in page and "asset-fallback" not in page
    tags = re.findall(r'<script src="(/static/vendor/[^"]+)" integrity="([^"]+)"', page)
    assert tags == [(assets.HTMX.local, assets.HTMX.integrity),
                    (assets.HTMX_SSE.local, assets.HTMX_SSE.integrity)]  # fmt: skip
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self';" in policy and assets.CDN not in policy


def test_portal_assets_setting() -> None:
    assert Settings.from_env({"PORTAL_ASSETS": "Local"}).portal_assets == "local"
    assert Settings.from_env({}).portal_assets == "cdn"
    with pytest.raises(SettingsError, match="PORTAL_ASSETS must be one of cdn, local"):
        Settings.from_env({"PORTAL_ASSETS": "offline"})
    assert create_app(Settings(secret_key="x", portal_assets="local")) is not None
