"""The `recv()`/`send()` connection the `ocpp` library expects, over an aiohttp WebSocket
(server side `WebSocketResponse` or client side `ClientWebSocketResponse`)."""

from __future__ import annotations

from aiohttp import ClientWebSocketResponse, WSMsgType, web


class ConnectionClosed(Exception):
    """The WebSocket is closed; the protocol loop ends."""


class WebSocketConnection:
    def __init__(self, ws: web.WebSocketResponse | ClientWebSocketResponse) -> None:
        self._ws = ws

    async def recv(self) -> str:
        while True:
            msg = await self._ws.receive()
            if msg.type == WSMsgType.TEXT:
                return msg.data
            if msg.type == WSMsgType.BINARY:
                # OCPP-J uses text frames; a charger that sends binary ones still means JSON.
                return msg.data.decode("utf-8", "replace")
            if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
                raise ConnectionClosed(str(msg.extra or msg.type.name))
            # PING/PONG are answered by aiohttp itself.

    async def send(self, message: str) -> None:
        if self._ws.closed:
            raise ConnectionClosed("socket closed")
        await self._ws.send_str(message)

    async def close(self) -> None:
        await self._ws.close()
