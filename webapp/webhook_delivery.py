"""The webhook delivery worker: sends the outbox's events to the registered URLs.

Every instance runs one. A round fans the new events out to deliveries, leases those due
(`WebhookService.claim`: on PostgreSQL with SKIP LOCKED, so each is sent by one instance)
and POSTs each with aiohttp's client, CONCURRENCY at a time and at most PER_WEBHOOK of one
webhook (a receiver that hangs slows only its own); then it waits for the next commit
that wrote events (here or on another instance, told on the bus), for the soonest retry,
or `POLL_SECONDS`, whichever comes first.

Each request carries the event as JSON and, for the receiver to check:
`X-Voltaro-Signature: sha256=<hex>`, the HMAC-SHA256 with the webhook's secret of the
`X-Voltaro-Timestamp` value, a `.` and the exact body (a receiver refuses an old timestamp,
so a captured request cannot be replayed later); `X-Voltaro-Event-Id` (the same event is
sent again after a failed try: the receiver may see it twice); `X-Voltaro-Event-Type`;
`X-Voltaro-Timestamp`, when this try was sent (Unix seconds); `X-Voltaro-Delivery-Attempt`,
this try's number.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import hashlib
import hmac
import logging
import time

import aiohttp
import orjson

from ocpp_core.db.models import utcnow
from ocpp_core.events import Event, EventBus
from ocpp_core.services.event_log import EVENTS_WRITTEN
from ocpp_core.services.webhooks import DELIVERED, FAILED, Claimed, Outcome, WebhookService

LOGGER = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Voltaro-Signature"
EVENT_ID_HEADER = "X-Voltaro-Event-Id"
EVENT_TYPE_HEADER = "X-Voltaro-Event-Type"
TIMESTAMP_HEADER = "X-Voltaro-Timestamp"
ATTEMPT_HEADER = "X-Voltaro-Delivery-Attempt"
# Without news on the bus (a NOTIFY lost while the LISTEN connection was down, another
# process's commit), the worker looks this often all the same.
POLL_SECONDS = 5.0
# Requests under way at once.
CONCURRENCY = 10
# News (a commit that wrote events) starts a round no sooner than this after the last:
# a round is a few queries, and at hundreds of messages a second nearly every commit
# writes an event; so they share rounds, at the cost of a delivery's fraction of a second.
NEWS_GAP = 0.2
# What is kept of a receiver's answer that was not a 2xx, or of an error.
MAX_ERROR = 300


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The signature header's value: the HMAC of the timestamp header's value, a dot and
    the body, so that a captured request cannot be sent again as a fresh one."""
    signed = timestamp.encode() + b"." + body
    return "sha256=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def _body(claimed: Claimed) -> bytes:
    return orjson.dumps(claimed.event.as_json())


class DeliveryWorker:
    def __init__(self, webhooks: WebhookService, bus: EventBus, timeout: float) -> None:
        self._webhooks = webhooks
        self._timeout = timeout
        self._news = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._http: aiohttp.ClientSession | None = None
        bus.add_listener(EVENTS_WRITTEN, self._heard)

    def _heard(self, _event: Event) -> None:
        self._news.set()

    def start(self) -> None:
        self._http = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self._timeout),
            headers={"User-Agent": "Voltaro-Webhooks"},
        )
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        """Stop after the round under way (a query cancelled half-way leaves an asyncpg
        connection unusable), waiting at most a request's timeout for it."""
        self._stopping = True
        self._news.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), self._timeout + 1)
            except TimeoutError:
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
        if self._http is not None:
            await self._http.close()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while not self._stopping:
            self._news.clear()
            began = loop.time()
            try:
                await self.round()
                wait = await self._until_due()
            except Exception:
                LOGGER.exception("webhook deliveries: a round failed; trying again")
                wait = POLL_SECONDS
            if self._stopping:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._news.wait(), wait)
                # Woken by news: what else commits meanwhile joins this round.
                await asyncio.sleep(
                    max(0.0, min(began + NEWS_GAP, loop.time() + wait) - loop.time())
                )

    async def _until_due(self) -> float:
        due = await self._webhooks.next_due()
        if due is None:
            return POLL_SECONDS
        return min(max((due - utcnow()).total_seconds(), 0.0), POLL_SECONDS)

    async def round(self) -> None:
        """Fan out, then send everything due, until nothing is: up to CONCURRENCY tries
        under way, each leased as it starts (its lease lasts one try), no webhook holding
        more than its share while others wait."""
        await self._fan_out()
        under_way: dict[asyncio.Task[None], int] = {}
        while not self._stopping:
            if self._news.is_set():
                # Events committed while this round sends (a receiver that hangs keeps it
                # going): their deliveries are made now, not when the round ends.
                self._news.clear()
                await self._fan_out()
            busy = collections.Counter(under_way.values())
            free = CONCURRENCY - len(under_way)
            claimed = await self._webhooks.claim(free, busy) if free else []
            for one in claimed:
                under_way[asyncio.create_task(self._deliver(one))] = one.webhook_id
            if claimed and len(claimed) < free:
                # Fewer than asked: perhaps only a busy webhook's share held them back.
                continue
            if not under_way:
                return
            done, _ = await asyncio.wait(under_way, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                del under_way[task]
                if not task.cancelled() and (failure := task.exception()) is not None:
                    LOGGER.error("webhook delivery failed", exc_info=failure)
        # Stopping: the tries under way are settled, not dropped.
        if under_way:
            await asyncio.gather(*under_way)

    async def _fan_out(self) -> None:
        while not self._stopping:
            _, behind = await self._webhooks.fan_out()
            if not behind:
                return

    async def _deliver(self, claimed: Claimed) -> None:
        outcome = await self._send(claimed)
        state = await self._webhooks.settle(claimed, outcome)
        if state == FAILED:
            LOGGER.warning(
                "webhook %d: event %d not delivered after %d attempt(s): %s",
                claimed.webhook_id,
                claimed.event.id,
                claimed.attempt,
                outcome.error or f"HTTP {outcome.status_code}",
            )
        elif state != DELIVERED:
            LOGGER.info(
                "webhook %d: event %d attempt %d got %s; trying again later",
                claimed.webhook_id,
                claimed.event.id,
                claimed.attempt,
                outcome.error or f"HTTP {outcome.status_code}",
            )

    async def _send(self, claimed: Claimed) -> Outcome:
        assert self._http is not None
        body = _body(claimed)
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(claimed.secret, timestamp, body),
            EVENT_ID_HEADER: str(claimed.event.id),
            EVENT_TYPE_HEADER: claimed.event.kind,
            TIMESTAMP_HEADER: timestamp,
            ATTEMPT_HEADER: str(claimed.attempt),
        }
        began = time.monotonic()
        try:
            async with self._http.post(
                claimed.url, data=body, headers=headers, allow_redirects=False
            ) as response:
                status = response.status
                error = None
                if not 200 <= status < 300:
                    # What is kept, not the whole body: a receiver may answer with megabytes.
                    raw = await response.content.read(MAX_ERROR * 4)
                    text = raw.decode(errors="replace")
                    error = f"HTTP {status}: {text[:MAX_ERROR]}".rstrip(": ")
        except (aiohttp.ClientError, TimeoutError, OSError, ValueError) as failure:
            status = None
            error = f"{type(failure).__name__}: {failure}"[:MAX_ERROR]
        return Outcome(status, error, time.monotonic() - began)
