"""`GET /api/events` over real HTTP with real WebSocket charge points: JSON events with
ids, resumed with Last-Event-ID (what happened meanwhile replayed from the database),
filtered by type, refused without a login or with a bad id."""

from __future__ import annotations

import asyncio

import aiohttp

from tests.helpers import VIEWER, read_json_events
from webapp.keys import SERVICES


async def test_events_resume_with_last_event_id(client, connect) -> None:
    url = client.make_url("/api/events")
    async with aiohttp.ClientSession(headers=VIEWER) as http:
        async with http.get(url) as stream:
            assert stream.status == 200 and stream.content_type == "text/event-stream"
            cp = await connect("API-EV")
            await cp.boot()
            await cp.status(1, "Available")
            got = await read_json_events(stream, 3)
        assert [name for _, name, _ in got] == ["connected", "boot", "status"]
        for event_id, name, data in got:
            assert data["id"] == int(event_id) and data["type"] == name
            assert data["charge_point_id"] == "API-EV" and data["at"].endswith("Z")
        assert got[2][2]["data"]["status"] == "Available"
        last = got[-1][0]

        # Away: what happens now is not lost.
        await cp.status(1, "Preparing")
        transaction_id = await cp.start(id_tag="T1")
        await cp.status(1, "Charging")

        async with http.get(url, headers={"Last-Event-ID": last}) as stream:
            again = await read_json_events(stream, 3)
            assert [name for _, name, _ in again] == ["status", "transaction_started", "status"]
            assert [d["data"].get("status") for _, _, d in again] == ["Preparing", None, "Charging"]
            assert again[1][2]["data"]["transaction_id"] == transaction_id
            assert int(again[0][0]) > int(last)
            # Then live, on the same stream.
            await cp.status(1, "Finishing")
            [(_, name, live)] = await read_json_events(stream, 1)
            assert name == "status" and live["data"]["status"] == "Finishing"

        # Only the types asked for, from the start of what is kept.
        async with http.get(url, params={"types": "transaction_started,fault", "after": "0"}) as s:
            [(_, name, data)] = await read_json_events(s, 1)
            assert name == "transaction_started" and data["data"]["id_tag"] == "T1"


async def test_events_refuse_what_they_cannot_serve(client) -> None:
    assert (await client.get("/api/events")).status == 401
    response = await client.get("/api/events", headers={**VIEWER, "Last-Event-ID": "abc"})
    assert response.status == 400 and "Last-Event-ID" in (await response.json())["error"]
    response = await client.get("/api/events", params={"types": "status,bogus"}, headers=VIEWER)
    assert response.status == 400 and "bogus" in (await response.json())["error"]


async def _next_block(stream: aiohttp.ClientResponse) -> dict[str, str]:
    """The fields of the stream's next block (an event, or an id alone)."""
    fields: dict[str, str] = {}
    async for raw in stream.content:
        line = raw.decode().rstrip("\r\n")
        if line == "" and fields:
            return fields
        if ":" in line and not line.startswith(":"):
            name, _, value = line.partition(":")
            fields[name] = value.removeprefix(" ")
    raise AssertionError("stream ended")


async def test_a_filtered_stream_moves_past_the_other_types(client, connect) -> None:
    """Events of other types are passed over once: the stream's last event id moves past
    them (so a client resuming from it reads none of them again) and so does its reading."""
    services = client.app[SERVICES]
    url = client.make_url("/api/events")
    async with aiohttp.ClientSession(headers=VIEWER) as http:
        async with http.get(url, params={"types": "fault"}) as stream:
            opened = int((await asyncio.wait_for(_next_block(stream), 5))["id"])
            cp = await connect("API-RARE")
            await cp.boot()
            await cp.status(1, "Available")
            status_id = (await services.event_log.after(opened)).events[-1].id
            async with asyncio.timeout(5):
                while (
                    "data" in (block := await _next_block(stream)) or int(block["id"]) < status_id
                ):
                    assert "data" not in block, block  # no event of another type
            moved = int(block["id"])

            await cp.status(2, "Faulted")
            [(event_id, name, data)] = await read_json_events(stream, 1)
            assert name == "fault" and data["data"]["connector_id"] == 2
            assert int(event_id) > moved >= status_id

        # Resumed from where it had moved to: the fault only.
        async with http.get(url, params={"types": "fault,status"}, headers={
            "Last-Event-ID": str(moved)
        }) as again:  # fmt: skip
            got = await read_json_events(again, 2)
            assert [name for _, name, _ in got] == ["status", "fault"]
            assert int(got[0][0]) > moved
