"""A webhook receiver for tests: a real aiohttp server on a local port that checks each
request's signature as a receiver should, and can fail its first N requests."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

from tests.helpers import ADMIN


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes

    @property
    def event(self) -> dict[str, Any]:
        return json.loads(self.body)


@dataclass
class Receiver:
    """Answers 500 to its first `fail_first` requests, then 200 to those whose signature
    is right (401 otherwise)."""

    secret: str = ""
    fail_first: int = 0
    port: int = field(default_factory=free_port)
    requests: list[Received] = field(default_factory=list)
    accepted: list[Received] = field(default_factory=list)
    bad_signatures: int = 0
    server: TestServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/hook", self._handle)
        self.server = TestServer(app, host="127.0.0.1", port=self.port)
        await self.server.start_server()

    async def close(self) -> None:
        if self.server is not None:
            await self.server.close()

    async def _handle(self, request: web.Request) -> web.Response:
        got = Received(dict(request.headers), await request.read())
        self.requests.append(got)
        if len(self.requests) <= self.fail_first:
            return web.Response(status=500, text="not now")
        # What a receiver does: the HMAC of the timestamp, a dot and the exact body,
        # compared in constant time, and a timestamp no older than five minutes.
        timestamp = request.headers.get("X-Voltaro-Timestamp", "")
        signed = timestamp.encode() + b"." + got.body
        expected = "sha256=" + hmac.new(self.secret.encode(), signed, hashlib.sha256).hexdigest()
        fresh = timestamp.isdigit() and abs(time.time() - int(timestamp)) <= 300
        if not fresh or not hmac.compare_digest(
            expected, request.headers.get("X-Voltaro-Signature", "")
        ):
            self.bad_signatures += 1
            return web.Response(status=401, text="bad signature")
        self.accepted.append(got)
        return web.Response(status=204)

    def events(self, kind: str | None = None) -> list[dict[str, Any]]:
        return [r.event for r in self.accepted if kind is None or r.event["type"] == kind]


# The event types the webhook tests register for.
TYPES = ["connected", "status", "fault", "transaction_started", "transaction_stopped"]


async def register(client, url: str, types: list[str] = TYPES) -> dict:
    """A webhook registered through the API by an admin: its JSON, the secret in it."""
    response = await client.post(
        "/api/webhooks", json={"url": url, "event_types": types}, headers=ADMIN
    )
    assert response.status == 201, await response.text()
    return await response.json()
