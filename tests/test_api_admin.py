"""The portal's administration through the JSON API (webapp/api_admin.py), over real HTTP on
both databases: charge points registered, accepted or rejected, their key and protocol
settings; accounts; the audit log. Each change is checked where it takes effect (a
charger's next BootNotification or connection, an account's Basic auth) and in the log."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp import WSServerHandshakeError, encode_basic_auth
from aiohttp.test_utils import TestClient

from tests.helpers import ADMIN, OPERATOR, VIEWER, basic, get_json, iso
from webapp.keys import SERVICES

KEY = "0123456789abcdef"


async def call(
    client: TestClient, method: str, path: str, body: Any = None, headers: dict = ADMIN
) -> tuple[int, Any]:
    """A request with a JSON body (or none); (status, JSON answer or None)."""
    response = await client.request(method, path, json=body, headers=headers)
    text = await response.text()
    return response.status, (await response.json()) if text else None


async def audit(client: TestClient, **query: str) -> list[dict[str, Any]]:
    path = "/api/audit?" + "&".join(f"{k}={v}" for k, v in query.items())
    return await get_json(client, path)


# --- charge points ----------------------------------------------------------------------


async def test_registering_a_charge_point(client) -> None:
    status, made = await call(client, "POST", "/api/charge-points", {"id": "NEW-1"})
    assert status == 201
    assert made == await get_json(client, "/api/charge-points/NEW-1")
    assert made["registration_status"] == "Accepted" and made["has_password"] is False
    assert "password" not in made

    status, answer = await call(client, "POST", "/api/charge-points", {"id": "NEW-1"})
    assert status == 409 and "registered already" in answer["error"]

    status, made = await call(
        client, "POST", "/api/charge-points", {"id": "NEW-2", "password": KEY}
    )
    assert status == 201 and made["has_password"] is True

    for body, said in [
        ({"id": "a/b"}, "id must be"),
        ({"id": "a:b"}, "id must be"),
        ({"id": ".."}, "id must be"),
        ({"id": ""}, "id must be"),
        ({"id": "x" * 49}, "id must be"),
        ({"id": 7}, "id must be a string"),
        ({}, "missing field(s): id"),
        ({"id": "NEW-3", "colour": "red"}, "unknown field(s): colour"),
        ({"id": "NEW-3", "password": "short"}, "password"),
    ]:
        status, answer = await call(client, "POST", "/api/charge-points", body)
        assert status == 400 and said in answer["error"], (body, answer)
    for headers in (OPERATOR, VIEWER):
        status, _ = await call(client, "POST", "/api/charge-points", {"id": "NEW-4"}, headers)
        assert status == 403
    listed = {cp["id"] for cp in await get_json(client, "/api/charge-points")}
    assert listed == {"NEW-1", "NEW-2"}

    logged = await audit(client, action="register charge point")
    assert [(e["user"], e["target"]) for e in logged] == [("admin", "NEW-2"), ("admin", "NEW-1")]


async def test_a_pending_charger_accepted_through_the_api_is_accepted_at_its_next_boot(
    client, connect
) -> None:
    await client.app[SERVICES].charge_points.register("PEND", status="Pending")
    cp = await connect("PEND")
    assert (await cp.boot())["status"] == "Pending"

    body = {"registration_status": "Accepted"}
    for headers in (OPERATOR, VIEWER):
        status, _ = await call(client, "PATCH", "/api/charge-points/PEND", body, headers)
        assert status == 403
    status, shown = await call(client, "PATCH", "/api/charge-points/PEND", body)
    assert status == 200 and shown["registration_status"] == "Accepted"
    assert shown == await get_json(client, "/api/charge-points/PEND")
    assert (await cp.boot())["status"] == "Accepted"

    status, shown = await call(
        client, "PATCH", "/api/charge-points/PEND", {"registration_status": "Rejected"}
    )
    assert status == 200 and shown["registration_status"] == "Rejected"
    assert (await cp.boot())["status"] == "Rejected"

    logged = await audit(client, user="admin")
    assert [(e["action"], e["target"]) for e in logged] == [
        ("reject charge point", "PEND"),
        ("accept charge point", "PEND"),
    ]


async def test_protocol_settings_and_the_pinned_version(client) -> None:
    await call(client, "POST", "/api/charge-points", {"id": "CP-S"})
    status, shown = await call(
        client, "PATCH", "/api/charge-points/CP-S", {"lenient": True, "ping_interval": 30}
    )
    assert status == 200
    assert (shown["lenient"], shown["ping_interval"], shown["pinned_version"]) == (True, 30, None)
    status, shown = await call(
        client,
        "PATCH",
        "/api/charge-points/CP-S",
        {"ping_interval": None, "pinned_version": "2.0.1"},
    )
    assert status == 200
    assert (shown["lenient"], shown["ping_interval"], shown["pinned_version"]) == (
        True,
        None,
        "2.0.1",
    )
    view = await client.app[SERVICES].charge_points.get("CP-S")
    assert (view.lenient, view.ping_interval, view.pinned_ocpp_version) == (True, None, "2.0.1")
    status, shown = await call(client, "PATCH", "/api/charge-points/CP-S", {"pinned_version": None})
    assert status == 200 and shown["pinned_version"] is None

    for body, said in [
        ({}, "give at least one of"),
        ({"ping_interval": -1}, "ping_interval"),
        ({"ping_interval": 86_401}, "ping_interval"),
        ({"ping_interval": "30"}, "ping_interval must be an integer or null"),
        ({"lenient": "yes"}, "lenient must be true or false"),
        ({"pinned_version": "1.5"}, "pinned_version must be one of 1.6, 2.0.1, None"),
        ({"registration_status": "Pending"}, "registration_status must be one of"),
        ({"colour": "red"}, "unknown field(s): colour"),
    ]:
        status, answer = await call(client, "PATCH", "/api/charge-points/CP-S", body)
        assert status == 400 and said in answer["error"], (body, answer)
    unchanged = await client.app[SERVICES].charge_points.get("CP-S")
    assert (unchanged.lenient, unchanged.ping_interval) == (True, None)

    status, answer = await call(client, "PATCH", "/api/charge-points/NOPE", {"lenient": True})
    assert status == 404 and "NOPE" in answer["error"]

    logged = await audit(client, action="protocol settings")
    assert [e["detail"] for e in logged] == ["pings global", "lenient True, pings 30 s"]
    pins = await audit(client, action="pin OCPP version")
    assert [e["detail"] for e in pins] == ["any", "2.0.1"]


async def test_a_key_set_through_the_api_is_then_required_to_connect(client) -> None:
    await call(client, "POST", "/api/charge-points", {"id": "CP-K"})
    for headers in (OPERATOR, VIEWER):
        status, _ = await call(
            client, "PUT", "/api/charge-points/CP-K/password", {"password": KEY}, headers
        )
        assert status == 403
    status, answer = await call(
        client, "PUT", "/api/charge-points/CP-K/password", {"password": KEY}
    )
    assert status == 204 and answer is None
    shown = await get_json(client, "/api/charge-points/CP-K")
    assert shown["has_password"] is True and KEY not in str(shown)

    with pytest.raises(WSServerHandshakeError) as refused:
        await client.ws_connect("/ocpp/CP-K", protocols=("ocpp1.6",))
    assert refused.value.status == 401
    ws = await client.ws_connect(
        "/ocpp/CP-K",
        protocols=("ocpp1.6",),
        headers={"Authorization": encode_basic_auth("CP-K", KEY)},
    )
    assert ws.protocol == "ocpp1.6"
    await ws.close()

    status, _ = await call(client, "PUT", "/api/charge-points/CP-K/password", {"password": None})
    assert status == 204
    ws = await client.ws_connect("/ocpp/CP-K", protocols=("ocpp1.6",))
    assert ws.protocol == "ocpp1.6"
    await ws.close()

    for body, said in [
        ({"password": "too-short"}, "password must be 16 to 40 characters"),
        ({"password": 5}, "password must be a string or null"),
        ({}, "missing field(s): password"),
    ]:
        status, answer = await call(client, "PUT", "/api/charge-points/CP-K/password", body)
        assert status == 400 and said in answer["error"], (body, answer)
    status, answer = await call(
        client, "PUT", "/api/charge-points/NOPE/password", {"password": KEY}
    )
    assert status == 404 and "NOPE" in answer["error"]

    logged = await audit(client, user="admin")
    assert [e["action"] for e in logged][:2] == ["clear key", "set key"]
    assert all(KEY not in str(e) for e in logged)


# --- users ------------------------------------------------------------------------------


async def test_accounts_listed_added_and_used(client) -> None:
    listed = await get_json(client, "/api/users")
    assert [(u["username"], u["role"]) for u in listed] == [
        ("admin", "admin"),
        ("oper", "operator"),
        ("view", "viewer"),
    ]
    assert all(set(u) == {"id", "username", "role"} for u in listed)

    new = {"username": "carol", "password": "carol-password", "role": "viewer"}
    status, made = await call(client, "POST", "/api/users", new)
    assert status == 201 and made == {"id": made["id"], "username": "carol", "role": "viewer"}
    carol = basic("carol", "carol-password")
    assert (await client.get("/api/charge-points", headers=carol)).status == 200
    refused = await client.post("/api/id-tags", json={"id_tag": "T1"}, headers=carol)
    assert refused.status == 403

    status, answer = await call(client, "POST", "/api/users", {**new, "password": "other"})
    assert status == 409 and "exists" in answer["error"]
    assert (await client.get("/api/charge-points", headers=carol)).status == 200

    for body, said in [
        ({**new, "username": "a:b"}, "username must be"),
        ({**new, "username": ""}, "username must be 1 to 64 characters"),
        ({**new, "role": "owner"}, "role must be one of"),
        ({**new, "password": ""}, "password must be"),
        ({"username": "dave"}, "missing field(s): password, role"),
    ]:
        status, answer = await call(client, "POST", "/api/users", body)
        assert status == 400 and said in answer["error"], (body, answer)
    for headers in (OPERATOR, VIEWER):
        assert (await client.get("/api/users", headers=headers)).status == 403
        status, _ = await call(client, "POST", "/api/users", {**new, "username": "eve"}, headers)
        assert status == 403
    assert {u["username"] for u in await get_json(client, "/api/users")} == {
        "admin",
        "oper",
        "view",
        "carol",
    }
    logged = await audit(client, action="add user")
    assert [(e["user"], e["target"], e["detail"]) for e in logged] == [
        ("admin", "carol", "role viewer")
    ]


async def test_an_account_changed_and_removed(client) -> None:
    status, made = await call(
        client,
        "POST",
        "/api/users",
        {"username": "dan", "password": "dan-password", "role": "viewer"},
    )
    assert status == 201
    path = f"/api/users/{made['id']}"
    status, changed = await call(client, "PATCH", path, {"role": "operator"})
    assert status == 200 and changed["role"] == "operator"
    added = await client.post(
        "/api/id-tags", json={"id_tag": "DAN"}, headers=basic("dan", "dan-password")
    )
    assert added.status == 201

    status, changed = await call(client, "PATCH", path, {"password": "dan-new-password"})
    assert status == 200 and set(changed) == {"id", "username", "role"}
    assert (
        await client.get("/api/charge-points", headers=basic("dan", "dan-password"))
    ).status == 401
    dan = basic("dan", "dan-new-password")
    assert (await client.get("/api/charge-points", headers=dan)).status == 200

    for body, said in [
        ({}, "give at least one of"),
        ({"role": "owner"}, "role must be one of"),
        ({"password": ""}, "password must be"),
        ({"name": "x"}, "unknown field(s): name"),
    ]:
        status, answer = await call(client, "PATCH", path, body)
        assert status == 400 and said in answer["error"], (body, answer)
    for headers in (OPERATOR, VIEWER):
        status, _ = await call(client, "PATCH", path, {"role": "admin"}, headers)
        assert status == 403
        status, _ = await call(client, "DELETE", path, None, headers)
        assert status == 403
    for missing in ("999999", "abc", "99999999999"):
        status, answer = await call(client, "PATCH", f"/api/users/{missing}", {"role": "viewer"})
        assert status == 404 and missing in answer["error"]
        status, answer = await call(client, "DELETE", f"/api/users/{missing}")
        assert status == 404 and missing in answer["error"]

    me = next(u for u in await get_json(client, "/api/users") if u["username"] == "admin")
    status, answer = await call(client, "DELETE", f"/api/users/{me['id']}")
    assert status == 409 and "yourself" in answer["error"]
    status, answer = await call(client, "PATCH", f"/api/users/{me['id']}", {"role": "viewer"})
    assert status == 409 and "last admin" in answer["error"]
    assert (await get_json(client, "/api/users"))[0]["role"] == "admin"

    status, answer = await call(client, "DELETE", path)
    assert status == 204 and answer is None
    assert (await client.get("/api/charge-points", headers=dan)).status == 401
    status, _ = await call(client, "DELETE", path)
    assert status == 404

    logged = await audit(client, user="admin")
    assert [(e["action"], e["target"], e["detail"]) for e in logged][:4] == [
        ("remove user", "dan", None),
        ("reset password", "dan", None),
        ("change role", "dan", "to operator"),
        ("add user", "dan", "role viewer"),
    ]


# --- the audit log ----------------------------------------------------------------------


async def test_the_audit_log_filtered_and_paged(client) -> None:
    services = client.app[SERVICES]
    for n in range(5):
        await services.audit.record("alice", "add id tag", f"TAG{n}")
    await asyncio.sleep(0.01)
    middle = iso(datetime.now(UTC))
    await asyncio.sleep(0.01)
    await services.audit.record("bob", "remove user", "carol")

    everything = await get_json(client, "/api/audit")
    assert [e["target"] for e in everything] == ["carol", "TAG4", "TAG3", "TAG2", "TAG1", "TAG0"]
    assert [e["id"] for e in everything] == sorted((e["id"] for e in everything), reverse=True)
    assert set(everything[0]) == {"id", "at", "user", "action", "target", "detail"}
    assert [e["user"] for e in await audit(client, user="bob")] == ["bob"]
    assert len(await audit(client, action="add%20id%20tag")) == 5
    assert await audit(client, user="alice", action="remove%20user") == []

    # Pages of two, each with the next one's address until the last.
    pages, path = [], "/api/audit?user=alice&limit=2"
    while path:
        response = await client.get(path, headers=ADMIN)
        assert response.status == 200
        pages.append([e["target"] for e in await response.json()])
        link = response.headers.get("Link")
        path = link and link.split(">", 1)[0].removeprefix("<")
        if link:
            assert link.endswith('; rel="next"') and "user=alice" in path and "after=" in path
    assert pages == [["TAG4", "TAG3"], ["TAG2", "TAG1"], ["TAG0"]]
    exact = await client.get("/api/audit?limit=6", headers=ADMIN)
    assert "Link" not in exact.headers and len(await exact.json()) == 6
    before = everything[1]["id"]
    assert [e["target"] for e in await audit(client, before=str(before))] == [
        "TAG3",
        "TAG2",
        "TAG1",
        "TAG0",
    ]

    assert [e["target"] for e in await audit(client, since=middle)] == ["carol"]
    assert len(await audit(client, until=middle)) == 5
    assert await audit(client, since="2999-01-01T00:00:00Z") == []
    assert len(await audit(client, until="2999-01-01T00:00:00%2B02:00")) == 6

    for query, said in [
        ("limit=0", "limit must be a whole number from 1 to 10000"),
        ("limit=10001", "limit must be a whole number from 1 to 10000"),
        ("before=x", "before must be a whole number"),
        ("after=x", "after must be a whole number"),
        ("since=yesterday", "since must be an RFC 3339 date-time"),
        ("until=2026-13-01", "until must be an RFC 3339 date-time"),
        ("since=", "since must"),
    ]:
        response = await client.get(f"/api/audit?{query}", headers=ADMIN)
        assert response.status == 400 and said in (await response.json())["error"], query
    for headers in (OPERATOR, VIEWER):
        assert (await client.get("/api/audit", headers=headers)).status == 403
    assert (await client.get("/api/audit")).status == 401


# --- made at the same moment -------------------------------------------------------------


async def test_the_same_charge_point_or_user_created_at_once_is_made_once(client) -> None:
    """Requests racing to create one charge point (with different keys) or one account
    (with different passwords): exactly one is created, as it asked; the others are told
    409, and none replaced what the first made."""
    keys = [f"{KEY}{n:02d}" for n in range(6)]
    answers = await asyncio.gather(
        *(
            call(client, "POST", "/api/charge-points", {"id": "RACED", "password": key})
            for key in keys
        )
    )
    assert sorted(status for status, _ in answers) == [201] + [409] * 5, answers
    [winner] = [key for key, (status, _) in zip(keys, answers, strict=True) if status == 201]
    loser = next(key for key in keys if key != winner)
    with pytest.raises(WSServerHandshakeError):
        await client.ws_connect(
            "/ocpp/RACED",
            protocols=("ocpp1.6",),
            headers={"Authorization": encode_basic_auth("RACED", loser)},
        )
    ws = await client.ws_connect(
        "/ocpp/RACED",
        protocols=("ocpp1.6",),
        headers={"Authorization": encode_basic_auth("RACED", winner)},
    )
    await ws.close()
    registered = await audit(client, action="register charge point")
    assert [e["target"] for e in registered] == ["RACED"]

    passwords = [f"password-{n}" for n in range(6)]
    answers = await asyncio.gather(
        *(
            call(
                client, "POST", "/api/users", {"username": "dana", "password": p, "role": "viewer"}
            )
            for p in passwords
        )
    )
    assert sorted(status for status, _ in answers) == [201] + [409] * 5, answers
    [winner] = [p for p, (status, _) in zip(passwords, answers, strict=True) if status == 201]
    assert (await client.get("/api/charge-points", headers=basic("dana", winner))).status == 200
    loser = next(p for p in passwords if p != winner)
    assert (await client.get("/api/charge-points", headers=basic("dana", loser))).status == 401
