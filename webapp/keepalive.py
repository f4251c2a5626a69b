"""WebSocket keep-alive: a ping every interval; nothing heard within the timeout closes the
link, so a dead charger shows offline within interval + timeout, not minutes later (SteVe
#357, #828). A charger that cannot answer pings gets none (interval 0, HA-ocpp #211).

One task serves every connection, from a heap ordered by when each is next due: a task
(and its timers) per connection would cost memory 10,000 times over. Any frame heard after
the ping counts as an answer, as a pong does: a charger busy sending meter values is alive.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
from collections.abc import Coroutine
from typing import Any

from aiohttp import WSCloseCode, web

from webapp.ws_adapter import WebSocketConnection

LOGGER = logging.getLogger(__name__)


class Watched:
    __slots__ = ("active", "charge_point_id", "connection", "interval", "ping_sent_at", "ws")

    def __init__(
        self,
        charge_point_id: str,
        ws: web.WebSocketResponse,
        connection: WebSocketConnection,
        interval: float,
    ) -> None:
        self.charge_point_id = charge_point_id
        self.ws = ws
        self.connection = connection
        self.interval = interval
        self.ping_sent_at: float | None = None
        self.active = True


class KeepAlive:
    def __init__(self, pong_timeout: float) -> None:
        self._timeout = pong_timeout
        self._due: list[tuple[float, int, Watched]] = []
        self._order = itertools.count()
        self._changed = asyncio.Event()
        self._sending: set[asyncio.Future[Any]] = set()

    def watch(
        self,
        charge_point_id: str,
        ws: web.WebSocketResponse,
        connection: WebSocketConnection,
        interval: float,
    ) -> Watched:
        watched = Watched(charge_point_id, ws, connection, interval)
        self._schedule(asyncio.get_running_loop().time() + interval, watched)
        return watched

    @staticmethod
    def forget(watched: Watched) -> None:
        watched.active = False  # dropped from the heap when it comes up

    def _schedule(self, at: float, watched: Watched) -> None:
        if not self._due or at < self._due[0][0]:
            self._changed.set()  # sooner than the loop is sleeping for
        heapq.heappush(self._due, (at, next(self._order), watched))

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            self._changed.clear()
            wait = self._due[0][0] - loop.time() if self._due else None
            if wait is None or wait > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), wait)
                continue
            _, _, watched = heapq.heappop(self._due)
            if watched.active and not watched.ws.closed:
                self._check(watched, loop.time())

    def _check(self, watched: Watched, now: float) -> None:
        sent = watched.ping_sent_at
        if sent is None:
            watched.ping_sent_at = now
            self._background(watched.ws.ping())
            self._schedule(now + self._timeout, watched)
        elif watched.connection.last_heard >= sent:
            watched.ping_sent_at = None
            self._schedule(max(now, sent + watched.interval), watched)
        else:
            LOGGER.warning(
                "%s: nothing heard within %gs of a ping, closing",
                watched.charge_point_id,
                self._timeout,
            )
            watched.active = False
            self._background(watched.ws.close(code=WSCloseCode.GOING_AWAY, message=b"ping timeout"))

    def _background(self, coroutine: Coroutine[Any, Any, Any]) -> None:
        # Not awaited here: a peer whose buffers are full must not hold up the others.
        task = asyncio.ensure_future(coroutine)
        self._sending.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Future[Any]) -> None:
        self._sending.discard(task)
        if not task.cancelled() and task.exception() is not None:
            LOGGER.debug("keep-alive frame not sent: %r", task.exception())
