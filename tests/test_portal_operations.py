"""Every operation from the portal's forms, answered in place and journalled."""

from __future__ import annotations

import re

import pytest

from tests.helpers import eventually, soon
from webapp.keys import SERVICES

HTMX = {"HX-Request": "true"}

# operation -> (form fields, the answer shown)
FORMS = {
    "clear-cache": ({}, "Accepted"),
    "reset": ({"type": "Soft"}, "Accepted"),
    "change-availability": ({"connector_id": "2", "type": "Inoperative"}, "Accepted"),
    "unlock-connector": ({"connector_id": "1"}, "Unlocked"),
    "trigger-message": (
        {"requested_message": "StatusNotification", "connector_id": ""},
        "Accepted",
    ),
    "data-transfer": ({"vendor_id": "Voltaro", "message_id": "echo", "data": "ping"}, "Accepted"),
    "get-configuration": ({"key": ""}, "keys read"),
    "change-configuration": ({"key": "HeartbeatInterval", "value": "90"}, "Accepted"),
    "reserve-now": ({"connector_id": "1", "id_tag": "TAG", "expiry_date": soon()[:16]}, "Accepted"),
    "send-local-list": ({"update_type": "Full"}, "Accepted"),
    "get-local-list-version": ({}, "version 0"),
    "set-charging-profile": (
        {
            "connector_id": "0",
            "charging_profile_purpose": "ChargePointMaxProfile",
            "charging_profile_id": "3",
            "stack_level": "0",
            "limit": "32",
            "charging_rate_unit": "A",
        },
        "Accepted",
    ),
    "get-composite-schedule": ({"connector_id": "0", "duration": "600"}, "Accepted"),
    "get-diagnostics": ({"location": "ftp://logs.example.com/in"}, "Accepted"),
    "update-firmware": (
        {"location": "https://fw.example.com/3.0", "retrieve_date": soon(0)[:16]},
        "Accepted",
    ),
}


@pytest.mark.parametrize("operation", sorted(FORMS))
async def test_operation_forms_answer_in_place(portal, sim, operation: str) -> None:
    fields, shown = FORMS[operation]
    operator = await portal("operator")
    status, html = await operator.post(
        f"/charge-points/SIM1/operations/{operation}", fields, headers=HTMX
    )
    assert status == 200 and "<html" not in html
    answer = re.search(r'data-answer="([^"]*)"', html)[1]
    assert shown in answer, html
    _, page = await operator.get("/charge-points/SIM1")
    journal = page[page.index('id="operations-journal"') :]
    assert "<td>oper</td>" in journal  # who asked, on the charge point page


async def test_operations_page_roles_and_state(portal, client, sim) -> None:
    viewer = await portal("viewer")
    status, html = await viewer.get("/charge-points/SIM1/operations")
    assert status == 200 and "Read configuration" not in html and "Operations sent" in html
    status, _ = await viewer.post("/charge-points/SIM1/operations/reset", {"type": "Hard"})
    assert status == 403

    operator = await portal("operator")
    status, html = await operator.get("/charge-points/SIM1/operations")
    assert "Read configuration" in html and "Set limit" in html
    await operator.post("/charge-points/SIM1/operations/get-configuration", {}, headers=HTMX)
    _, html = await operator.get("/charge-points/SIM1/operations")
    # Writable keys are inputs, read-only ones are text.
    assert re.search(
        r'name="key" value="HeartbeatInterval">.*?name="value" value="\d+"', html, re.S
    )
    assert 'NumberOfConnectors <span class="muted">(read-only)</span>' in html
    assert 'name="key" value="NumberOfConnectors"' not in html

    await operator.post(
        "/charge-points/SIM1/operations/reserve-now",
        {"connector_id": "2", "id_tag": "TAG", "expiry_date": soon()[:16]},
        headers=HTMX,
    )
    _, html = await operator.get("/charge-points/SIM1")
    assert re.search(r'id="reservation-1">.*?Reserved', html, re.S)
    status, html = await operator.post(
        "/charge-points/SIM1/operations/cancel-reservation", {"reservation_id": "1"}, headers=HTMX
    )
    assert 'data-answer="Accepted"' in html

    # Bad form input: a message, nothing sent, nothing journalled.
    status, html = await operator.post(
        "/charge-points/SIM1/operations/unlock-connector", {"connector_id": "x"}, headers=HTMX
    )
    assert 'data-answer="invalid input"' in html and "whole number" in html
    # ISO 8601, but before year 1 in UTC: was a 500 (found by tests/test_fuzz.py).
    status, html = await operator.post(
        "/charge-points/SIM1/operations/reserve-now",
        {"connector_id": "2", "id_tag": "TAG", "expiry_date": "0001-01-01T00:00:00+00:01"},
        headers=HTMX,
    )
    assert 'data-answer="invalid input"' in html and "must be a date and time" in html
    journal = await client.app[SERVICES].operations.journal("SIM1")
    assert [o.action for o in journal][:2] == ["CancelReservation", "ReserveNow"]

    # Without htmx, the operations page comes back with the answer.
    status, html = await operator.post("/charge-points/SIM1/operations/clear-cache", {})
    assert status == 200 and "<html" in html and 'data-answer="Accepted"' in html

    async def unknown_operation() -> bool:
        status, _ = await operator.post("/charge-points/SIM1/operations/fly", {})
        return status == 404

    await eventually(unknown_operation)
