"""The portal with the CDN out of reach: this server's copies of htmx, its SSE extension
and Chart.js take over, live updates and the session chart keep working; with no copy of
Chart.js either, the session page says the chart could not be drawn."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from playwright.async_api import expect

from tests.helpers import eventually
from webapp import assets
from webapp.dashboard_feed import FLEET_FEED
from webapp.keys import SERVICES


async def a_session(client) -> int:
    services = client.app[SERVICES]
    await services.charge_points.register("OFF1")
    start = datetime.now(UTC) - timedelta(minutes=30)
    tx, _ = await services.transactions.start("OFF1", 1, "TAG", 1000, start)
    for minute in range(1, 6):
        at = (start + timedelta(minutes=minute)).isoformat()
        sample = {"value": str(1000 + 400 * minute), "measurand": "Energy.Active.Import.Register"}
        await services.transactions.meter_values(
            "OFF1", 1, tx, [{"timestamp": at, "sampled_value": [sample]}]
        )
    await services.transactions.stop("OFF1", tx, 3000, start + timedelta(minutes=6))
    return tx


async def test_copies_take_over_when_the_cdn_is_unreachable(
    client, new_page, connect, artifacts
) -> None:
    tx = await a_session(client)
    page = await new_page("operator", cdn=False)
    loaded = await page.evaluate(
        "() => [...document.scripts].map((s) => s.src).filter((s) => s.includes('/vendor/'))"
    )
    assert [src.split("/static", 1)[1] for src in loaded] == [
        assets.HTMX.local.removeprefix("/static"),
        assets.HTMX_SSE.local.removeprefix("/static"),
    ]
    assert await page.evaluate("() => typeof window.htmx") == "object"

    # Live updates still arrive: a charge point connects and its row appears, no reload.
    await eventually(
        lambda: client.app[FLEET_FEED].viewer_count >= 1, what="the dashboard's stream opened"
    )
    cp = await connect("LIVE1")
    await cp.result("BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"})
    await expect(page.locator("#cp-LIVE1")).to_be_visible()

    await page.goto(str(client.make_url(f"/transactions/{tx}")))
    drawn = await page.wait_for_function(
        "() => window.Chart && Chart.getChart('session-chart')"
        " && Chart.getChart('session-chart').data.datasets[1].data.length > 1"
    )
    assert drawn
    await page.screenshot(path=artifacts / "session-without-cdn.png", full_page=True)
    assert page.js_errors == []


async def test_session_page_says_when_the_chart_script_is_missing(client, new_page) -> None:
    tx = await a_session(client)
    page = await new_page("operator", cdn=False)
    await page.route(re.compile(r".*/static/vendor/chart\.js.*"), lambda r: r.abort())
    await page.goto(str(client.make_url(f"/transactions/{tx}")))
    await expect(page.locator(".chart-missing")).to_contain_text("could not be drawn")
    await expect(page.locator("canvas#session-chart")).to_have_count(0)
