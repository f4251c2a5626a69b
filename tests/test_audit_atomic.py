"""An operator's change and its audit entry are one transaction (services/audit.add), on
both databases: a change made has its entry, a change refused has none, and a change
whose entry cannot be written is not made either."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from ocpp_core.db.models import AuditEntry, Transaction, utcnow
from ocpp_core.services import audit
from tests.helpers import ADMIN, get_json
from webapp.keys import ENGINE, SERVICES


async def _entries(client: TestClient, action: str) -> list[tuple[str, str]]:
    return [(e.actor, e.target) for e in await client.app[SERVICES].audit.search(action=action)]


async def _registered(client: TestClient) -> set[str]:
    return {cp.id for cp in await client.app[SERVICES].charge_points.list()}


async def test_a_registration_made_is_audited_and_one_refused_is_not(client, portal) -> None:
    admin = await portal("admin")
    status, _ = await admin.post("/charge-points", {"charge_point_id": "GOOD"})
    assert status == 200  # on the charge point's page
    # Refused inside the registration's transaction: a new id must name one path segment.
    status, html = await admin.post("/charge-points", {"charge_point_id": "BAD/ID"})
    assert status == 400 and "no &#39;/&#39;" in html, html[:300]

    assert await _registered(client) == {"GOOD"}
    assert await _entries(client, "register charge point") == [("admin", "GOOD")]


async def test_a_removal_kept_from_a_charge_point_with_sessions_is_not_audited(client) -> None:
    charge_points = client.app[SERVICES].charge_points
    for charge_point_id in ("BUSY", "IDLE"):
        await charge_points.register(charge_point_id)  # no actor: not audited
    async with AsyncSession(client.app[ENGINE]) as session, session.begin():
        await session.execute(
            insert(Transaction).values(
                charge_point_id="BUSY", connector_id=1, start_time=datetime.now(UTC), id_tag="T"
            )
        )

    refused = await client.delete("/api/charge-points/BUSY", headers=ADMIN)
    assert refused.status == 409, await refused.text()
    removed = await client.delete("/api/charge-points/IDLE", headers=ADMIN)
    assert removed.status == 204, await removed.text()

    assert await _registered(client) == {"BUSY"}
    assert await _entries(client, "register charge point") == []
    assert await _entries(client, "remove charge point") == [("admin", "IDLE")]


@pytest.fixture
def unwritable_entries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every audit entry of an actor fails as its transaction commits (NOT NULL action)."""

    def add(session: AsyncSession, actor: str | None, *args: Any, **kwargs: Any) -> None:
        if actor is not None:
            session.add(AuditEntry(at=utcnow(), actor=actor, action=None, target="broken"))

    monkeypatch.setattr(audit, "add", add)


@pytest.mark.usefixtures("unwritable_entries")
async def test_a_change_whose_entry_cannot_be_written_is_not_made(client) -> None:
    made = await client.post("/api/charge-points", json={"id": "LOST"}, headers=ADMIN)
    assert made.status == 500, await made.text()
    users = {u["username"]: u for u in await get_json(client, "/api/users")}
    changed = await client.patch(
        f"/api/users/{users['oper']['id']}", json={"role": "viewer"}, headers=ADMIN
    )
    assert changed.status == 500, await changed.text()

    assert "LOST" not in await _registered(client)
    assert (await client.app[SERVICES].users.get(users["oper"]["id"])).role == "operator"
    assert await client.app[SERVICES].audit.recent() == []


async def test_an_api_change_of_several_settings_is_made_whole_or_not_at_all(
    client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PATCH /api/charge-points/{id} with a status and protocol settings: one transaction.
    The settings' entry failing takes the status change with it."""
    services = client.app[SERVICES]
    await services.charge_points.register("WHOLE")
    written = audit.add

    def add(session: AsyncSession, actor: str | None, action: str, *args: Any) -> None:
        if action == "protocol settings":
            session.add(AuditEntry(at=utcnow(), actor=actor, action=None, target="broken"))
            return
        written(session, actor, action, *args)

    body = {"registration_status": "Rejected", "lenient": True, "pinned_version": "2.0.1"}
    with monkeypatch.context() as patched:
        patched.setattr(audit, "add", add)
        failed = await client.patch("/api/charge-points/WHOLE", json=body, headers=ADMIN)
        assert failed.status == 500, await failed.text()
    kept = await get_json(client, "/api/charge-points/WHOLE")
    assert (kept["registration_status"], kept["lenient"], kept["pinned_version"]) == (
        "Accepted",
        False,
        None,
    )

    changed = await client.patch("/api/charge-points/WHOLE", json=body, headers=ADMIN)
    assert changed.status == 200, await changed.text()
    made = await changed.json()
    assert (made["registration_status"], made["lenient"], made["pinned_version"]) == (
        "Rejected",
        True,
        "2.0.1",
    )
    entries = {(e.action, e.detail) for e in await services.audit.recent() if e.target == "WHOLE"}
    assert entries >= {
        ("reject charge point", None),
        ("protocol settings", "lenient True"),
        ("pin OCPP version", "2.0.1"),
    }
