"""`GET /api/events`: the events outbox as server-sent events of JSON, for other systems.

Each event is `id: N`, `event: <type>`, `data: {"id", "type", "charge_point_id", "at",
"data"}`. A client that reconnects sends `Last-Event-ID` (browsers' EventSource does it by
itself) and gets every event after that one from the database, those that happened while
it was away included, then the new ones as they are committed, on whichever instance.
Without it the stream starts with the next event (or after `?after=N`). `?types=a,b`
keeps those types only. Ids are the outbox's: they only grow, with gaps. A block of an
`id:` line alone says where the stream stands (at its start, and past events of types not
asked for).
"""

from __future__ import annotations

import asyncio

import orjson
from aiohttp import web
from aiohttp_sse import sse_response

from ocpp_core.errors import InvalidInput
from ocpp_core.events import Event
from ocpp_core.services.event_log import EVENT_KINDS, EVENTS_WRITTEN, event_kinds
from webapp.endpoints import Answer, Call, Endpoint, Parameter
from webapp.keys import BUS, SERVICES, SSE_STREAMS
from webapp.revocation import revocation
from webapp.webhook_delivery import POLL_SECONDS

PING_SECONDS = 15
PAGE = 500
# Event ids are 64-bit integers in the database.
MAX_EVENT_ID = 2**63 - 1


def _position(request: web.Request) -> int | None:
    raw = request.headers.get("Last-Event-ID") or request.query.get("after")
    if raw is None or raw.strip() == "":
        return None
    try:
        position = int(raw.strip())
    except ValueError:
        raise InvalidInput(f"Last-Event-ID (or after) must be an event id, got {raw!r}") from None
    if not 0 <= position <= MAX_EVENT_ID:
        raise InvalidInput(f"Last-Event-ID (or after) must be from 0 to {MAX_EVENT_ID}")
    return position


async def api_events(request: web.Request, call: Call) -> web.StreamResponse:
    user = call.user
    raw_types = request.query.get("types")
    kinds = event_kinds(raw_types) if raw_types is not None else None
    events = request.app[SERVICES].event_log
    position = _position(request)
    if position is None:
        position = await events.latest_id()
    streams = request.app[SSE_STREAMS]
    task = asyncio.current_task()
    assert task is not None
    streams.add(task)
    response = None
    news = asyncio.Event()
    bus = request.app[BUS]

    def heard(_event: Event) -> None:
        news.set()

    # Listening before the first read: nothing committed after it goes unheard.
    bus.add_listener(EVENTS_WRITTEN, heard)
    try:
        with revocation(bus, user.id) as revoked:
            async with sse_response(request, ping_interval=PING_SECONDS) as response:
                # The position as the stream's last event id, before any event: a client
                # that goes before its first event resumes from here, missing nothing.
                await response.write(f"id: {position}\n\n".encode())
                while not revoked.is_set():
                    news.clear()
                    page = await events.after(position, kinds, PAGE)
                    for event in page.events:
                        if revoked.is_set():
                            break
                        data = orjson.dumps(event.as_json()).decode()
                        await response.send(data, id=str(event.id), event=event.kind)
                        position = event.id
                    if revoked.is_set():
                        break
                    if page.resume_after > position:
                        # Past events of other types: the stream's last event id moves on
                        # too, so a client that resumes does not read them again either.
                        position = page.resume_after
                        await response.write(f"id: {position}\n\n".encode())
                    if page.full:
                        continue
                    # News (a commit that wrote events, here or elsewhere), the account
                    # revoked, or POLL_SECONDS.
                    waits = [asyncio.ensure_future(e.wait()) for e in (news, revoked)]
                    try:
                        await asyncio.wait(
                            waits, timeout=POLL_SECONDS, return_when=asyncio.FIRST_COMPLETED
                        )
                    finally:
                        for waiting in waits:
                            waiting.cancel()
    except ConnectionResetError:
        pass  # the client went away
    finally:
        bus.remove_listener(EVENTS_WRITTEN, heard)
        streams.discard(task)
    return response or web.Response(status=204)


ENDPOINTS = [
    Endpoint(
        "GET",
        "/api/events",
        api_events,
        "viewer",
        "The events (" + ", ".join(EVENT_KINDS) + ") as a server-sent stream of JSON",
        Answer(
            200,
            "an endless stream: `id: N`, `event: <type>`, `data: {id, type, charge_point_id, "
            "at, data}` each",
            {"type": "string"},
            media_type="text/event-stream",
        ),
        query=(
            Parameter("types", {"type": "string"}, "comma-separated event types to keep"),
            Parameter(
                "after",
                {"type": "integer", "minimum": 0, "maximum": MAX_EVENT_ID},
                "start after this event id (a `Last-Event-ID` header does the same)",
            ),
        ),
        description="Resumable: a client that reconnects with `Last-Event-ID` gets every event "
        "after that one from the database, then the new ones as they are committed. A block "
        "with only an `id:` line carries no event: it is where the stream stands.",
        tag="events",
    ),
]
