"""The OCPP message log: every frame of every charge point, both directions.

Frames are buffered and written in batches: the log must not put a database round trip on
any message's path. Each group-commit transaction (ocpp_core.db.group_commit) carries what
is buffered when it forms, so a charger's CALL is stored with the data it brought, before
it is acknowledged; what no transaction takes (our answers to the last messages, our own
CALLs) is handed to the group commit by a background task. Secrets (AuthorizationKey) are
redacted before a frame is kept or published.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

import orjson
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ocpp_core.db.bulk import BulkInsert
from ocpp_core.db.group_commit import GroupCommit
from ocpp_core.db.models import OcppMessage, utcnow
from ocpp_core.db.newest import newest
from ocpp_core.events import EventBus

LOGGER = logging.getLogger(__name__)

# A frame's text kept in the log: a MeterValues is 1-2 KB, a local list of a few hundred
# tags 20 KB; a longer frame (a 250 KB DataTransfer) is cut and says so, its data kept
# where it belongs (the journal, the configuration, data_transfers).
MAX_PAYLOAD_CHARS = 65_536
REDACTED = "***"
# OCPP configuration keys are case-insensitive: `authorizationkey` is the AuthorizationKey.
# Compared casefolded and without blanks around (some chargers trim them).
SECRET_KEYS = frozenset({"authorizationkey"})
# OCPP 2.0.1's counterpart: SecurityCtrlr's BasicAuthPassword variable.
SECRET_VARIABLES = frozenset({"basicauthpassword"})
_SECRET_WORDS = SECRET_KEYS | SECRET_VARIABLES
# JSON text may spell a key with escapes (`Authorization\u004bey`): a frame with any
# backslash is read.
_JSON_ESCAPE = "\\"


def is_secret_key(key: object) -> bool:
    """Whether a configuration key's value is a secret (never kept or shown in clear)."""
    return isinstance(key, str) and key.strip().casefold() in SECRET_KEYS


def is_secret_variable(component: object, variable: object) -> bool:
    """Whether a 2.0.1 variable's value is a secret (SecurityCtrlr.BasicAuthPassword)."""
    del component  # the password is secret whichever component a charger files it under
    return isinstance(variable, str) and variable.strip().casefold() in SECRET_VARIABLES


def _secret_entry(item: Any) -> bool:
    if not isinstance(item, dict):
        return False
    variable = item.get("variable")
    name = variable.get("name") if isinstance(variable, dict) else None
    return is_secret_variable(None, name)


def redact_variables(payload: Any) -> Any:
    """A 2.0.1 payload (camelCase or snake_case) with the value of every secret variable
    replaced: SetVariables' data, GetVariables' results, NotifyReport's attributes."""
    if not isinstance(payload, dict):
        return payload
    changed = dict(payload)
    for list_key, value_key in (
        ("setVariableData", "attributeValue"), ("set_variable_data", "attribute_value"),
        ("getVariableResult", "attributeValue"), ("get_variable_result", "attribute_value"),
    ):  # fmt: skip
        items = payload.get(list_key)
        if isinstance(items, list):
            changed[list_key] = [
                {**item, value_key: REDACTED} if _secret_entry(item) and value_key in item else item
                for item in items
            ]
    for list_key, attributes_key in (
        ("reportData", "variableAttribute"), ("report_data", "variable_attribute"),
    ):  # fmt: skip
        items = payload.get(list_key)
        if isinstance(items, list):
            changed[list_key] = [
                {**item, attributes_key: [
                    {**a, "value": REDACTED} if isinstance(a, dict) and "value" in a else a
                    for a in item.get(attributes_key) or []
                ]} if _secret_entry(item) else item
                for item in items
            ]  # fmt: skip
    return changed


def truncated(text: str, limit: int) -> str:
    """`text`, or its first `limit` characters and a marker with its length: stored text
    is bounded, and what was cut says so."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... [truncated: {len(text)} characters, the first {limit} kept]"


LOG_ROWS = BulkInsert(
    OcppMessage.__table__,
    (
        "charge_point_id",
        "direction",
        "message_type",
        "unique_id",
        "action",
        "payload",
        "created_at",
    ),
)


@dataclass(frozen=True)
class LoggedMessage:
    charge_point_id: str
    direction: str
    message_type: int | None
    unique_id: str | None
    action: str | None
    payload: str
    created_at: datetime
    id: int | None = None  # None until written (a live frame)


@dataclass(frozen=True)
class LogQuery:
    """Which of a charge point's logged frames: each filter optional, newest first."""

    action: str | None = None
    direction: str | None = None  # "in" (from the charger) or "out"
    since: datetime | None = None
    until: datetime | None = None
    before_id: int | None = None  # the next page: frames older than this one
    limit: int = 50


def redact_configuration(keys: Any) -> Any:
    """A GetConfiguration answer's `configurationKey` (or `configuration_key`) list with the
    values of secret keys replaced."""
    if not isinstance(keys, list):
        return keys
    return [
        {**item, "value": REDACTED}
        if isinstance(item, dict) and is_secret_key(item.get("key")) and "value" in item
        else item
        for item in keys
    ]


def redact(frame: list[Any]) -> list[Any]:
    """The frame with the value of any secret configuration key replaced: in a
    ChangeConfiguration, and in a charger's answer listing its configuration."""
    if len(frame) == 4 and frame[0] == 2 and frame[2] == "ChangeConfiguration":
        payload = frame[3]
        if isinstance(payload, dict) and is_secret_key(payload.get("key")):
            return [*frame[:3], {**payload, "value": REDACTED}]
    elif len(frame) == 4 and frame[0] == 2 and frame[2] in ("SetVariables", "NotifyReport"):
        return [*frame[:3], redact_variables(frame[3])]
    elif len(frame) == 3 and frame[0] == 3 and isinstance(frame[2], dict):
        payload = frame[2]
        if "configurationKey" in payload:
            keys = redact_configuration(payload["configurationKey"])
            return [*frame[:2], {**payload, "configurationKey": keys}]
        if "getVariableResult" in payload:
            return [*frame[:2], redact_variables(payload)]
    return frame


def _names_secret(raw: str) -> bool:
    return _JSON_ESCAPE in raw or any(key in raw.casefold() for key in _SECRET_WORDS)


def redact_text(raw: str) -> str:
    """Redact a raw frame's text. A frame that is not JSON and names a secret key is kept
    only up to where it does."""
    if not _names_secret(raw):
        return raw
    try:
        frame = orjson.loads(raw)
    except orjson.JSONDecodeError:
        folded = raw.casefold()
        found = [at for key in _SECRET_WORDS if (at := folded.find(key)) >= 0]
        if not found:
            return raw
        return raw[: min(found)] + f"[the rest redacted: {len(raw)} characters, not JSON]"
    if isinstance(frame, list):
        redacted = redact(frame)
        if redacted != frame:
            return orjson.dumps(redacted).decode()
    return raw


def _storable(text: str) -> str:
    """The text with NUL characters, which PostgreSQL cannot store, as U+FFFD: a frame
    may carry one in its raw bytes, its message id or its action, and one row that
    cannot be written fails the transaction of every entry with it."""
    return text.replace("\x00", "\ufffd")


class LogRows:
    """Buffered entries (LOG_ROWS rows), a batched work of the group commit."""

    batched: ClassVar[bool] = True
    __slots__ = ("rows",)

    def __init__(self, rows: list[tuple[Any, ...]]) -> None:
        self.rows = rows

    @classmethod
    async def write_all(cls, session: AsyncSession, items: list[LogRows]) -> list[None]:
        rows = items[0].rows if len(items) == 1 else [row for item in items for row in item.rows]
        await LOG_ROWS.write(session, rows)
        return [None] * len(items)


class MessageLog:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        bus: EventBus,
        writes: GroupCommit,
        flush_interval: float = 0.25,
        keep_per_charge_point: int = 5000,
    ) -> None:
        """`keep_per_charge_point`: the newest entries kept of each (KEEP_MESSAGE_LOG; 0:
        all, only RETAIN_MESSAGE_LOG_DAYS then bounds them)."""
        self._sessions = sessions
        self._bus = bus
        self._writes = writes
        self._flush_interval = flush_interval
        self._keep = keep_per_charge_point
        self._buffer: list[tuple[Any, ...]] = []  # LOG_ROWS rows
        self._written: dict[str, int] = {}
        # Entries handed to a transaction that has not committed yet.
        self._in_flight: set[asyncio.Future[None]] = set()
        self._prunes: set[asyncio.Task[None]] = set()
        self._pruning = asyncio.Lock()  # one prune at a time: each deletes thousands of rows
        writes.add_to_each_transaction(self._ride)

    def record(
        self,
        charge_point_id: str,
        direction: str,
        raw: str,
        message_type: int | None = None,
        unique_id: str | None = None,
        action: str | None = None,
    ) -> None:
        payload = _storable(truncated(redact_text(raw), MAX_PAYLOAD_CHARS))
        unique_id = _storable(unique_id[:64]) if unique_id else None
        action = _storable(action[:64]) if action else None
        now = utcnow()
        self._buffer.append(
            (
                charge_point_id,
                direction,
                message_type,
                unique_id,
                action,
                payload,
                now,
            )
        )
        self._bus.publish(
            "message",
            charge_point_id,
            direction=direction,
            message_type=message_type,
            unique_id=unique_id,
            action=action,
            payload=payload,
            created_at=now.isoformat(),
        )

    async def run(self) -> None:
        """Write the buffer every `flush_interval` until cancelled, then once more.

        A flush is never cancelled half-way: asyncpg leaves a connection whose commit was
        interrupted in a state no other query can use ("another operation is in progress"),
        and shutting the pool down then waits on it.
        """
        while True:
            try:
                await asyncio.sleep(self._flush_interval)
            except asyncio.CancelledError:
                await self.flush()
                raise
            flushing = asyncio.ensure_future(self.flush())
            try:
                await asyncio.shield(flushing)
            except asyncio.CancelledError:
                await flushing
                await self.flush()
                raise

    def _ride(self) -> tuple[LogRows, asyncio.Future[None]] | None:
        """What is buffered, for the transaction the group commit is forming."""
        if not self._buffer:
            return None
        work = self._take()
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._in_flight.add(future)
        future.add_done_callback(lambda done: self._settled(work, done))
        return work, future

    def _take(self) -> LogRows:
        work, self._buffer = LogRows(self._buffer), []
        return work

    def _settled(self, work: LogRows, done: asyncio.Future[None]) -> None:
        self._in_flight.discard(done)
        if done.cancelled() or done.exception() is not None:
            error = None if done.cancelled() else done.exception()
            LOGGER.error("could not write %d OCPP log entries", len(work.rows), exc_info=error)
            return
        self._count(work.rows)

    async def flush(self) -> None:
        """Write what is buffered; return once everything recorded before the call,
        including entries a transaction under way carries, is stored (and pruned)."""
        in_flight = list(self._in_flight)
        if self._buffer:
            work = self._take()
            try:
                await self._writes.run(work)
            except Exception:
                LOGGER.exception("could not write %d OCPP log entries", len(work.rows))
            else:
                self._count(work.rows)
        if in_flight:
            await asyncio.wait(in_flight)
        while self._prunes:
            await asyncio.wait(list(self._prunes))

    def _count(self, rows: list[tuple[Any, ...]]) -> None:
        if self._keep <= 0:
            return
        due = set()
        for row in rows:
            cp = row[0]
            count = self._written[cp] = self._written.get(cp, 0) + 1
            if count >= self._keep:
                self._written[cp] = 0
                due.add(cp)
        if due:
            prune = asyncio.ensure_future(self._prune(due))
            self._prunes.add(prune)
            prune.add_done_callback(self._prunes.discard)

    async def _prune(self, due: set[str]) -> None:
        """Keep the newest entries per charge point; checked every `keep` writes (only of
        the charge points just written: with 10,000 connected, not a scan of them all).
        Outside the group commit: a prune deletes thousands of rows."""
        try:
            async with self._pruning:
                await self._prune_now(due)
        except Exception:
            LOGGER.exception("could not prune the OCPP log of %s", ", ".join(sorted(due)))

    async def _prune_now(self, due: set[str]) -> None:
        for cp in due:
            async with self._sessions.begin() as session:
                cutoff = (
                    await session.scalars(
                        select(OcppMessage.id)
                        .where(OcppMessage.charge_point_id == cp)
                        .order_by(OcppMessage.id.desc())
                        .offset(self._keep)
                        .limit(1)
                    )
                ).first()
                if cutoff is not None:
                    await session.execute(
                        delete(OcppMessage).where(
                            OcppMessage.charge_point_id == cp, OcppMessage.id <= cutoff
                        )
                    )

    async def recent(self, charge_point_id: str, limit: int = 100) -> list[LoggedMessage]:
        """Newest first, including what is still waiting to be written."""
        return await self.search(charge_point_id, LogQuery(limit=limit))

    async def search(self, charge_point_id: str, query: LogQuery) -> list[LoggedMessage]:
        """The frames `query` admits, newest first, what is waiting written first. Paged by
        id (`before_id`), which the charge point's index serves at any depth."""
        await self.flush()
        where = [OcppMessage.charge_point_id == charge_point_id]
        if query.action:
            where.append(OcppMessage.action == query.action)
        if query.direction:
            where.append(OcppMessage.direction == query.direction)
        if query.since is not None:
            where.append(OcppMessage.created_at >= query.since)
        if query.until is not None:
            where.append(OcppMessage.created_at < query.until)
        statement = newest(OcppMessage, *where, limit=query.limit, before=query.before_id)
        async with self._sessions() as session:
            rows = (await session.scalars(statement)).all()
        return [
            LoggedMessage(
                r.charge_point_id,
                r.direction,
                r.message_type,
                r.unique_id,
                r.action,
                r.payload,
                r.created_at,
                r.id,
            )
            for r in rows
        ]

    async def actions(self, charge_point_id: str) -> list[str]:
        """The actions of a charge point's logged frames, for the filter's choice."""
        async with self._sessions() as session:
            rows = await session.scalars(
                select(OcppMessage.action)
                .where(OcppMessage.charge_point_id == charge_point_id)
                .where(OcppMessage.action.is_not(None))
                .distinct()
                .order_by(OcppMessage.action)
            )
            return [a for a in rows if a]
