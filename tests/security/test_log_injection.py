"""Values a charger or a visitor chooses cannot forge or hide lines of the server's log."""

from __future__ import annotations

import json
from pathlib import Path

import aiohttp
from aiohttp.test_utils import unused_port

from tests.server_process import server_env, start_server, stop, wait_until_listening

FORGED = "2026-01-01 00:00:00,000 WARNING webapp.auth: admin logged in from 10.0.0.1"
NAME = FORGED.replace(":", ".")  # a user name cannot hold a colon


async def test_control_characters_in_logged_values_are_escaped(tmp_path: Path) -> None:
    port = unused_port()
    log = tmp_path / "server.log"
    env = server_env(f"sqlite+aiosqlite:///{tmp_path / 'v.db'}", port)
    with log.open("w") as stderr:
        process = start_server(env, stderr)
    try:
        await wait_until_listening(port)
        async with aiohttp.ClientSession() as http:
            base = f"http://127.0.0.1:{port}"
            async with http.ws_connect(f"{base}/ocpp/CP-LOG", protocols=("ocpp1.6",)) as ws:
                boot = {"chargePointVendor": "V", "chargePointModel": "M"}
                await ws.send_str(json.dumps([2, "1", "BootNotification", boot]))
                await ws.receive(timeout=10)
                event = {
                    "type": "Tamper\rDetected",
                    "timestamp": "2026-01-01T00:00:00Z",
                    "techInfo": f"lid open\n{FORGED}\u2028{FORGED}",
                }
                await ws.send_str(json.dumps([2, "2", "SecurityEventNotification", event]))
                answer = json.loads((await ws.receive(timeout=10)).data)
                assert answer[0] == 3
            # An operator's name is logged too (the login throttle's warning).
            for _ in range(5):
                async with http.post(
                    f"{base}/api/id-tags",
                    headers={"Authorization": aiohttp.encode_basic_auth(f"x\n{NAME}", "p")},
                ) as response:
                    assert response.status in (401, 415)
            async with http.get(
                f"{base}/api/charge-points",
                headers={"Authorization": aiohttp.encode_basic_auth(f"y\n{NAME}", "p")},
            ) as response:
                assert response.status == 401
    finally:
        stop(process)
    text = log.read_text()
    assert "security event Tamper\\rDetected lid open\\n2026-01-01" in text
    lines = text.splitlines()
    assert not any(
        line.startswith(("2026-01-01 00:00:00,000", "2026-01-01 00.00.00,000")) for line in lines
    ), text
    assert "\u2028" not in text and "\r" not in text
