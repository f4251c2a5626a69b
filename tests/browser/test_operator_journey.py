"""An operator's day in headless Chromium, against a simulated charge point."""

from __future__ import annotations

import asyncio
import re

from playwright.async_api import expect

from tests.helpers import eventually
from webapp.dashboard_feed import FLEET_FEED
from webapp.keys import BUS, SERVICES


def energy(text: str) -> float:
    return float(re.search(r"([\d.]+) kWh", text)[1])


async def test_operator_starts_watches_and_stops_a_session(
    client, new_page, start_simulator, artifacts
) -> None:
    await client.app[SERVICES].id_tags.add("DRIVER1")
    bus = client.app[BUS]
    page = await new_page("operator")

    # The dashboard is open and listening; a charge point connects and appears, no reload.
    await eventually(
        lambda: client.app[FLEET_FEED].viewer_count >= 1, what="the dashboard's stream opened"
    )
    await start_simulator("SIM1")
    row = page.locator("#cp-SIM1")
    await expect(row).to_contain_text("Available")
    await expect(row.get_by_role("link", name="SIM1")).to_be_visible()
    await expect(page.locator('[data-counter="connected"]')).to_have_text("1")
    await page.screenshot(path=artifacts / "dashboard.png", full_page=True)

    # Its page: remote start from the form, the charge point's answer shown in place.
    await row.get_by_role("link", name="SIM1").click()
    await page.wait_for_url(re.compile(r"/charge-points/SIM1$"))
    await eventually(lambda: bus.subscriber_count >= 1, what="the page subscribed to events")
    await page.get_by_label("Id tag").fill("DRIVER1")
    await page.get_by_label("Connector").fill("1")
    await page.get_by_role("button", name="Remote start").click()
    await expect(page.locator("#op-result")).to_contain_text("Accepted")
    # The answer then says what the start led to, live.
    outcome = page.locator("#remote-start-outcome")
    await expect(outcome).to_have_text(re.compile(r"^session \d+ started$"))

    # The same tag again, on the other connector: not sent, as it is in use; sent anyway,
    # the session it leads to is refused (ConcurrentTx), and the page says so.
    await page.get_by_label("Id tag").fill("DRIVER1")
    await page.get_by_label("Connector").fill("2")
    await page.get_by_role("button", name="Remote start").click()
    await expect(page.locator("#op-result")).to_contain_text("not sent")
    await expect(page.locator("#op-result")).to_contain_text("is in a session already")
    await page.get_by_role("button", name="Send anyway").click()
    await expect(outcome).to_contain_text("refused: ConcurrentTx")

    # It turns Charging, and the energy rises, without a reload.
    await expect(page.locator("#cp-status")).to_contain_text("Charging")
    meter = page.locator("[data-energy]").first
    await expect(meter).to_have_text(re.compile(r"\d+\.\d+ kWh"))
    first = energy(await meter.inner_text())
    await expect(meter).not_to_have_text(await meter.inner_text(), timeout=10_000)
    assert energy(await meter.inner_text()) > first
    await expect(page.locator("#message-log")).to_contain_text("MeterValues")
    await expect(page.locator("#cp-detail")).to_contain_text("active")  # its sessions, live
    await page.screenshot(path=artifacts / "charge-point.png", full_page=True)

    # Stop it from the page: a confirmation first; dismissed, nothing is sent.
    asked: list[str] = []

    async def answer(dialog, accept: bool) -> None:
        asked.append(dialog.message)
        await (dialog.accept() if accept else dialog.dismiss())

    page.once("dialog", lambda dialog: asyncio.ensure_future(answer(dialog, False)))
    await page.get_by_role("button", name="Remote stop").click()
    await eventually(lambda: len(asked) == 1, what="the confirmation dialog shown")
    assert re.fullmatch(r"Stop session \d+ on connector 1\?", asked[0]), asked
    await expect(page.locator("#cp-status")).to_contain_text("Charging")
    page.once("dialog", lambda dialog: asyncio.ensure_future(answer(dialog, True)))
    await page.get_by_role("button", name="Remote stop").click()
    await expect(page.locator("#op-result")).to_contain_text("Remote stop: Accepted")
    await expect(page.locator("#cp-status")).to_contain_text("Available", timeout=10_000)
    await expect(page.get_by_role("button", name="Remote stop")).to_have_count(0)

    # The session is in the transactions list, newest first, with its energy and chart.
    await page.get_by_role("link", name="Transactions").click()
    # Newest first: the refused session (no energy), then the one that charged.
    await expect(page.locator("tr.tx-row")).to_have_count(2)
    tx_row = page.locator("tr.tx-row").nth(1)
    await expect(tx_row).to_contain_text("SIM1")
    await expect(tx_row).to_contain_text("DRIVER1")
    assert float(await tx_row.locator("td.num").inner_text()) > 0
    await expect(page.get_by_role("link", name="CSV")).to_be_visible()
    await page.screenshot(path=artifacts / "transactions.png", full_page=True)
    await tx_row.locator("a").first.click()
    await page.wait_for_url(re.compile(r"/transactions/\d+$"))
    canvas = page.locator("canvas#session-chart")
    await expect(canvas).to_be_visible()
    drawn = await page.wait_for_function(
        "() => window.Chart && Chart.getChart('session-chart')"
        " && Chart.getChart('session-chart').data.datasets[1].data.length > 1"
    )
    assert drawn
    await page.screenshot(path=artifacts / "session.png", full_page=True)
    assert page.js_errors == []


async def test_viewer_sees_no_operation_forms_and_forged_posts_are_refused(
    client, new_page, start_simulator, artifacts
) -> None:
    await start_simulator("SIM2")
    viewer = await new_page("viewer")
    await viewer.goto(str(client.make_url("/charge-points/SIM2")))
    await expect(viewer.locator("#cp-detail")).to_contain_text("Connectors")
    await expect(viewer.get_by_role("button", name="Remote start")).to_have_count(0)
    await expect(viewer.get_by_label("Id tag")).to_have_count(0)
    await viewer.screenshot(path=artifacts / "charge-point-viewer.png", full_page=True)

    # A viewer posting anyway is refused, and so is a forged POST without the CSRF token.
    status = await viewer.evaluate(
        """async () => (await fetch('/charge-points/SIM2/remote-start', {method: 'POST',
             headers: {'X-CSRF-Token': document.querySelector('meta[name=csrf-token]').content},
             body: new URLSearchParams({id_tag: 'X'})})).status"""
    )
    assert status == 403
    operator = await new_page("operator")
    forged = await operator.evaluate(
        """async () => (await fetch('/id-tags', {method: 'POST',
             body: new URLSearchParams({id_tag: 'FORGED'})})).status"""
    )
    assert forged == 403
    assert "FORGED" not in {t.id_tag for t in await client.app[SERVICES].id_tags.list()}

    # The id tag and login pages, for the record.
    await client.app[SERVICES].id_tags.add("TAKEN")
    await operator.goto(str(client.make_url("/id-tags")))
    await operator.get_by_label("Id tag", exact=True).fill("TAKEN")
    await operator.get_by_role("button", name="Add").click()
    await expect(operator.get_by_role("alert")).to_contain_text("exists already")
    await operator.screenshot(path=artifacts / "id-tags.png", full_page=True)
    anonymous = await new_page(None)
    await anonymous.goto(str(client.make_url("/login")))
    await anonymous.get_by_label("User name").fill("oper")
    await anonymous.get_by_label("Password").fill("wrong")
    await anonymous.get_by_role("button", name="Log in").click()
    await expect(anonymous.get_by_role("alert")).to_contain_text("Wrong user name or password")
    await anonymous.screenshot(path=artifacts / "login.png", full_page=True)


async def test_operator_reads_and_changes_configuration_from_the_operations_page(
    client, new_page, start_simulator, artifacts
) -> None:
    sim = await start_simulator("SIM3")
    await asyncio.wait_for(sim.booted.wait(), 10)
    page = await new_page("operator")
    await page.goto(str(client.make_url("/charge-points/SIM3/operations")))
    await eventually(
        lambda: client.app[BUS].subscriber_count >= 1, what="the page subscribed to events"
    )

    await page.get_by_role("button", name="Read configuration").click()
    await expect(page.locator("#op-result")).to_contain_text("keys read")
    # The table fills in live; read-only keys cannot be edited.
    heartbeat = page.get_by_label("HeartbeatInterval")
    await expect(heartbeat).to_be_visible()
    await expect(page.locator("#config-NumberOfConnectors input")).to_have_count(0)

    await heartbeat.fill("45")
    await page.locator("#config-HeartbeatInterval").get_by_role("button", name="Save").click()
    await expect(page.locator("#op-result")).to_contain_text("Accepted")
    assert sim.configuration["HeartbeatInterval"] == ("45", False)
    journal = page.locator("#operations-journal")
    await expect(journal).to_contain_text("ChangeConfiguration")
    await expect(journal).to_contain_text("oper")

    # Unlocking asks first; the indicator shows while the CALL waits for the answer.
    asked: list[str] = []

    async def confirm(dialog) -> None:
        asked.append(dialog.message)
        await dialog.accept()

    page.once("dialog", lambda dialog: asyncio.ensure_future(confirm(dialog)))
    await page.get_by_role("button", name="Unlock").click()
    unlock_answer = page.locator('form[data-operation="unlock-connector"] .op-answer')
    await expect(unlock_answer).to_contain_text("Unlocked")
    assert asked == ["Unlock the connector? A session on it is stopped and the cable released."]
    indicator = page.locator('form[data-operation="unlock-connector"] .htmx-indicator')
    await expect(indicator).to_have_text("waiting for the charger's answer…")
    await page.screenshot(path=artifacts / "operations.png", full_page=True)
    assert page.js_errors == []
