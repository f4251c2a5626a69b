"""API writes take JSON bodies only, and none from another site's page (the browser test
tests/browser/test_cross_site_attacks.py plays the attack itself)."""

from __future__ import annotations

import pytest

from tests.helpers import OPERATOR
from webapp.keys import SERVICES

BODY = '{"id_tag": "FORGED"}'


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"Content-Type": "text/plain"}, 415),
        ({"Content-Type": "application/x-www-form-urlencoded"}, 415),
        ({"Content-Type": "multipart/form-data; boundary=x"}, 415),
        ({}, 415),  # a body without a type
        ({"Content-Type": "application/json", "Origin": "http://evil.example"}, 403),
        ({"Content-Type": "application/json", "Origin": "null"}, 403),
        ({"Content-Type": "application/json", "Sec-Fetch-Site": "cross-site"}, 403),
        ({"Content-Type": "application/json", "Sec-Fetch-Site": "same-site"}, 403),
    ],
)
async def test_forgeable_writes_are_refused(client, headers: dict, status: int) -> None:
    # skip_auto_headers: aiohttp would otherwise label a str body text/plain itself.
    response = await client.post(
        "/api/id-tags",
        data=BODY.encode(),
        headers={**OPERATOR, **headers},
        skip_auto_headers=["Content-Type"],
    )
    assert response.status == status
    assert "error" in await response.json()
    assert "FORGED" not in {t.id_tag for t in await client.app[SERVICES].id_tags.list()}


async def test_scripts_and_the_sites_own_pages_write(client) -> None:
    own = f"http://{client.host}:{client.port}"
    for n, extra in enumerate(
        [{}, {"Origin": own}, {"Sec-Fetch-Site": "same-origin"}, {"Sec-Fetch-Site": "none"}]
    ):
        response = await client.post(
            "/api/id-tags",
            data=f'{{"id_tag": "OK{n}"}}',
            headers={**OPERATOR, "Content-Type": "application/json", **extra},
        )
        assert response.status == 201, await response.text()
    # A write without a body (curl -X POST) needs no type.
    response = await client.delete("/api/id-tags/OK0", headers=OPERATOR)
    assert response.status == 204
