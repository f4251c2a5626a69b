"""Webhooks and the JSON event stream when things go wrong: a receiver that hangs or
answers with megabytes, a paused webhook, a burst larger than a fan-out batch, a lease that
ran out while its try was still under way, an account revoked under a flood of frames, and
an event id beyond the database's integers."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from sqlalchemy import func, select, update

from ocpp_core.db import outbox
from ocpp_core.db.models import WebhookDelivery, utcnow
from ocpp_core.services.webhooks import FAN_OUT_BATCH, PER_WEBHOOK, Outcome
from ocpp_core.settings import Settings
from tests.helpers import ADMIN, VIEWER, bearer, eventually, read_json_events
from tests.webhook_receiver import Receiver, free_port, register
from webapp.keys import BUS, ENGINE, SERVICES
from webapp.webhook_delivery import POLL_SECONDS


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(
        database_url=database_url,
        secret_key="test-secret-key",
        call_timeout=2,
        webhook_retry_seconds=0.2,
        webhook_max_attempts=2,
        webhook_timeout=1,
    )


class Hanging:
    """A receiver that never answers in time; counts the requests it holds."""

    def __init__(self) -> None:
        self.port = free_port()
        self.holding = 0
        self.most_held = 0
        self.server: TestServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    async def _hang(self, request: web.Request) -> web.Response:
        self.holding += 1
        self.most_held = max(self.most_held, self.holding)
        try:
            await asyncio.sleep(30)
        finally:
            self.holding -= 1
        return web.Response(status=204)

    async def __aenter__(self) -> Hanging:
        app = web.Application()
        app.router.add_post("/hook", self._hang)
        self.server = TestServer(app, host="127.0.0.1", port=self.port)
        await self.server.start_server()
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self.server is not None
        await self.server.close()


async def test_a_hanging_receiver_holds_only_its_share(client, connect) -> None:
    async with Hanging() as hung:
        await register(client, hung.url, ["status"])
        good = Receiver()
        await good.start()
        try:
            hook = await register(client, good.url, ["status"])
            good.secret = hook["secret"]
            cp = await connect("HANG-1")
            await cp.boot()
            for n in range(30):
                await cp.status(1, "Available" if n % 2 else "Preparing")
            await eventually(lambda: len(good.accepted) >= 30, timeout=20)
            # The other webhook's tries waited for none of the hung ones.
            assert 1 <= hung.most_held <= PER_WEBHOOK
        finally:
            await good.close()


async def test_a_paused_webhook_is_not_tried_until_resumed(client, connect) -> None:
    r = Receiver(fail_first=3)
    await r.start()
    try:
        hook = await register(client, r.url, ["status"])
        r.secret = hook["secret"]
        cp = await connect("PAUSE-1")
        await cp.boot()
        await cp.status(1, "Available")
        await eventually(lambda: len(r.requests) >= 1)
        paused = await client.patch(
            f"/api/webhooks/{hook['id']}", json={"active": False}, headers=ADMIN
        )
        assert paused.status == 200
        before = len(r.requests)
        await asyncio.sleep(1.5)  # retries are due every 0.2-0.4 s
        assert len(r.requests) == before
        resumed = await client.patch(
            f"/api/webhooks/{hook['id']}", json={"active": True}, headers=ADMIN
        )
        assert resumed.status == 200
        await eventually(lambda: len(r.requests) > before)
    finally:
        await r.close()


async def test_a_huge_error_answer_is_not_read_whole(client, connect) -> None:
    size, written = 64 * 1024 * 1024, 0

    async def huge(request: web.Request) -> web.StreamResponse:
        nonlocal written
        await request.read()
        response = web.StreamResponse(status=500)
        response.content_length = size
        await response.prepare(request)
        chunk = b"x" * (1024 * 1024)
        try:
            for _ in range(size // len(chunk)):
                await response.write(chunk)
                written += len(chunk)
        except (ConnectionError, RuntimeError):
            pass
        return response

    app = web.Application()
    app.router.add_post("/hook", huge)
    port = free_port()
    server = TestServer(app, host="127.0.0.1", port=port)
    await server.start_server()
    try:
        hook = await register(client, f"http://127.0.0.1:{port}/hook", ["status"])
        cp = await connect("HUGE-1")
        await cp.boot()
        await cp.status(1, "Available")

        async def tried() -> list:
            response = await client.get(f"/api/webhooks/{hook['id']}/deliveries", headers=ADMIN)
            listed = await response.json()
            return listed and listed[0]["attempts"]

        attempts = await eventually(tried, timeout=20)
        assert attempts[0]["status_code"] == 500
        assert attempts[0]["error"].startswith("HTTP 500: xxx")
        assert len(attempts[0]["error"]) <= len("HTTP 500: ") + 300
        assert written < size  # the worker hung up after what it keeps
    finally:
        await server.close()


async def test_a_burst_beyond_a_batch_is_fanned_out_at_once(client) -> None:
    r = Receiver()
    await r.start()
    try:
        hook = await register(client, r.url, ["status"])
        r.secret = hook["secret"]
        services = client.app[SERVICES]
        count = FAN_OUT_BATCH * 2 + 10
        async with services.event_log._sessions.begin() as session:
            for n in range(count):
                outbox.record(session, "status", "BURST", n=n)

        async def made() -> bool:
            async with client.app[ENGINE].connect() as connection:
                return count == await connection.scalar(
                    select(func.count())
                    .select_from(WebhookDelivery)
                    .where(WebhookDelivery.webhook_id == hook["id"])
                )

        # The worker fans out batch after batch in its round, never a batch per poll.
        await eventually(made, timeout=POLL_SECONDS - 1, what="every delivery made")
        await eventually(lambda: r.accepted)
        # Paused: the worker sends no more of them, and the test ends without waiting.
        await client.patch(f"/api/webhooks/{hook['id']}", json={"active": False}, headers=ADMIN)
    finally:
        await r.close()


async def test_a_try_whose_lease_ran_out_does_not_decide_for_the_next(client, connect) -> None:
    webhooks = client.app[SERVICES].webhooks
    async with Hanging() as hung:
        hook = await register(client, hung.url, ["status"])
        cp = await connect("LEASE-1")
        await cp.boot()
        await cp.status(1, "Available")
        await eventually(lambda: hung.holding == 1, what="the first try under way")
        # Its lease runs out while it hangs: another instance claims the delivery.
        async with client.app[ENGINE].begin() as connection:
            await connection.execute(
                update(WebhookDelivery).values(next_attempt_at=utcnow() - timedelta(seconds=1))
            )
        (second,) = await webhooks.claim(1)
        assert second.attempt == 2  # the last one WEBHOOK_MAX_ATTEMPTS allows
        # The first try times out: on its own it would have been the delivery's last.
        await eventually(lambda: hung.holding == 0, what="the first try given up")

        async def states() -> set[str]:
            listed = await webhooks.deliveries(hook["id"])
            return {d.status for d in listed} if len(listed[0].tries) == 1 else set()

        assert await eventually(states) == {"pending"}
        # The second try's answer decides.
        assert await webhooks.settle(second, Outcome(204, None, 0.01)) == "delivered"


async def test_a_revoked_token_ends_its_stream_under_a_flood_of_frames(client, connect) -> None:
    made = await (await client.post("/api/tokens", json={"name": "s"}, headers=VIEWER)).json()
    cp = await connect("REV-1")
    await cp.boot()
    async with aiohttp.ClientSession(headers=bearer(made["token"])) as http:
        async with http.get(client.make_url("/api/events")) as stream:
            assert stream.status == 200
            await client.app[SERVICES].api_tokens.revoke(made["id"])
            # What a busy fleet puts on the bus before the stream next runs: frames.
            for n in range(1500):
                client.app[BUS].publish("message", "REV-1", n=n)
            await cp.status(1, "Faulted", error_code="GroundFailure")
            with pytest.raises(AssertionError, match="ended"):
                await read_json_events(stream, 1, timeout=5)


@pytest.mark.parametrize("position", [str(2**63), "-1", "x"])
async def test_an_event_id_out_of_range_is_a_400(client, position: str) -> None:
    response = await client.get("/api/events", headers={**VIEWER, "Last-Event-ID": position})
    assert response.status == 400
    assert "Last-Event-ID" in (await response.json())["error"]
