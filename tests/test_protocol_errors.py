"""Broken and hostile frames get the CALLERROR OCPP-J 1.6 prescribes; the link survives."""

from __future__ import annotations

import asyncio
import dataclasses
import json

import pytest
from aiohttp import WSMsgType, WSServerHandshakeError, encode_basic_auth

from tests.helpers import ACCOUNTS, ADMIN, disconnected, scrape
from tests.ocpp_client import RawChargePoint
from webapp.app import create_app
from webapp.keys import SERVICES

HEARTBEAT = '[2,"next","Heartbeat",{}]'


async def assert_still_served(cp) -> None:
    """The next valid message on the same connection is answered."""
    await cp.send_raw(HEARTBEAT)
    frame = await cp.receive()
    assert frame[:2] == [3, "next"] and "currentTime" in frame[2]


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        # Broken JSON whose id can still be read.
        ('[2,"bad-json","Heartbeat",{', "FormationViolation"),
        # A CALL with the wrong number of elements, or a payload that is not an object.
        ('[2,"short","Heartbeat"]', "FormationViolation"),
        ('[2,"list-payload","Heartbeat",[]]', "FormationViolation"),
        ('[2,"action-type",42,{}]', "FormationViolation"),
        # Unknown action: NotImplemented (the ocpp library would say NotSupported).
        ('[2,"unknown","FlyToTheMoon",{}]', "NotImplemented"),
        # Known to OCPP 1.6 but sent by the wrong side: recognised, not supported here.
        ('[2,"wrong-side","Reset",{"type":"Hard"}]', "NotSupported"),
        # Schema violations, each with its 1.6 spelling.
        ('[2,"missing","Authorize",{}]', "OccurenceConstraintViolation"),
        ('[2,"type","Authorize",{"idTag":12}]', "TypeConstraintViolation"),
        (
            '[2,"too-long","Authorize",{"idTag":"123456789012345678901"}]',
            "PropertyConstraintViolation",
        ),
        (
            '[2,"enum","StatusNotification",{"connectorId":1,"errorCode":"NoError",'
            '"status":"Sleeping"}]',
            "PropertyConstraintViolation",
        ),
        (
            '[2,"date","StartTransaction",{"connectorId":1,"idTag":"A","meterStart":0,'
            '"timestamp":"yesterday"}]',
            "PropertyConstraintViolation",
        ),
        # ISO 8601, but a minute before year 1 in UTC: was an OverflowError where stored
        # (found by tests/test_fuzz.py).
        (
            '[2,"year-0","MeterValues",{"connectorId":1,"meterValue":[{"timestamp":'
            '"0001-01-01T00:00:00+00:01","sampledValue":[{"value":"1"}]}]}]',
            "PropertyConstraintViolation",
        ),
        ('[2,"extra","Heartbeat",{"surprise":true}]', "FormationViolation"),
        # OCPP 1.6 integers are 32 bits: a bigger one is refused, not an InternalError from
        # the database.
        (
            '[2,"int64","StartTransaction",{"connectorId":1,"idTag":"A",'
            '"meterStart":9223372036854775808,"timestamp":"2026-11-25T08:00:00Z"}]',
            "TypeConstraintViolation",
        ),
        (
            '[2,"int33","StatusNotification",{"connectorId":2147483648,"errorCode":"NoError",'
            '"status":"Available"}]',
            "TypeConstraintViolation",
        ),
    ],
)
async def test_bad_frame_gets_callerror_with_its_id(connect, frame: str, code: str) -> None:
    cp = await connect("CP-ERR")
    await cp.send_raw(frame)
    answer = await cp.receive()
    unique_id = answer[1]
    assert answer[0] == 4, answer
    assert frame.startswith(f'[2,"{unique_id}"')
    assert answer[2] == code, answer
    assert isinstance(answer[3], str) and isinstance(answer[4], dict)
    await assert_still_served(cp)


@pytest.mark.parametrize(
    "frame",
    [
        "this is not json",
        "{}",
        "[]",
        '"just a string"',
        '[9,"x","Heartbeat",{}]',  # not a message type of OCPP-J
        '[2,12,"Heartbeat",{}]',  # id is not a string
        '[3,"no-such-call",{}]',  # answer to nothing we sent
        '[4,"no-such-call","GenericError","",{}]',
    ],
)
async def test_unreadable_frames_are_ignored_and_the_link_survives(connect, frame: str) -> None:
    cp = await connect("CP-IGN")
    await cp.send_raw(frame)
    # Nothing is answered to the broken frame: the next frame back is the heartbeat's.
    await assert_still_served(cp)


async def test_binary_frame_is_read_as_text(connect) -> None:
    cp = await connect("CP-BIN")
    await cp.ws.send_bytes(HEARTBEAT.encode())
    frame = await cp.receive()
    assert frame[:2] == [3, "next"]


async def test_exception_inside_a_handler_is_an_internal_error(
    client, connect, monkeypatch
) -> None:
    cp = await connect("CP-BOOM")

    async def database_down(*_args: object, **_kwargs: object) -> None:
        raise ConnectionError("database unreachable")

    # A valid frame whose service fails (here: the database is gone).
    monkeypatch.setattr(client.app[SERVICES].transactions, "start", database_down)
    answer = await cp.call(
        "StartTransaction",
        {"connectorId": 1, "idTag": "A", "meterStart": 5, "timestamp": "2026-01-01T00:00:00Z"},
        unique_id="boom",
    )
    assert answer[:3] == [4, "boom", "InternalError"]
    await assert_still_served(cp)


async def test_message_id_longer_than_36_characters(connect) -> None:
    cp = await connect("CP-LONG")
    long_id = "x" * 37
    await cp.send_raw(json.dumps([2, long_id, "Heartbeat", {}]))
    answer = await cp.receive()
    assert answer[:3] == [4, long_id, "FormationViolation"]


async def test_subprotocol_is_echoed_only_when_offered(client) -> None:
    # The first one offered that is served: the client's order is its preference.
    ws = await client.ws_connect("/ocpp/CP-P", protocols=("ocpp0.1", "ocpp1.6", "ocpp2.0.1"))
    assert ws.protocol == "ocpp1.6"
    await ws.close()

    # No supported subprotocol: handshake completes without one, then the socket closes.
    ws = await client.ws_connect("/ocpp/CP-P", protocols=("ocpp0.1",))
    assert ws.protocol is None
    msg = await ws.receive(timeout=5)
    assert msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSED)
    await ws.close()

    ws = await client.ws_connect("/ocpp/CP-P")
    assert ws.protocol is None
    msg = await ws.receive(timeout=5)
    assert msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSED)


async def test_plain_http_on_the_ocpp_endpoint_is_a_400(client) -> None:
    response = await client.get("/ocpp/CP1")
    assert response.status == 400


async def test_percent_encoded_id_is_decoded(client, connect) -> None:
    cp = await connect("RDAM%20123")
    await cp.boot()
    response = await client.get("/api/charge-points", headers=ADMIN)
    ids = [c["id"] for c in await response.json()]
    assert ids == ["RDAM 123"]
    response = await client.get("/api/charge-points/RDAM%20123", headers=ADMIN)
    assert (await response.json())["connected"] is True


async def test_second_connection_replaces_the_first(client, connect) -> None:
    first = await connect("CP-TWICE")
    await first.boot()
    second = await connect("CP-TWICE")
    msg = await first.ws.receive(timeout=5)
    assert msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSED)
    # Closing the old socket must not have unregistered the new one (ts-ocpp #19).
    response = await client.get("/api/charge-points/CP-TWICE", headers=ADMIN)
    assert (await response.json())["connected"] is True
    await assert_still_served(second)


async def test_disconnect_is_seen(client, connect) -> None:
    cp = await connect("CP-GONE")
    await cp.boot()
    await cp.ws.close()
    assert (await disconnected(client, "CP-GONE"))["connected"] is False


async def test_charge_point_password_is_checked_before_the_upgrade(client) -> None:
    await client.app[SERVICES].charge_points.register("CP-KEY", password="0123456789abcdef")
    for headers in (
        {},
        {"Authorization": encode_basic_auth("CP-KEY", "wrong")},
        # The user name must be the id in the URL (security profile 1).
        {"Authorization": encode_basic_auth("OTHER", "0123456789abcdef")},
    ):
        with pytest.raises(WSServerHandshakeError) as refused:
            await client.ws_connect("/ocpp/CP-KEY", protocols=("ocpp1.6",), headers=headers)
        assert refused.value.status == 401

    ws = await client.ws_connect(
        "/ocpp/CP-KEY",
        protocols=("ocpp1.6",),
        headers={"Authorization": encode_basic_auth("CP-KEY", "0123456789abcdef")},
    )
    assert ws.protocol == "ocpp1.6"
    await ws.close()


async def test_charge_points_connecting_at_once_are_admitted_together(client, connect) -> None:
    """A reconnect storm: admissions share a transaction. Each charge point let in is noted
    as seen at once (no boot needed), unknown ids connecting at once are each registered,
    one connecting twice at once only once, and one with a key must still send it."""
    services = client.app[SERVICES]
    for n in range(6):
        await services.charge_points.register(f"STORM-{n}")
    await services.charge_points.register("STORM-KEY", password="0123456789abcdef")
    # What the group commit wrote: /metrics counts its transactions and the works in them.
    before = await scrape(client)

    results = await asyncio.gather(
        *(connect(f"STORM-{n}") for n in range(6)),
        connect("STORM-NEW"),
        connect("STORM-NEW"),
        client.ws_connect("/ocpp/STORM-KEY", protocols=("ocpp1.6",)),
        connect("STORM-NEW-2"),
        connect("STORM-NEW-3"),
        connect(
            "STORM-KEY",
            headers={"Authorization": encode_basic_auth("STORM-KEY", "0123456789abcdef")},
        ),
        return_exceptions=True,
    )

    after = await scrape(client)
    transactions, works = (
        after.value(f"voltaro_commit_batch_size_{part}")
        - before.value(f"voltaro_commit_batch_size_{part}")
        for part in ("count", "sum")
    )
    # Twelve admissions (the refused one's too), and the keyed one noted as seen once its
    # key was checked (argon2, outside the transaction).
    assert works == 13, works
    # One by one that would be 13 transactions. Together: the first admission's (it
    # finds the writer idle), one for the others that came meanwhile, the seen one.
    assert transactions <= 3, f"{works:g} works in {transactions:g} transactions"
    refused = results[8]
    assert isinstance(refused, WSServerHandshakeError) and refused.status == 401
    assert all(isinstance(result, RawChargePoint) for i, result in enumerate(results) if i != 8)
    new = ["STORM-NEW", "STORM-NEW-2", "STORM-NEW-3"]
    for charge_point_id in [f"STORM-{n}" for n in range(6)] + ["STORM-KEY", *new]:
        view = await services.charge_points.get(charge_point_id)
        assert view.last_seen_at is not None, charge_point_id
    for charge_point_id in new:
        view = await services.charge_points.get(charge_point_id)
        assert view.registration_status == "Accepted", charge_point_id
    response = await client.get("/api/charge-points/STORM-NEW", headers=ADMIN)
    assert (await response.json())["connected"] is True


@pytest.mark.parametrize("policy", ["accept", "pending", "reject"])
async def test_unknown_charge_points_follow_the_policy(
    settings, aiohttp_client, policy: str
) -> None:
    app = create_app(dataclasses.replace(settings, unknown_charge_points=policy))
    client = await aiohttp_client(app)
    await app[SERVICES].charge_points.register("KNOWN")
    await app[SERVICES].users.add(*ACCOUNTS["admin"], "admin")

    if policy == "reject":
        with pytest.raises(WSServerHandshakeError) as refused:
            await client.ws_connect("/ocpp/STRANGER", protocols=("ocpp1.6",))
        assert refused.value.status == 404
    else:
        ws = await client.ws_connect("/ocpp/STRANGER", protocols=("ocpp1.6",))
        cp = RawChargePoint(ws)
        boot = await cp.boot()
        expected = "Accepted" if policy == "accept" else "Pending"
        assert boot["status"] == expected
        view = await app[SERVICES].charge_points.get("STRANGER")
        assert view.registration_status == expected
        if policy == "pending":
            # Until accepted it may only boot (and heartbeat); nothing else is processed ...
            refused = await cp.call(
                "StatusNotification",
                {"connectorId": 1, "errorCode": "NoError", "status": "Available"},
            )
            assert refused[2] == "SecurityError"
            assert (await cp.call("Heartbeat", {}))[0] == 3
            # ... and no session can be started on it remotely (OCPP 1.6 4.2.1).
            response = await client.post(
                "/api/charge-points/STRANGER/remote-start", json={"id_tag": "T"}, headers=ADMIN
            )
            assert response.status == 409
            assert "Pending" in (await response.json())["error"]
            # An operator accepts it; its next boot is Accepted with the heartbeat interval.
            await app[SERVICES].charge_points.register("STRANGER")
            boot = await cp.boot()
            assert (boot["status"], boot["interval"]) == ("Accepted", settings.heartbeat_interval)
            await cp.status(1, "Available")
        await ws.close()

    # A registered charge point is always let in.
    ws = await client.ws_connect("/ocpp/KNOWN", protocols=("ocpp1.6",))
    assert (await RawChargePoint(ws).boot())["status"] == "Accepted"
    await ws.close()
