"""An operator's flows through the portal in headless Chromium, with 2,000 registered charge
points and live traffic from real WebSocket charge points of both versions: a simulated
1.6 charge point, a simulated 2.0.1 station and a raw 1.6 charger that faults and drops
its link. Each page is saved in the artifacts directory; the charge point page and its
status timeline are seen at a phone's width too, with nothing wider than the screen."""

from __future__ import annotations

import asyncio
import dataclasses
import re

import pytest
from playwright.async_api import expect

from tests.helpers import WATCHED_SIMULATOR, add_many_tags, disconnected, eventually, register_fleet
from webapp.keys import BUS, SERVICES

FLEET = 2000
TAGS = 3000
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def simulators(start_simulator):
    """`await simulators("ID", "1.6" | "2.0.1")`: a simulated charge point on the app's
    socket, once booted."""
    config = dataclasses.replace(WATCHED_SIMULATOR, notification_delay=0.05)

    async def _start(charge_point_id: str, version: str):
        sim = await start_simulator(charge_point_id, version, config)
        await asyncio.wait_for(sim.booted.wait(), 10)
        return sim

    return _start


def lane_states(page, lane: str):
    return page.locator(f'#status-timeline [data-lane="{lane}"] rect.seg')


async def no_sideways_scrolling(page, what: str) -> None:
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{what} is {width} px wide at {PHONE['width']} px"


async def test_operator_flows_at_fleet_size(
    client, connect, new_page, simulators, artifacts
) -> None:
    await register_fleet(client.app, FLEET)
    await add_many_tags(client.app, [f"FLEET-{n:05d}" for n in range(TAGS)])
    await client.app[SERVICES].id_tags.add("DRIVER-16")
    bus = client.app[BUS]
    await simulators("FL-16", "1.6")
    await simulators("FL-201", "2.0.1")
    # A charger that faults, loses its link and comes back: an Offline stretch.
    raw = await connect("FL-RAW")
    await raw.boot()
    await raw.status(1, "Available")
    await raw.status(1, "Faulted", error_code="GroundFailure")
    await raw.ws.close()
    await disconnected(client, "FL-RAW")
    raw = await connect("FL-RAW")
    await raw.boot()
    await raw.status(1, "Faulted", error_code="GroundFailure")

    page = await new_page("operator")
    base = str(client.make_url("")).rstrip("/")

    # The 1.6 charge point's overview: the timeline, a lane for its connection and each
    # connector (0 is the charge point itself).
    await page.goto(f"{base}/charge-points/FL-16")
    await eventually(lambda: bus.subscriber_count >= 1, what="the page subscribed to events")
    timeline = page.locator("#status-timeline")
    await expect(timeline.locator(".periods a[aria-current]")).to_have_text("24 h")
    await expect(lane_states(page, "connection").last).to_have_attribute("data-state", "Connected")
    for lane in ("connector-0", "connector-1", "connector-2"):
        await expect(lane_states(page, lane).last).to_have_attribute("data-state", "Available")
    await expect(timeline.locator('[data-lane="connector-1"] .lane-label')).to_have_text(
        "Connector 1"
    )

    # Remote start with the tag search: typing asks for at most 20 tags, not all 3,001.
    tag = page.get_by_label("Id tag")
    await tag.fill("FLEET-0")
    await expect(page.locator("#known-tags option")).to_have_count(20)
    await expect(page.locator("#known-tags option").first).to_have_attribute("value", "FLEET-00000")
    await tag.fill("driver")
    await expect(page.locator("#known-tags option")).to_have_count(1)
    await expect(page.locator("#known-tags option")).to_have_attribute("value", "DRIVER-16")
    await tag.fill("DRIVER-16")
    await page.get_by_label("Connector").fill("1")
    await page.get_by_role("button", name="Remote start").click()
    await expect(page.locator("#op-result")).to_contain_text("Accepted")
    await expect(page.locator("#remote-start-outcome")).to_have_text(
        re.compile(r"^session \d+ started$")
    )
    # The timeline follows live: connector 1 charges now, the others are as they were.
    await expect(lane_states(page, "connector-1").last).to_have_attribute("data-state", "Charging")
    await expect(lane_states(page, "connector-2").last).to_have_attribute("data-state", "Available")
    title = await lane_states(page, "connector-1").last.locator("title").text_content()
    assert re.match(r"Charging · NoError · .* to now \(\d+ s\)$", " ".join(title.split())), title
    await expect(timeline.locator(".legend")).to_contain_text("Charging")
    await page.screenshot(path=artifacts / "flow-charge-point-overview.png", full_page=True)
    await timeline.screenshot(path=artifacts / "flow-timeline.png")

    # Its sessions tab, and the session with its meter values.
    await page.locator("nav.tabs").get_by_role("link", name="Sessions").click()
    await page.wait_for_url(re.compile(r"/transactions\?charge_point_id=FL-16$"))
    session_row = page.locator("tr.tx-row")
    await expect(session_row).to_have_count(1)
    await expect(session_row).to_contain_text("DRIVER-16")
    await page.screenshot(path=artifacts / "flow-charge-point-sessions.png", full_page=True)
    await session_row.locator("a").first.click()
    await page.wait_for_url(re.compile(r"/transactions/\d+$"))
    await page.wait_for_function(
        "() => document.querySelectorAll('#meter-table tbody tr').length >= 2"
    )
    await expect(page.locator("#meter-table thead")).to_contain_text("Energy")
    await expect(page.locator("canvas#session-chart")).to_be_visible()
    await page.screenshot(path=artifacts / "flow-session.png", full_page=True)

    # Transactions, filtered by tag (any part, any case), with the filtered set's totals.
    await page.goto(f"{base}/transactions")
    await page.get_by_label("Id tag").fill("driver-1")
    await page.get_by_role("button", name="Filter").click()
    await page.wait_for_url(re.compile(r"id_tag=driver-1"))
    await expect(page.locator("tr.tx-row")).to_have_count(1)
    totals = page.locator("#transaction-totals")
    await expect(totals).to_contain_text("Sessions1 (1 active)")
    await expect(totals).to_contain_text("kWh")
    await page.screenshot(path=artifacts / "flow-transactions.png", full_page=True)

    # Configuration and operations of the 1.6 charger: its configuration read.
    await page.goto(f"{base}/charge-points/FL-16")
    await page.locator("nav.tabs").get_by_role("link", name="Configuration and operations").click()
    await page.wait_for_url(re.compile(r"/charge-points/FL-16/operations$"))
    await eventually(lambda: bus.subscriber_count >= 1, what="the page subscribed to events")
    await page.get_by_role("button", name="Read configuration").click()
    await expect(page.locator("#op-result")).to_contain_text("keys read")
    await expect(page.get_by_label("HeartbeatInterval")).to_be_visible()
    await page.screenshot(path=artifacts / "flow-operations-16.png", full_page=True)

    # The message log, filtered by action.
    await page.locator("nav.tabs").get_by_role("link", name="Message log").click()
    await page.wait_for_url(re.compile(r"/charge-points/FL-16/log$"))
    await page.get_by_label("Action").select_option("StatusNotification")
    await page.get_by_role("button", name="Filter").click()
    await page.wait_for_url(re.compile(r"action=StatusNotification"))
    actions = await page.locator("#log-entries tbody tr td:nth-child(4)").all_inner_texts()
    assert actions and set(actions) == {"StatusNotification"}, actions
    await page.screenshot(path=artifacts / "flow-message-log.png", full_page=True)

    # The 2.0.1 station: a lane per EVSE and connector, its device model, its operations.
    await page.goto(f"{base}/charge-points/FL-201")
    await expect(page.locator("#cp-version")).to_have_text("OCPP 2.0.1")
    for lane in ("evse-1-connector-1", "evse-2-connector-1"):
        await expect(lane_states(page, lane).last).to_have_attribute("data-state", "Available")
    await expect(timeline.locator('[data-lane="evse-2-connector-1"] .lane-label')).to_have_text(
        "EVSE 2 / connector 1"
    )
    await page.screenshot(path=artifacts / "flow-charge-point-201.png", full_page=True)
    await page.locator("nav.tabs").get_by_role("link", name="Device model").click()
    await page.wait_for_url(re.compile(r"/charge-points/FL-201/device-model$"))
    await page.get_by_role("button", name="Get base report").click()
    await expect(page.locator("#op-result")).to_contain_text("Accepted")
    await expect(page.locator("#device-model")).to_contain_text("HeartbeatInterval")
    await page.screenshot(path=artifacts / "flow-device-model.png", full_page=True)
    await page.locator("nav.tabs").get_by_role("link", name="Operations").click()
    await page.wait_for_url(re.compile(r"/charge-points/FL-201/operations$"))
    await expect(page.locator('form[data-operation="reserve-now"]')).to_be_visible()
    await page.screenshot(path=artifacts / "flow-operations-201.png", full_page=True)

    # Id tags: a search among the 3,001.
    await page.goto(f"{base}/id-tags")
    await expect(page.locator("#tag-count")).to_contain_text(f"{TAGS + 1} tags")
    await page.get_by_label("Search").fill("fleet-0299")
    await page.wait_for_url(re.compile(r"q=fleet-0299"))
    await expect(page.locator("#tag-count")).to_contain_text("10 tags matching")
    await expect(page.locator("#tag-FLEET-02999")).to_be_visible()
    await page.screenshot(path=artifacts / "flow-id-tags.png", full_page=True)

    # One operation to many: each charge point in its own version.
    await page.goto(f"{base}/operations")
    await page.get_by_label("Charge points").fill("FL-16, FL-201")
    await page.get_by_label("What to do").select_option(label="Trigger message")
    page.once("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
    await page.get_by_role("button", name="Send").click()
    answers = page.locator("#bulk-answers tbody tr")
    await expect(answers).to_have_count(2)
    await expect(page.locator('#bulk-answers [data-charge-point="FL-16"]')).to_contain_text("1.6")
    await expect(page.locator('#bulk-answers [data-charge-point="FL-201"]')).to_contain_text(
        "2.0.1"
    )
    await expect(page.locator("#bulk-results h2")).to_contain_text("2 of 2 went as asked")
    await page.screenshot(path=artifacts / "flow-bulk-operations.png", full_page=True)

    # Needs attention: the faulted charger, the 2,000 never connected, the thresholds.
    await page.goto(f"{base}/attention")
    await expect(page.locator('#attention-faulted [data-charge-point="FL-RAW"]')).to_be_visible()
    await expect(page.locator("#attention-offline h2")).to_contain_text(str(FLEET))
    await expect(page.locator("#attention-thresholds")).to_contain_text(
        "sessions without meter values for 15 min"
    )
    await page.screenshot(path=artifacts / "flow-attention.png", full_page=True)

    # A phone: the charge point page, and a timeline with an Offline stretch, fit.
    await page.set_viewport_size(PHONE)
    await page.goto(f"{base}/charge-points/FL-16")
    await expect(lane_states(page, "connector-1").last).to_have_attribute("data-state", "Charging")
    await no_sideways_scrolling(page, "the charge point page")
    await page.screenshot(path=artifacts / "flow-charge-point-phone.png", full_page=True)
    await page.goto(f"{base}/charge-points/FL-RAW")
    await timeline.get_by_role("link", name="1 h").click()
    await page.wait_for_url(re.compile(r"/charge-points/FL-RAW\?period=1h#status-timeline$"))
    await expect(timeline.locator(".periods a[aria-current]")).to_have_text("1 h")
    await expect(timeline).to_contain_text("the last 1 h")
    raw_lane = timeline.locator('[data-lane="connector-1"]')
    await raw_lane.get_by_text("3 status changes").click()
    await expect(raw_lane.locator("table")).to_contain_text("GroundFailure")
    states = [
        await r.get_attribute("data-state") for r in await lane_states(page, "connector-1").all()
    ]
    assert states[-3:] == ["Faulted", "Offline", "Faulted"], states
    connection = [
        await r.get_attribute("data-state") for r in await lane_states(page, "connection").all()
    ]
    assert connection[-3:] == ["Connected", "Offline", "Connected"], connection
    await no_sideways_scrolling(page, "the charge point page with its timeline")
    box = await timeline.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], box
    await timeline.screenshot(path=artifacts / "flow-timeline-phone.png")
    assert page.js_errors == []
