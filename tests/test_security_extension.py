"""The OCPP 1.6 security extension: its charge point messages stored and shown, its
central-system operations sent (as far as the ocpp library has their schemas)."""

from __future__ import annotations

import asyncio

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ocpp_core.db.models import StatusReport
from tests.helpers import post
from webapp.keys import ENGINE, SERVICES


async def test_security_messages_from_the_charge_point(client, connect, portal) -> None:
    cp = await connect("SECURE")
    await cp.boot()
    assert await cp.result(
        "SecurityEventNotification",
        {"type": "InvalidFirmwareSignature", "timestamp": "2026-01-01T00:00:00Z",
         "techInfo": "signature check failed"},
    ) == {}  # fmt: skip
    assert await cp.result("SignCertificate", {"csr": "-----BEGIN CERTIFICATE REQUEST-----"}) == {
        "status": "Rejected"
    }
    assert await cp.result("LogStatusNotification", {"status": "Uploaded", "requestId": 4}) == {}
    assert (
        await cp.result(
            "SignedFirmwareStatusNotification", {"status": "InvalidSignature", "requestId": 5}
        )
        == {}
    )
    events = await client.app[SERVICES].charge_points.security_events("SECURE")
    assert [(e.type, e.tech_info) for e in events] == [
        ("SignCertificateRequest", "refused: no CA configured"),
        ("InvalidFirmwareSignature", "signature check failed"),
    ]
    async with AsyncSession(client.app[ENGINE]) as session:
        reports = (await session.scalars(select(StatusReport))).all()
    assert [(r.kind, r.status) for r in reports] == [
        ("log", "Uploaded"),
        ("signed_firmware", "InvalidSignature"),
    ]
    assert (await client.app[SERVICES].charge_points.get("SECURE")).firmware_status == (
        "InvalidSignature"
    )
    viewer = await portal("viewer")
    _, html = await viewer.get("/charge-points/SECURE")
    assert "InvalidFirmwareSignature" in html and "signature check failed" in html

    # A malformed one gets the 1.6 error code.
    frame = await cp.call("SecurityEventNotification", {"type": "X"})
    assert frame[2] == "OccurenceConstraintViolation"


async def test_security_operations_are_sent(client, connect) -> None:
    cp = await connect("SECURE")
    await cp.boot()
    request = asyncio.create_task(
        post(
            client,
            "/api/charge-points/SECURE/get-log",
            {
                "log": {"remote_location": "https://logs.example.com/"},
                "log_type": "SecurityLog",
                "request_id": 9,
            },
        )
    )
    frame = await cp.expect_call("GetLog")
    assert frame[3] == {
        "log": {"remoteLocation": "https://logs.example.com/"},
        "logType": "SecurityLog",
        "requestId": 9,
    }
    await cp.answer(frame, {"status": "Accepted", "filename": "security.log"})
    assert await request == (200, {"status": "Accepted", "filename": "security.log"})

    request = asyncio.create_task(
        post(
            client,
            "/api/charge-points/SECURE/extended-trigger-message",
            {"requested_message": "SignChargePointCertificate"},
        )
    )
    await cp.answer(await cp.expect_call("ExtendedTriggerMessage"), {"status": "Accepted"})
    assert await request == (200, {"status": "Accepted"})

    status, answer = await post(
        client, "/api/charge-points/SECURE/install-certificate", {"certificate_type": "Nope"}
    )
    assert status == 400 and "missing" in answer["error"]  # certificate is required
    assert await cp.nothing_within(0.2)
