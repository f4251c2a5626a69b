"""The API tokens page in headless Chromium: a token is made, shown once, copied, used,
and revoked in place after a confirmation."""

from __future__ import annotations

import re

from playwright.async_api import expect

from tests.helpers import API_TOKEN, bearer


async def test_operator_creates_copies_and_revokes_a_token(new_page, client, artifacts) -> None:
    page = await new_page("operator")
    origin = str(client.make_url("")).rstrip("/")
    await page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=origin)
    await page.get_by_role("link", name="API tokens").click()
    await expect(page.get_by_role("heading", name="API tokens")).to_be_visible()

    await page.get_by_label("Name").fill("wallboard")
    await page.get_by_label("Role").select_option("viewer")
    await page.get_by_role("button", name="Create token").click()
    await expect(page.get_by_text("Copy it now: it is not shown again.")).to_be_visible()
    secret = await page.get_by_label("Token").input_value()
    assert API_TOKEN.fullmatch(secret)
    await page.get_by_role("button", name="Copy").click()
    await expect(page.get_by_role("button", name="Copied")).to_be_visible()
    assert await page.evaluate("navigator.clipboard.readText()") == secret
    await page.screenshot(path=str(artifacts / "api-tokens.png"), full_page=True)

    assert (await client.get("/api/id-tags", headers=bearer(secret))).status == 200
    await page.goto(origin + "/tokens")  # shown once: not on the page again
    assert secret not in await page.content()
    row = page.locator("tr", has_text="wallboard")
    await expect(row).to_contain_text(secret[:12])
    await expect(row).to_contain_text("viewer")
    await expect(row).not_to_contain_text("never")  # it was used a moment ago

    dialogs: list[str] = []

    async def accept(dialog) -> None:
        dialogs.append(dialog.message)
        await dialog.accept()

    page.on("dialog", accept)
    await row.get_by_role("button", name="Revoke").click()
    await expect(row).to_contain_text(re.compile(r"revoked \d{4}-"))
    assert dialogs == ["Revoke token wallboard? Scripts using it stop working at once."]
    assert page.url == origin + "/tokens"  # in place, no reload
    assert (await client.get("/api/id-tags", headers=bearer(secret))).status == 401
    assert page.js_errors == []
