"""A form's success is a page reached by a redirect: reloading it in the browser shows the
outcome again and posts nothing again."""

from __future__ import annotations

import re

from playwright.async_api import expect

from webapp.keys import SERVICES


async def test_reloading_after_adding_an_id_tag_does_not_add_it_again(client, new_page) -> None:
    page = await new_page("operator")
    posts: list[str] = []
    page.on(
        "request", lambda request: posts.append(request.url) if request.method == "POST" else None
    )

    await page.goto(str(client.make_url("/id-tags")))
    await page.locator("#new-tag").fill("RELOAD-1")
    await page.get_by_role("button", name="Add", exact=True).click()
    await page.wait_for_url(re.compile(r"/id-tags\?done=added&id_tag=RELOAD-1$"))
    message = page.locator("p.message")
    await expect(message).to_have_text("Id tag RELOAD-1 added.")
    assert posts == [str(client.make_url("/id-tags"))]

    await page.reload()
    await expect(message).to_have_text("Id tag RELOAD-1 added.")
    await expect(page.locator("#tag-RELOAD-1")).to_be_visible()
    assert len(posts) == 1, posts
    entries = await client.app[SERVICES].audit.recent()
    assert [(e.action, e.target) for e in entries if e.action == "add id tag"] == [
        ("add id tag", "RELOAD-1")
    ]
    assert page.js_errors == []
