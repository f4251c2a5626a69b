"""A page on another site, opened by an operator whose browser holds Voltaro's HTTP Basic
credentials, cannot act through the JSON API (cross-site request forgery)."""

from __future__ import annotations

import asyncio

from tests.helpers import ACCOUNTS
from webapp.keys import SERVICES

ATTACKER = "http://attacker.example"


def _attack_page(target: str) -> str:
    # `enctype="text/plain"` sends `name=value` unencoded: a JSON-looking body
    # `{"id_tag": "EVIL="}`. The fetch sends one in no-cors mode, which needs no preflight.
    return f"""<!doctype html><html><body>
<form id="form" method="post" action="{target}/api/id-tags" enctype="text/plain">
  <input name='{{"id_tag": "EVIL' value='"}}'>
</form>
<script>
  fetch("{target}/api/id-tags", {{method: "POST", mode: "no-cors", credentials: "include",
    headers: {{"Content-Type": "text/plain"}}, body: '{{"id_tag": "EVIL-FETCH"}}'}})
    .finally(() => document.getElementById("form").submit());
</script>
</body></html>"""


async def test_a_cross_site_page_cannot_use_the_operators_basic_credentials(
    browser, client
) -> None:
    target = str(client.make_url("")).rstrip("/")
    login, password = ACCOUNTS["operator"]
    context = await browser.new_context(http_credentials={"username": login, "password": password})
    try:

        async def serve_attack(route) -> None:
            await route.fulfill(body=_attack_page(target), content_type="text/html")

        await context.route(f"{ATTACKER}/**", serve_attack)
        page = await context.new_page()
        # The operator has used the API from this browser: its credentials are in use.
        response = await page.goto(f"{target}/api/id-tags")
        assert response is not None and response.status == 200

        answers: list[int] = []
        page.on(
            "response",
            lambda r: answers.append(r.status) if r.url.endswith("/api/id-tags") else None,
        )
        await page.goto(f"{ATTACKER}/prize")
        await page.wait_for_url(f"{target}/api/id-tags", wait_until="load")
        await asyncio.sleep(0.5)  # the fetch's answer, if it came after the navigation
        body = await page.content()
        assert "cross-site request refused" in body or "origin" in body
        assert answers and all(status in (401, 403, 415) for status in answers), answers
    finally:
        await context.close()
    tags = {t.id_tag for t in await client.app[SERVICES].id_tags.list()}
    assert not tags & {"EVIL=", "EVIL-FETCH"}, tags


async def test_the_same_browser_still_uses_the_api_from_its_own_pages(browser, client) -> None:
    target = str(client.make_url("")).rstrip("/")
    login, password = ACCOUNTS["operator"]
    context = await browser.new_context(http_credentials={"username": login, "password": password})
    try:
        page = await context.new_page()
        await page.goto(f"{target}/api/id-tags")
        status = await page.evaluate(
            """async () => (await fetch("/api/id-tags", {method: "POST",
                 headers: {"Content-Type": "application/json"},
                 body: JSON.stringify({id_tag: "MINE"})})).status"""
        )
        assert status == 201
    finally:
        await context.close()
    assert "MINE" in {t.id_tag for t in await client.app[SERVICES].id_tags.list()}
