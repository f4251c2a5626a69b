"""The API reference at /api/docs in headless Chromium: reached from the tokens page with
the portal's session, it draws every endpoint of the document from this server's copy of
Swagger UI, with nothing the Content-Security-Policy refuses, and tries one out."""

from __future__ import annotations

from playwright.async_api import expect

from webapp.keys import API_DOCUMENT


async def test_an_operator_browses_and_tries_the_api_reference(new_page, client, artifacts) -> None:
    page = await new_page("operator")
    await page.get_by_role("link", name="API tokens").click()
    await page.get_by_role("link", name="reference").click()
    await expect(page.get_by_role("heading", name="Voltaro JSON API")).to_be_visible()

    operations = sum(len(methods) for methods in client.app[API_DOCUMENT]["paths"].values())
    await expect(page.locator(".opblock")).to_have_count(operations)
    listing = page.locator(".opblock-get").filter(has_text="/api/charge-points").first
    await listing.locator(".opblock-summary").click()
    await listing.get_by_role("button", name="Try it out").click()
    await listing.get_by_role("button", name="Execute").click()
    # Sent with the session's cookie: the server's own answer, an empty fleet.
    await expect(
        listing.locator(".live-responses-table td.response-col_status:not(.col_header)")
    ).to_contain_text("200")
    await page.screenshot(path=str(artifacts / "api-docs.png"))
    assert page.js_errors == []
