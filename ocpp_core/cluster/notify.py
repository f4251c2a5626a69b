"""PostgreSQL LISTEN/NOTIFY over one dedicated asyncpg connection.

NOTIFY is delivered at commit to every session listening on the channel, in order, and
costs no table. Its payload is limited to 8000 bytes: bigger messages are kept in the
`cluster_messages` table and only their id is notified. A lost connection is reopened (with
back-off) and `on_reconnect` tells the owner that messages may have been missed meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import asyncpg

LOGGER = logging.getLogger(__name__)

# PostgreSQL refuses payloads of 8000 bytes or more; leave room for the envelope.
MAX_PAYLOAD_BYTES = 7900

OnMessage = Callable[[str, str], None]


class NotifyTransport:
    def __init__(
        self,
        connect_kwargs: Mapping[str, Any],
        channels: list[str],
        on_message: OnMessage,
        on_reconnect: Callable[[], Awaitable[None]],
    ) -> None:
        self._connect_kwargs = connect_kwargs
        self._channels = channels
        self._on_message = on_message
        self._on_reconnect = on_reconnect
        self._connection: asyncpg.Connection | None = None
        # asyncpg runs one query at a time per connection.
        self._lock = asyncio.Lock()
        self._reconnecting: asyncio.Task[None] | None = None
        self._closed = False

    async def open(self) -> None:
        self._connection = await self._connect()

    @property
    def connected(self) -> bool:
        return self._connection is not None and not self._connection.is_closed()

    async def _connect(self) -> asyncpg.Connection:
        # The keywords are SQLAlchemy's for the engine's URL: no overload of the stubs to pick.
        connection: asyncpg.Connection = await asyncpg.connect(**self._connect_kwargs, timeout=10)
        for channel in self._channels:
            # asyncpg-stubs types a notification's payload as object; asyncpg passes its str.
            await connection.add_listener(channel, self._received)  # type: ignore[arg-type]
        connection.add_termination_listener(self._terminated)
        return connection

    def _received(self, _connection: object, _pid: int, channel: str, payload: str) -> None:
        try:
            self._on_message(channel, payload)
        except Exception:
            LOGGER.exception("could not handle a message on %s", channel)

    def _terminated(self, _connection: object) -> None:
        if self._closed or self._reconnecting is not None:
            return
        LOGGER.warning("LISTEN connection to PostgreSQL lost; reconnecting")
        self._connection = None
        self._reconnecting = asyncio.get_running_loop().create_task(self._reconnect())

    async def _reconnect(self) -> None:
        delay = 0.5
        try:
            while not self._closed:
                try:
                    self._connection = await self._connect()
                except (OSError, asyncpg.PostgresError, TimeoutError) as error:
                    LOGGER.warning("LISTEN reconnect failed (%s); retrying in %.1f s", error, delay)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 10)
                    continue
                LOGGER.info("LISTEN connection to PostgreSQL restored")
                break
        finally:
            self._reconnecting = None
        if not self._closed:
            await self._on_reconnect()

    async def notify(self, channel: str, payloads: list[str]) -> bool:
        """NOTIFY each payload on `channel`, in order, in one round trip. False (and the
        payloads lost) while the connection is down: the callers resynchronise then."""
        if not payloads:
            return True
        async with self._lock:
            connection = self._connection
            if connection is None or connection.is_closed():
                return False
            try:
                await connection.execute(
                    "SELECT pg_notify($1, p) FROM unnest($2::text[]) WITH ORDINALITY AS t(p, n) "
                    "ORDER BY n",
                    channel,
                    payloads,
                )
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
                LOGGER.warning("NOTIFY on %s failed: %s", channel, error)
                return False
        return True

    async def close(self) -> None:
        self._closed = True
        if self._reconnecting is not None:
            self._reconnecting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reconnecting
        async with self._lock:
            if self._connection is not None and not self._connection.is_closed():
                with contextlib.suppress(OSError, asyncpg.PostgresError, TimeoutError):
                    await asyncio.wait_for(self._connection.close(), 5)
            self._connection = None
