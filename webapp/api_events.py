"""`GET /api/events`: the events outbox as server-sent events of JSON, for other systems.

Each event is `id: N`, `event: <type>`, `data: {"id", "type", "charge_point_id", "at",
"data"}`. A client that reconnects sends `Last-Event-ID` (browsers' EventSource does it by
itself) and gets every event after that one from the database, those that happened while
it was away included, then the new ones as they are committed, on whichever instance.
Without it the stream starts with the next event (or after `?after=N`). `?types=a,b`
keeps those types only. Ids are the outbox's: they only grow, with gaps.
"""

from __future__ import annotations

import asyncio

import orjson
from aiohttp import web
from aiohttp_sse import sse_response

from ocpp_core.errors import InvalidInput
from ocpp_core.events import Event
from ocpp_core.services.event_log import EVENT_KINDS, EVENTS_WRITTEN, event_kinds
from ocpp_core.services.users import REVOKED
from webapp.endpoints import Answer, Call, Endpoint, Parameter
from webapp.keys import BUS, SERVICES, SSE_STREAMS
from webapp.webhook_delivery import POLL_SECONDS

PING_SECONDS = 15
PAGE = 500


def _position(request: web.Request) -> int | None:
    raw = request.headers.get("Last-Event-ID") or request.query.get("after")
    if raw is None or raw.strip() == "":
        return None
    try:
        position = int(raw.strip())
    except ValueError:
        raise InvalidInput(f"Last-Event-ID (or after) must be an event id, got {raw!r}") from None
    if position < 0:
        raise InvalidInput("Last-Event-ID (or after) must not be negative")
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
    try:
        # Subscribed before the first read: nothing committed after it goes unheard.
        async with (
            request.app[BUS].subscribe() as queue,
            sse_response(request, ping_interval=PING_SECONDS) as response,
        ):
            while True:
                page = await events.after(position, kinds, PAGE)
                for event in page:
                    data = orjson.dumps(event.as_json()).decode()
                    await response.send(data, id=str(event.id), event=event.kind)
                    position = event.id
                if len(page) == PAGE:
                    continue
                if await _revoked_while_waiting(queue, user.id):
                    break
    except ConnectionResetError:
        pass  # the client went away
    finally:
        streams.discard(task)
    return response or web.Response(status=204)


async def _revoked_while_waiting(queue: asyncio.Queue[Event], user_id: int) -> bool:
    """Wait for news (a commit that wrote events, here or elsewhere) or POLL_SECONDS;
    True if meanwhile the account's access was revoked (the stream ends then). The bus's
    other events (every frame of the message log among them) are passed over."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + POLL_SECONDS
    while (remaining := deadline - loop.time()) > 0:
        try:
            event = await asyncio.wait_for(queue.get(), remaining)
        except TimeoutError:
            return False
        if event.kind == REVOKED and event.data["user_id"] == user_id:
            return True
        if event.kind == EVENTS_WRITTEN:
            return False
    return False


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
                {"type": "integer", "minimum": 0},
                "start after this event id (a `Last-Event-ID` header does the same)",
            ),
        ),
        description="Resumable: a client that reconnects with `Last-Event-ID` gets every event "
        "after that one from the database, then the new ones as they are committed.",
        tag="events",
    ),
]
