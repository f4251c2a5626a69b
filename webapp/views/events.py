"""`/events`: server-sent events that keep open pages current.

Events are gathered for a moment and each changed charge point is rendered once, with the
same partial template its page uses, under an event name its element listens for
(`sse-swap`):

- the dashboard (`/events?q=&status=&sort=&dir=&page=`, the view's own query): `cp-{id}`
  (a row of its page, the id percent-encoded), `new-charge-point` (a row to append, when
  the view selects it and its page has room: no `cp-` name, which a charge point `new`
  would have), `counters`. These are worked out once per batch for every viewer
  (`webapp/dashboard_feed.py`); each stream only sends its own;
- the other pages: each subscriber has its own bounded queue on the event bus:
  a charge point page (`/events?charge_point=ID`): `detail`, `log` (new log rows),
  `operations`, `status-history` (after a StatusNotification), `status-timeline` (after a
  StatusNotification, a connection or a disconnection: over the period the page's
  `/events?charge_point=ID&period=` names), `remote-start` (a session
  started, for the answer of a remote start that waits for it), and for 2.0.1
  `notifications` (its reports and notifications);
  a device model page (`/events?charge_point=ID&view=device-model`): `device-model`, with
  no content, when a report part arrives: the table asks for itself again, with the
  search typed on the page (which this stream does not know).
"""

from __future__ import annotations

import asyncio
from datetime import datetime

from aiohttp import web
from aiohttp_sse import EventSourceResponse, sse_response

from ocpp_core.errors import NotFound
from ocpp_core.events import Event
from ocpp_core.services.event_log import EVENTS_WRITTEN
from ocpp_core.services.message_log import LoggedMessage
from ocpp_core.services.users import REVOKED
from webapp import dashboard_query
from webapp.auth import require_role
from webapp.dashboard_feed import FLEET_FEED
from webapp.keys import BUS, SERVICES, SSE_STREAMS
from webapp.revocation import revocation
from webapp.views.charge_points import (
    notifications_context,
    operations_context,
    status_history_context,
)
from webapp.views.common import render_partial, rows
from webapp.views.status_timeline import timeline_context

COALESCE_SECONDS = 0.2
# Event kinds that change what the operations part of a charge point page shows.
OPERATIONS_STATE = frozenset(
    {
        "operation",
        "state",
        "firmware_status",
        "diagnostics_status",
        "log_status",
        "signed_firmware_status",
        "security_event",
    }
)
PING_SECONDS = 15
# Event kinds that change nothing the detail part shows (2.0.1 reports have their parts).
NOT_IN_DETAIL = frozenset({"operation", "notification", "device_model"})
# Event kinds that change what the status timeline shows.
IN_TIMELINE = frozenset({"status", "connected", "disconnected"})


async def _gather(queue: asyncio.Queue[Event]) -> list[Event]:
    batch = [await queue.get()]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + COALESCE_SECONDS
    while (remaining := deadline - loop.time()) > 0:
        try:
            batch.append(await asyncio.wait_for(queue.get(), remaining))
        except TimeoutError:
            break
    return batch


async def _dashboard(request: web.Request, response: EventSourceResponse, user_id: int) -> None:
    """The dashboard's stream: what the feed worked out for this view, sent as it comes."""
    query, _ = dashboard_query.parse(request.query)
    async with request.app[FLEET_FEED].watch(user_id, query) as viewer:
        while True:
            await viewer.ready.wait()
            if viewer.revoked:
                return
            pending, new_rows = viewer.take()
            for html in new_rows:
                await response.send(html, event="new-charge-point")
            for name, html in pending:
                await response.send(html, event=name)


async def _charge_point(
    request: web.Request, response: EventSourceResponse, batch: list[Event], charge_point_id: str
) -> None:
    mine = [e for e in batch if e.charge_point_id == charge_point_id]
    messages = [
        LoggedMessage(
            charge_point_id,
            e.data["direction"],
            e.data["message_type"],
            e.data["unique_id"],
            e.data["action"],
            e.data["payload"],
            datetime.fromisoformat(e.data["created_at"]),
        )
        for e in mine
        if e.kind == "message"
    ]
    if messages:
        html = "".join(
            [await render_partial(request, "_log_row.html", {"m": m}) for m in reversed(messages)]
        )
        await response.send(html, event="log")
    for started in (e for e in mine if e.kind == "transaction_started"):
        # The answer of a remote start waits for this (_op_result.html, `follow`).
        html = await render_partial(
            request, "_remote_start_outcome.html", {"started": started.data}
        )
        await response.send(html, event="remote-start")
    kinds = {e.kind for e in mine} - {"message"}
    if not kinds:
        return
    try:
        [row] = await rows(request.app, charge_point_id)
    except NotFound:
        return
    if kinds & (OPERATIONS_STATE | {"device_model"}):
        context = {"row": row, **await operations_context(request.app, charge_point_id)}
        html = await render_partial(request, "_cp_operations.html", context)
        await response.send(html, event="operations")
    if "status" in kinds:
        context = await status_history_context(request.app, charge_point_id, row.version)
        html = await render_partial(request, "_cp_status_history.html", context)
        await response.send(html, event="status-history")
    if kinds & IN_TIMELINE:
        context = {
            "row": row,
            **await timeline_context(request.app, row, request.query.get("period")),
        }
        html = await render_partial(request, "_cp_timeline.html", context)
        await response.send(html, event="status-timeline")
    if "notification" in kinds:
        context = await notifications_context(request.app, charge_point_id)
        html = await render_partial(request, "_cp_notifications.html", context)
        await response.send(html, event="notifications")
    if kinds - NOT_IN_DETAIL:
        sessions = await request.app[SERVICES].transaction_queries.list(
            charge_point_id=charge_point_id, limit=20
        )
        html = await render_partial(request, "_cp_detail.html", {"row": row, "sessions": sessions})
        await response.send(html, event="detail")


async def _device_model(
    response: EventSourceResponse, batch: list[Event], charge_point_id: str
) -> None:
    reported = any(
        e.charge_point_id == charge_point_id
        and e.kind == "notification"
        and e.data.get("action") == "NotifyReport"
        for e in batch
    )
    if reported:
        await response.send("report", event="device-model")


async def events(request: web.Request) -> web.StreamResponse:
    user = await require_role(request, "viewer")
    charge_point_id = request.query.get("charge_point")
    streams = request.app[SSE_STREAMS]
    task = asyncio.current_task()
    assert task is not None
    streams.add(task)
    response = None
    try:
        if not charge_point_id:
            async with sse_response(request, ping_interval=PING_SECONDS) as response:
                await _dashboard(request, response, user.id)
            return response
        async with (
            request.app[BUS].subscribe() as queue,
            sse_response(request, ping_interval=PING_SECONDS) as response,
        ):
            # The queue may drop the revocation under a flood of frames: the listener not.
            with revocation(request.app[BUS], user.id) as revoked:
                await _charge_point_stream(request, response, queue, revoked, user.id)
    except ConnectionResetError:
        pass  # the browser went away
    finally:
        streams.discard(task)
    return response or web.Response(status=204)


async def _charge_point_stream(
    request: web.Request,
    response: EventSourceResponse,
    queue: asyncio.Queue[Event],
    revoked: asyncio.Event,
    user_id: int,
) -> None:
    """A charge point page's stream (or its device model's), until the account is revoked."""
    charge_point_id = request.query["charge_point"]
    device_model = request.query.get("view") == "device-model"
    while True:
        batch = await _gather(queue)
        if revoked.is_set() or any(
            e.kind == REVOKED and e.data["user_id"] == user_id for e in batch
        ):
            # Logged out, new password or role, removed: the stream ends, and the
            # browser's reconnection is authenticated afresh.
            return
        # Not the pages' concern: accounts, and the outbox's readers' wake-up.
        batch = [e for e in batch if e.kind not in (REVOKED, EVENTS_WRITTEN)]
        if not batch:
            continue
        if device_model:
            await _device_model(response, batch, charge_point_id)
        else:
            await _charge_point(request, response, batch, charge_point_id)


async def stop_streams(app: web.Application) -> None:
    """On shutdown: end every event stream, so the server need not wait for browsers. A
    stream caught mid-query is given a moment, never the whole shutdown."""
    streams = app[SSE_STREAMS]
    tasks = list(streams)
    for task in tasks:
        task.cancel()
    if tasks:
        await asyncio.wait(tasks, timeout=3)
