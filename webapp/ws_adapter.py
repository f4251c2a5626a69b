"""The `recv()`/`send()` connection the `ocpp` library expects, over an aiohttp WebSocket
(server side `WebSocketResponse` or client side `ClientWebSocketResponse`)."""

from __future__ import annotations

import asyncio
import time

from aiohttp import ClientWebSocketResponse, WSMsgType, web


class ConnectionClosed(Exception):
    """The WebSocket is closed; the protocol loop ends."""


class RateLimited(ConnectionClosed):
    """The peer sends faster than it may; the connection is closed."""


class TokenBucket:
    """`rate` messages a second on average, `burst` at once; rate 0 means no limit."""

    __slots__ = ("_last", "_tokens", "burst", "rate")

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = burst
        self._tokens = float(burst)
        self._last = time.monotonic()

    def take(self) -> bool:
        if self.rate <= 0:
            return True
        now = time.monotonic()
        self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
        self._last = now
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True


class WebSocketConnection:
    """With `autoping=False` on the socket, pings are answered here, and when anything
    was last heard (a pong or any frame) is noted, so the keep-alive can tell a dead link
    from a quiet one (see webapp.keepalive). Every frame the peer sends, pings and pongs
    too, takes a token of `limit`."""

    __slots__ = ("_limit", "_loop", "_ws", "last_heard")

    def __init__(
        self,
        ws: web.WebSocketResponse | ClientWebSocketResponse,
        limit: TokenBucket | None = None,
    ) -> None:
        self._ws = ws
        self._limit = limit
        self._loop = asyncio.get_running_loop()
        self.last_heard = self._loop.time()

    async def recv(self) -> str:
        while True:
            msg = await self._ws.receive()
            self.last_heard = self._loop.time()
            if msg.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                if self._limit is not None and not self._limit.take():
                    raise RateLimited("more messages than RATE_LIMIT allows")
                if msg.type == WSMsgType.TEXT:
                    text: str = msg.data
                    return text
                # OCPP-J uses text frames; a charger that sends binary ones still means JSON.
                data: bytes = msg.data
                return data.decode("utf-8", "replace")
            if msg.type in (WSMsgType.PING, WSMsgType.PONG):
                # Control frames count against the same limit: each PING is answered, and
                # a peer flooding either kept this loop busy without limit.
                if self._limit is not None and not self._limit.take():
                    raise RateLimited(f"more {msg.type.name} frames than RATE_LIMIT allows")
                if msg.type == WSMsgType.PING:
                    await self._ws.pong(msg.data)
            elif msg.type in (
                WSMsgType.CLOSE,
                WSMsgType.CLOSING,
                WSMsgType.CLOSED,
                WSMsgType.ERROR,
            ):
                raise ConnectionClosed(str(msg.extra or msg.type.name))

    async def send(self, message: str) -> None:
        if self._ws.closed:
            raise ConnectionClosed("socket closed")
        try:
            await self._ws.send_str(message)
        except ConnectionResetError as error:  # the transport is closing under us
            raise ConnectionClosed(str(error)) from None

    async def close(self) -> None:
        await self._ws.close()
