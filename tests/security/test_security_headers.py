"""Every portal and API answer carries the security headers; none names the server's
software or version."""

from __future__ import annotations

import pytest

from tests.helpers import VIEWER


@pytest.mark.parametrize(
    "path",
    ["/login", "/", "/transactions", "/transactions.csv", "/api/charge-points", "/nowhere"],
)
async def test_security_headers(client, portal, path: str) -> None:
    viewer = await portal("viewer")
    async with viewer.http.get(viewer.base + path, allow_redirects=False) as response:
        headers = response.headers
    csp = headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "default-src 'self'" in csp
    assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Cache-Control"] == "no-store"
    assert headers["Server"] == "Voltaro"


async def test_static_files_and_the_ocpp_endpoint_name_no_version(client, connect) -> None:
    response = await client.get("/static/style.css")
    assert response.status == 200 and response.headers["Server"] == "Voltaro"
    assert "no-store" not in response.headers.get("Cache-Control", "")
    response = await client.get("/api/charge-points", headers=VIEWER)
    assert "aiohttp" not in response.headers["Server"]
    cp = await connect("CP-H")
    assert cp.ws._response.headers["Server"] == "Voltaro"
