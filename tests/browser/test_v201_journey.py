"""An operator and a charger speaking OCPP 2.0.1, in headless Chromium: the station
appears with its version and EVSEs, its EVSE status changes live, and a remote start from
the form is answered on the page without a reload."""

from __future__ import annotations

import json
import re

from playwright.async_api import expect

from tests.helpers import eventually
from tests.ocpp_client import RawChargePoint
from tests.v201.charging_station import STAMP, boot
from webapp.dashboard_feed import FLEET_FEED
from webapp.keys import SERVICES

# Set before the page's own scripts run: whether its event stream is open (htmx-ext-sse
# says so with htmx:sseOpen), so the test sends only once the page listens.
SSE_OPEN = "document.addEventListener('htmx:sseOpen', () => { window.sseOpen = true; });"


async def status(cp: RawChargePoint, evse_id: int, connector_id: int, state: str) -> None:
    payload = {"timestamp": STAMP, "connectorStatus": state, "evseId": evse_id,
               "connectorId": connector_id}  # fmt: skip
    assert await cp.result("StatusNotification", payload) == {}


async def test_operator_follows_and_starts_a_201_station(client, new_page, artifacts) -> None:
    await client.app[SERVICES].id_tags.add("DRIVER2")
    page = await new_page("operator")
    await page.add_init_script(SSE_OPEN)
    await eventually(
        lambda: client.app[FLEET_FEED].viewer_count >= 1, what="the dashboard's stream opened"
    )

    # It connects speaking 2.0.1 and appears on the dashboard, with its version and EVSEs.
    ws = await client.ws_connect("/ocpp/ST2", protocols=("ocpp2.0.1",))
    cp = RawChargePoint(ws)
    try:
        await boot(cp)
        await status(cp, 1, 1, "Available")
        await status(cp, 2, 1, "Available")
        row = page.locator("#cp-ST2")
        await expect(row).to_contain_text("OCPP 2.0.1")
        await expect(row.locator('[data-evse="1"]')).to_contain_text("connector 1")
        await expect(row.locator('[data-evse="2"]')).to_contain_text("Available")

        # Its page: the EVSEs, the boot reason; a status sent now shows without a reload.
        await row.get_by_role("link", name="ST2").click()
        await page.wait_for_url(re.compile(r"/charge-points/ST2$"))
        await page.wait_for_function("() => window.sseOpen === true")
        await page.evaluate("() => { window.notReloaded = true; }")
        await expect(page.locator("#cp-version")).to_have_text("OCPP 2.0.1")
        await expect(page.locator("#boot-reason")).to_have_text("PowerUp")
        evse = page.locator("#evse-2-connector-1")
        await expect(evse).to_contain_text("Available")
        await status(cp, 2, 1, "Unavailable")
        await expect(evse).to_contain_text("Unavailable")
        await expect(page.locator("#evse-1-connector-1")).to_contain_text("Available")

        # Remote start from the form: the charger gets RequestStartTransaction, accepts,
        # and its answer is on the page, which was not reloaded.
        await page.get_by_label("Id tag").fill("DRIVER2")
        await page.get_by_label("EVSE", exact=True).fill("1")
        await page.get_by_role("button", name="Remote start").click()
        call = await cp.receive(timeout=10)
        assert call[0] == 2 and call[2] == "RequestStartTransaction", call
        assert call[3]["idToken"] == {"idToken": "DRIVER2", "type": "Central"}
        assert call[3]["evseId"] == 1
        await cp.send_raw(json.dumps([3, call[1], {"status": "Accepted"}]))
        await expect(page.locator("#op-result")).to_contain_text("Remote start: Accepted")

        # The session starts: the station charges, live.
        started = {
            "eventType": "Started", "timestamp": STAMP, "triggerReason": "RemoteStart",
            "seqNo": 0, "evse": {"id": 1, "connectorId": 1},
            "transactionInfo": {"transactionId": "T-B1", "chargingState": "Charging",
                                "remoteStartId": call[3]["remoteStartId"]},
            "idToken": {"idToken": "DRIVER2", "type": "Central"},
        }  # fmt: skip
        await cp.result("TransactionEvent", started)
        await status(cp, 1, 1, "Occupied")
        await expect(page.locator("#cp-status")).to_contain_text("Charging")
        await expect(page.locator("#evse-1-connector-1")).to_contain_text("Occupied")
        await expect(page.get_by_role("button", name="Remote stop")).to_have_count(1)
        assert await page.evaluate("() => window.notReloaded === true")
        await page.screenshot(path=artifacts / "charge-point-201.png", full_page=True)

        # Its device model: asked for, filled in live as the report comes, set in place.
        await page.get_by_role("link", name="Device model").click()
        await page.wait_for_url(re.compile(r"/charge-points/ST2/device-model$"))
        await page.wait_for_function("() => window.sseOpen === true")
        await page.evaluate("() => { window.notReloaded = true; }")
        await expect(page.locator("#device-model")).to_contain_text("Not reported yet")
        await page.get_by_role("button", name="Get base report").click()
        call = await cp.receive(timeout=10)
        assert call[2] == "GetBaseReport" and call[3]["reportBase"] == "FullInventory", call
        await cp.send_raw(json.dumps([3, call[1], {"status": "Accepted"}]))
        await expect(page.locator("#op-result")).to_contain_text("Base report: Accepted")
        report = {
            "requestId": call[3]["requestId"], "generatedAt": STAMP, "seqNo": 0,
            "reportData": [
                {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"},
                 "variableAttribute": [{"value": "60", "mutability": "ReadWrite"}],
                 "variableCharacteristics": {"dataType": "integer", "unit": "s",
                                             "supportsMonitoring": False}},
                {"component": {"name": "ChargingStation"}, "variable": {"name": "Model"},
                 "variableAttribute": [{"value": "M201", "mutability": "ReadOnly"}],
                 "variableCharacteristics": {"dataType": "string", "supportsMonitoring": False}},
            ],
        }  # fmt: skip
        assert await cp.result("NotifyReport", report) == {}
        heartbeat = page.get_by_label("OCPPCommCtrlr.HeartbeatInterval")
        await expect(heartbeat).to_have_value("60")
        await page.get_by_label("Search components and variables").fill("model")
        await expect(page.locator("#device-model")).not_to_contain_text("HeartbeatInterval")
        await expect(page.locator("#device-model")).to_contain_text("M201")
        await page.get_by_label("Search components and variables").fill("heartbeat")
        await expect(page.locator("#device-model")).not_to_contain_text("M201")
        await heartbeat.fill("30")
        await page.locator("tr.dm-row").get_by_role("button", name="Set").click()
        call = await cp.receive(timeout=10)
        assert call[2] == "SetVariables", call
        assert call[3]["setVariableData"][0]["attributeValue"] == "30"
        result = {"setVariableResult": [{"attributeStatus": "Accepted",
                                         "component": {"name": "OCPPCommCtrlr"},
                                         "variable": {"name": "HeartbeatInterval"}}]}  # fmt: skip
        await cp.send_raw(json.dumps([3, call[1], result]))
        row = page.locator('tr[data-variable="OCPPCommCtrlr.HeartbeatInterval"]')
        await expect(row.locator("[data-answer]")).to_have_text("Accepted")
        await expect(row.get_by_label("OCPPCommCtrlr.HeartbeatInterval")).to_have_value("30")
        assert await page.evaluate("() => window.notReloaded === true")
        await page.screenshot(path=artifacts / "device-model-201.png", full_page=True)

        # The operations page has the 2.0.1 forms.
        await page.goto(str(client.make_url("/charge-points/ST2/operations")))
        await expect(page.get_by_role("button", name="Make unavailable")).to_be_visible()
        await page.screenshot(path=artifacts / "operations-201.png", full_page=True)
        assert page.js_errors == []
    finally:
        await ws.close()
