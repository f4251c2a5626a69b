"""Webhooks: URLs an admin registers, and the deliveries of the outbox's events to them.

Each webhook keeps the id of the last event fanned out to it: `fan_out` makes one
delivery row for each later event of the kinds it asked for (one per webhook and event,
a unique key), and moves the mark on, in one transaction. `claim` takes the deliveries
due and leases them (their next attempt moved past the time a try may take), so another
instance, or this one's next round, leaves them alone while they are tried; `settle`
records the try and what follows: delivered, another try later (exponential back-off),
or failed once the attempts or the age allowed are spent. On PostgreSQL both take their
rows with SELECT ... FOR UPDATE SKIP LOCKED: instances sharing the database each take
other rows, and every delivery is sent by one of them. SQLite has one instance.

The secret signs each delivery, so it is kept as it is (it cannot be a hash); it is shown
when the webhook is made and never again.
"""

from __future__ import annotations

import builtins
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ocpp_core.db.models import (
    OutboxEvent,
    Webhook,
    WebhookAttempt,
    WebhookDelivery,
    utcnow,
)
from ocpp_core.db.rowcount import rowcount
from ocpp_core.errors import InvalidInput, NotFound
from ocpp_core.services import audit
from ocpp_core.services.event_log import StoredEvent, event_kinds, stored
from ocpp_core.settings import Settings

PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"
DELIVERY_STATES = (PENDING, DELIVERED, FAILED)
MAX_URL_LENGTH = 2048
MAX_WEBHOOKS = 100
# Events fanned out per webhook and transaction.
FAN_OUT_BATCH = 500
# Tries of one webhook under way at once: a receiver that hangs holds no more than this
# many of the worker's requests, and the other webhooks get the rest.
PER_WEBHOOK = 2
# The longest wait between two tries, however many came before.
MAX_BACKOFF = 3600.0
# A try's lease lasts its timeout and this much more.
LEASE_MARGIN = 5.0


@dataclass(frozen=True)
class WebhookView:
    id: int
    url: str
    event_types: tuple[str, ...]
    active: bool
    created_at: datetime
    created_by: str
    pending: int = 0
    delivered: int = 0
    failed: int = 0


@dataclass(frozen=True)
class NewWebhook:
    """A webhook just made, with its secret: the only time the secret is shown."""

    webhook: WebhookView
    secret: str


@dataclass(frozen=True)
class AttemptView:
    at: datetime
    status_code: int | None
    error: str | None
    seconds: float


@dataclass(frozen=True)
class DeliveryView:
    id: int
    webhook_id: int
    event_id: int
    event_type: str
    charge_point_id: str
    status: str
    attempts: int
    next_attempt_at: datetime | None  # pending ones only
    created_at: datetime
    delivered_at: datetime | None
    last_error: str | None
    tries: tuple[AttemptView, ...] = ()


@dataclass(frozen=True)
class Claimed:
    """A delivery leased to this instance for one try."""

    delivery_id: int
    webhook_id: int
    url: str
    secret: str
    attempt: int  # this try's number, from 1
    event: StoredEvent


@dataclass(frozen=True)
class Outcome:
    """What one try got: a status code, or why there was none."""

    status_code: int | None
    error: str | None
    seconds: float

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def check_url(given: Any) -> str:
    if not isinstance(given, str):
        raise InvalidInput("url must be a string")
    url = given.strip()
    if len(url) > MAX_URL_LENGTH:
        raise InvalidInput(f"url must be at most {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError as error:
        raise InvalidInput(f"url is not a URL: {error}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput("url must be an http:// or https:// URL with a host")
    if any(not c.isprintable() or c.isspace() for c in url):
        raise InvalidInput("url must not hold spaces or control characters")
    return url


def backoff(first: float, attempts: int) -> float:
    """Seconds before the try after `attempts` tries: doubling from `first`."""
    return min(first * 2.0 ** (attempts - 1), MAX_BACKOFF)


def _view(row: Webhook, counts: dict[str, int] | None = None) -> WebhookView:
    counts = counts or {}
    return WebhookView(
        row.id,
        row.url,
        tuple(row.event_types.split(",")),
        row.active,
        row.created_at,
        row.created_by,
        counts.get(PENDING, 0),
        counts.get(DELIVERED, 0),
        counts.get(FAILED, 0),
    )


def _audit(
    session: AsyncSession,
    actor: str | None,
    action: str,
    webhook: WebhookView,
    detail: str | None = None,
) -> None:
    """A webhook as the audit log names it: never its secret."""
    target = f"webhook {webhook.id} {webhook.url}"
    detail = detail or f"types {','.join(webhook.event_types)}; active {webhook.active}"
    audit.add(session, actor, action, target, detail)


class WebhookService:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], settings: Settings) -> None:
        self._sessions = sessions
        self._retry = settings.webhook_retry_seconds
        self._max_attempts = settings.webhook_max_attempts
        self._max_age = timedelta(seconds=settings.webhook_max_age)
        self._lease = timedelta(seconds=settings.webhook_timeout + LEASE_MARGIN)

    # --- what an admin does -----------------------------------------------------------

    async def create(self, url: Any, event_types: Any, created_by: str) -> NewWebhook:
        """A webhook sent the events of `event_types` from now on, audited as made by
        `created_by`."""
        url, kinds = check_url(url), self._kinds(event_types)
        secret = secrets.token_hex(32)
        async with self._sessions.begin() as session:
            count = await session.scalar(select(func.count()).select_from(Webhook))
            if (count or 0) >= MAX_WEBHOOKS:
                raise InvalidInput(f"at most {MAX_WEBHOOKS} webhooks may be registered")
            latest = await session.scalar(select(func.max(OutboxEvent.id))) or 0
            row = Webhook(
                url=url,
                event_types=",".join(kinds),
                secret=secret,
                active=True,
                created_by=created_by,
                last_event_id=latest,
            )
            session.add(row)
            await session.flush()
            view = _view(row)
            _audit(session, created_by, "create webhook", view)
            return NewWebhook(view, secret)

    async def update(
        self,
        webhook_id: int,
        url: Any = None,
        event_types: Any = None,
        active: Any = None,
        *,
        actor: str | None = None,
    ) -> WebhookView:
        """Change what is given. A webhook made inactive gets no deliveries for the events
        meanwhile; made active again, it gets those after."""
        if active is not None and not isinstance(active, bool):
            raise InvalidInput("active must be true or false")
        values: dict[str, Any] = {}
        if url is not None:
            values["url"] = check_url(url)
        if event_types is not None:
            values["event_types"] = ",".join(self._kinds(event_types))
        async with self._sessions.begin() as session:
            row = await self._row(session, webhook_id)
            if active is not None and active != row.active:
                values["active"] = active
                if active:
                    values["last_event_id"] = (
                        await session.scalar(select(func.max(OutboxEvent.id))) or 0
                    )
            for name, value in values.items():
                setattr(row, name, value)
            _audit(session, actor, "update webhook", _view(row))
        return await self.get(webhook_id)

    async def delete(self, webhook_id: int, *, actor: str | None = None) -> WebhookView:
        async with self._sessions.begin() as session:
            row = await self._row(session, webhook_id)
            view = _view(row)
            await session.execute(delete(Webhook).where(Webhook.id == webhook_id))
            _audit(session, actor, "delete webhook", view)
        return view

    @staticmethod
    def _kinds(event_types: Any) -> tuple[str, ...]:
        if not isinstance(event_types, (str, list)):
            raise InvalidInput("event_types must be a list of event types")
        return event_kinds(event_types)

    @staticmethod
    async def _row(session: AsyncSession, webhook_id: int) -> Webhook:
        row = await session.get(Webhook, webhook_id)
        if row is None:
            raise NotFound(f"webhook {webhook_id} does not exist")
        return row

    # --- what anyone may read ---------------------------------------------------------

    async def list(self) -> list[WebhookView]:
        async with self._sessions() as session:
            rows = (await session.scalars(select(Webhook).order_by(Webhook.id))).all()
            counts = await self._counts(session)
        return [_view(row, counts.get(row.id)) for row in rows]

    async def get(self, webhook_id: int) -> WebhookView:
        async with self._sessions() as session:
            row = await self._row(session, webhook_id)
            counts = await self._counts(session, webhook_id)
        return _view(row, counts.get(webhook_id))

    @staticmethod
    async def _counts(
        session: AsyncSession, webhook_id: int | None = None
    ) -> dict[int, dict[str, int]]:
        query = select(WebhookDelivery.webhook_id, WebhookDelivery.status, func.count()).group_by(
            WebhookDelivery.webhook_id, WebhookDelivery.status
        )
        if webhook_id is not None:
            query = query.where(WebhookDelivery.webhook_id == webhook_id)
        counts: dict[int, dict[str, int]] = {}
        for hook, status, count in await session.execute(query):
            counts.setdefault(hook, {})[status] = count
        return counts

    async def deliveries(
        self, webhook_id: int, status: str | None = None, limit: int = 50
    ) -> builtins.list[DeliveryView]:
        """A webhook's deliveries, newest first, each with its tries."""
        if status is not None and status not in DELIVERY_STATES:
            raise InvalidInput(f"status must be one of {', '.join(DELIVERY_STATES)}")
        if not 1 <= limit <= 1000:
            raise InvalidInput("limit must be 1 to 1000")
        query = (
            select(WebhookDelivery, OutboxEvent.kind, OutboxEvent.charge_point_id)
            .join(OutboxEvent, OutboxEvent.id == WebhookDelivery.event_id)
            .where(WebhookDelivery.webhook_id == webhook_id)
            .order_by(WebhookDelivery.id.desc())
            .limit(limit)
        )
        if status is not None:
            query = query.where(WebhookDelivery.status == status)
        async with self._sessions() as session:
            await self._row(session, webhook_id)
            rows = (await session.execute(query)).all()
            ids = [delivery.id for delivery, _, _ in rows]
            tries: dict[int, list[AttemptView]] = {}
            if ids:
                attempts = await session.scalars(
                    select(WebhookAttempt)
                    .where(WebhookAttempt.delivery_id.in_(ids))
                    .order_by(WebhookAttempt.id)
                )
                for a in attempts:
                    tries.setdefault(a.delivery_id, []).append(
                        AttemptView(a.at, a.status_code, a.error, a.seconds)
                    )
        return [
            DeliveryView(
                d.id, d.webhook_id, d.event_id, kind, charge_point_id, d.status, d.attempts,
                d.next_attempt_at if d.status == PENDING else None, d.created_at,
                d.delivered_at, d.last_error, tuple(tries.get(d.id, ())),
            )
            for d, kind, charge_point_id in rows
        ]  # fmt: skip

    async def totals(self) -> dict[str, int]:
        """Deliveries pending and failed over every webhook (for /metrics)."""
        query = (
            select(WebhookDelivery.status, func.count())
            .where(WebhookDelivery.status.in_((PENDING, FAILED)))
            .group_by(WebhookDelivery.status)
        )
        async with self._sessions() as session:
            counts: dict[str, int] = {s: c for s, c in await session.execute(query)}
        return {PENDING: counts.get(PENDING, 0), FAILED: counts.get(FAILED, 0)}

    # --- the delivery worker's ----------------------------------------------------------

    async def fan_out(self) -> tuple[int, bool]:
        """Make the deliveries of the events after each active webhook's mark: how many,
        and whether some webhook has more events to look at (a batch was full)."""
        made, behind = 0, False
        async with self._sessions.begin() as session:
            hooks = (
                await session.scalars(
                    select(Webhook)
                    .where(Webhook.active.is_(True))
                    .order_by(Webhook.id)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            now = utcnow()
            for hook in hooks:
                kinds = hook.event_types.split(",")
                # A batch at a time: the mark moves to the last event looked at, matching
                # or not, so a webhook of rare kinds does not walk the same rows again.
                window = (
                    select(OutboxEvent.id, OutboxEvent.kind)
                    .where(OutboxEvent.id > hook.last_event_id)
                    .order_by(OutboxEvent.id)
                    .limit(FAN_OUT_BATCH)
                )
                events = (await session.execute(window)).all()
                if not events:
                    continue
                behind = behind or len(events) == FAN_OUT_BATCH
                rows = [
                    {
                        "webhook_id": hook.id,
                        "event_id": event_id,
                        "status": PENDING,
                        "attempts": 0,
                        "next_attempt_at": now,
                        "created_at": now,
                    }
                    for event_id, kind in events
                    if kind in kinds
                ]
                if rows:
                    await session.execute(WebhookDelivery.__table__.insert(), rows)
                    made += len(rows)
                hook.last_event_id = events[-1][0]
        return made, behind

    async def claim(
        self, limit: int, busy: Mapping[int, int] | None = None
    ) -> builtins.list[Claimed]:
        """Lease up to `limit` deliveries due now to this instance, for one try each, to be
        sent at once (the lease lasts a try). Paused webhooks get none; `busy` counts the
        tries under way by webhook, and none gets more than PER_WEBHOOK at a time."""
        now = utcnow()
        busy = busy or {}
        full = [webhook_id for webhook_id, n in busy.items() if n >= PER_WEBHOOK]
        async with self._sessions.begin() as session:
            candidates = (
                await session.scalars(
                    select(WebhookDelivery)
                    .where(
                        WebhookDelivery.status == PENDING,
                        WebhookDelivery.next_attempt_at <= now,
                        WebhookDelivery.webhook_id.in_(
                            select(Webhook.id).where(Webhook.active.is_(True))
                        ),
                        WebhookDelivery.webhook_id.not_in(full),
                    )
                    .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
                    .limit(limit)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            # Those beyond a webhook's share stay due (locked until this commits, no more).
            taken = dict(busy)
            due = []
            for delivery in candidates:
                if taken.get(delivery.webhook_id, 0) < PER_WEBHOOK:
                    taken[delivery.webhook_id] = taken.get(delivery.webhook_id, 0) + 1
                    due.append(delivery)
            if not due:
                return []
            hooks = {
                h.id: h
                for h in await session.scalars(
                    select(Webhook).where(Webhook.id.in_({d.webhook_id for d in due}))
                )
            }
            events = {
                e.id: e
                for e in await session.scalars(
                    select(OutboxEvent).where(OutboxEvent.id.in_([d.event_id for d in due]))
                )
            }
            claimed = []
            for delivery in due:
                delivery.attempts += 1
                delivery.next_attempt_at = now + self._lease
                hook = hooks[delivery.webhook_id]
                claimed.append(
                    Claimed(
                        delivery.id,
                        hook.id,
                        hook.url,
                        hook.secret,
                        delivery.attempts,
                        stored(events[delivery.event_id]),
                    )
                )
        return claimed

    async def settle(self, claimed: Claimed, outcome: Outcome) -> str:
        """Record a try and what follows it; the delivery's state now."""
        now = utcnow()
        async with self._sessions.begin() as session:
            delivery = await session.get(WebhookDelivery, claimed.delivery_id)
            if delivery is None:  # its webhook (or its event) went meanwhile
                return FAILED
            session.add(
                WebhookAttempt(
                    delivery_id=delivery.id,
                    at=now,
                    status_code=outcome.status_code,
                    error=outcome.error,
                    seconds=outcome.seconds,
                )
            )
            if delivery.status != PENDING or delivery.attempts != claimed.attempt:
                # Its lease ran out and a later try (here or on another instance) took it
                # over: this one stays in the record, and only a success changes the state
                # (the receiver has the event; the later try's failure will not undo it).
                if outcome.delivered and delivery.status != DELIVERED:
                    delivery.status, delivery.delivered_at = DELIVERED, now
                    delivery.last_error = None
                return delivery.status
            if outcome.delivered:
                delivery.status, delivery.delivered_at, delivery.last_error = DELIVERED, now, None
                return DELIVERED
            delivery.last_error = outcome.error or f"HTTP {outcome.status_code}"
            too_old = now - delivery.created_at >= self._max_age
            if delivery.attempts >= self._max_attempts or too_old:
                delivery.status = FAILED
                return FAILED
            delivery.next_attempt_at = now + timedelta(
                seconds=backoff(self._retry, delivery.attempts)
            )
            return PENDING

    async def next_due(self) -> datetime | None:
        """When the soonest pending delivery of an active webhook is due (None: none)."""
        async with self._sessions() as session:
            return await session.scalar(
                select(func.min(WebhookDelivery.next_attempt_at)).where(
                    WebhookDelivery.status == PENDING,
                    WebhookDelivery.webhook_id.in_(
                        select(Webhook.id).where(Webhook.active.is_(True))
                    ),
                )
            )

    async def retry(self, webhook_id: int, delivery_id: int, *, actor: str | None = None) -> None:
        """A failed delivery tried again now, its attempts counted from nothing."""
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(WebhookDelivery)
                .where(
                    WebhookDelivery.id == delivery_id,
                    WebhookDelivery.webhook_id == webhook_id,
                    WebhookDelivery.status == FAILED,
                )
                .values(status=PENDING, attempts=0, next_attempt_at=utcnow(), created_at=utcnow())
            )
            if not rowcount(result):
                raise NotFound(f"webhook {webhook_id} has no failed delivery {delivery_id}")
            webhook = _view(await self._row(session, webhook_id))
            _audit(session, actor, "retry webhook delivery", webhook, f"delivery {delivery_id}")
