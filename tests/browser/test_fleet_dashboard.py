"""The dashboard of a fleet of 2,000 in headless Chromium: a filtered page kept current by
real WebSocket charge points, the counters that are the filters, search and the back
button, and a phone's width without sideways scrolling."""

from __future__ import annotations

import re

from playwright.async_api import expect

from tests.helpers import eventually, register_fleet
from webapp.dashboard_feed import FLEET_FEED

FLEET = 2000


async def test_a_filtered_page_of_a_large_fleet_stays_current(
    client, connect, new_page, artifacts
) -> None:
    await register_fleet(client.app, FLEET)
    chargers = {}
    for charge_point_id, status in (("BR-0001", "Faulted"), ("BR-0002", "Faulted"),
                                    ("BR-0003", "Charging")):  # fmt: skip
        cp = await connect(charge_point_id)
        await cp.boot()
        await cp.status(1, status)
        chargers[charge_point_id] = cp
    feed = client.app[FLEET_FEED]

    page = await new_page("operator")
    await expect(page.locator('[data-counter="total"]')).to_have_text(str(FLEET))
    await expect(page.locator("tr.cp-row")).to_have_count(50)
    await page.locator('a.chip[href="/?status=Faulted"]').click()
    await page.wait_for_url(re.compile(r"/\?status=Faulted$"))
    rows = page.locator("tr.cp-row")
    await expect(rows).to_have_count(2)
    await expect(page.locator('[data-status-count="Faulted"]')).to_have_text("2")
    await expect(page.locator('[data-status-count="Offline"]')).to_have_text(str(FLEET - 3))
    await eventually(lambda: feed.viewer_count >= 1, what="the dashboard's stream opened")

    # Live traffic: a row on the page changes in place; one that is no longer Faulted
    # leaves the page, one that failed joins it, and the counters follow.
    await chargers["BR-0002"].status(2, "Available")
    await expect(page.locator("#cp-BR-0002")).to_contain_text("#2")
    await expect(page.locator("#cp-BR-0002")).to_have_attribute("data-status", "Faulted")
    await chargers["BR-0001"].status(1, "Available")
    await expect(page.locator("#cp-BR-0001")).to_have_count(0)
    await expect(rows).to_have_count(1)
    await expect(page.locator('[data-status-count="Faulted"]')).to_have_text("1")
    await expect(page.locator('[data-status-count="Available"]')).to_have_text("1")
    await chargers["BR-0003"].status(1, "Faulted")
    await expect(page.locator("#cp-BR-0003")).to_have_attribute("data-status", "Faulted")
    await expect(rows).to_have_count(2)
    await expect(page.locator('[data-status-count="Faulted"]')).to_have_text("2")
    await expect(page.locator('[data-status-count="Charging"]')).to_have_text("0")
    await expect(page.locator("#fleet-summary")).to_contain_text("2 of 2000 charge points")
    await expect(page.locator('a.chip[aria-current="true"]')).to_contain_text("Faulted")
    await page.screenshot(path=artifacts / "fleet-filtered.png", full_page=True)

    # Another filter, a search within it, a page; the back button returns to each view.
    await page.locator('a.chip[href="/?status=Offline"]').click()
    await page.wait_for_url(re.compile(r"status=Offline"))
    await expect(page.locator("#fleet-summary")).to_contain_text("page 1 of 40")
    await page.get_by_label("Search").fill("br-199")
    await page.wait_for_url(re.compile(r"q=br-199"))
    await expect(rows).to_have_count(10)
    await expect(page.locator("#cp-BR-1999")).to_be_visible()
    # Meanwhile, off this view, BR-0003 recovers.
    await chargers["BR-0003"].status(1, "Available")
    await page.go_back()
    await page.wait_for_url(re.compile(r"/\?status=Offline$"))
    await expect(rows).to_have_count(50)
    await page.go_back()
    await page.wait_for_url(re.compile(r"/\?status=Faulted$"))
    # The browser restores the page as it was left (BR-0003 Faulted); its stream, once
    # open, sends the page as it is now.
    await eventually(
        lambda: [q.status for q in feed.viewing] == ["Faulted"],
        what="the Faulted view's stream alone open",
    )
    await expect(page.locator("#cp-BR-0003")).to_have_count(0)
    await expect(rows).to_have_count(1)
    await expect(page.locator('[data-status-count="Faulted"]')).to_have_text("1")
    # The view reached by the back button is live again: a car plugged in at BR-0002
    # makes it Preparing, and the page is empty.
    await chargers["BR-0002"].status(2, "Preparing")
    await expect(rows).to_have_count(0)
    await expect(page.locator("#fleet-page")).to_contain_text("No charge point matches")
    await expect(page.locator('[data-status-count="Preparing"]')).to_have_text("1")

    # A phone: cards instead of a table, nothing wider than the screen.
    await page.set_viewport_size({"width": 390, "height": 844})
    await page.goto(str(client.make_url("/")))
    await expect(rows).to_have_count(50)
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page is {width} px wide at 390 px"
    await expect(page.get_by_role("link", name="BR-0000")).to_be_visible()
    await page.screenshot(path=artifacts / "fleet-phone.png", full_page=False)
    await page.goto(str(client.make_url("/attention")))
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the attention page is {width} px wide at 390 px"
    assert page.js_errors == []
