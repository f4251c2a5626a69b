"""OCPP 2.0.1 transactions, from their TransactionEvent messages, in the same sessions and
meter-value tables as 1.6.

A charger owns its string `transactionId`; we give the session our integer id beside it.
Events are stored once by (charger, transactionId, seqNo): one sent again because our
answer was lost is answered again and applied once. Events arrive late, in bursts and out
of order (queued while offline): each is applied for what it adds, never to undo what a
later one set (the charging state follows the highest seqNo; a late Started moves the start
back; a late Updated adds its samples). A session whose Started never arrived is still
recorded, flagged; so are gaps in seqNo (of a charger counting each transaction's events
from 0), and the same timing flags as 1.6.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import bindparam, exists, func, insert, literal_column, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from ocpp_core.db import outbox
from ocpp_core.db.bulk import BulkInsert, Prepared
from ocpp_core.db.ci_string import same_tag
from ocpp_core.db.models import Reservation, Transaction, TransactionEvent, utcnow
from ocpp_core.events import EventBus
from ocpp_core.payload_keys import camel_keys
from ocpp_core.services.id_tags import ID_TAG, TAG_ROW, TAGS, IdTagInfo, IdTagService, info_of
from ocpp_core.services.meter_samples import (
    ENERGY_REGISTER,
    METER_VALUE_ROWS,
    MeterValuesWrite,
    SampledValue,
    energy_in_wh,
    event_values,
    sample_rows,
)
from ocpp_core.services.registration import ChargePointRecords
from ocpp_core.services.session_flags import (
    METER_BACKWARDS,
    OVERLAP,
    add_flags,
    closed_by_operator,
    correct_closed,
    remove_flag,
    timing_flags,
)
from ocpp_core.timeutil import format_datetime, parse_datetime

LOGGER = logging.getLogger(__name__)

# Flags of 2.0.1 sessions, beside those of 1.6 (services.session_flags).
NO_STARTED = "started_not_received"  # its first event was an Updated or Ended
SEQ_GAP = "seq_no_gap"  # events missing between the first and the last received
LATE_EVENT = "out_of_order"  # an event arrived after one with a higher seqNo

# Id token types that carry no token to look up (2.0.1 IdTokenEnumType).
NO_TOKEN_TYPES = frozenset({"NoAuthorization"})


def id_token_info(info: IdTagInfo) -> dict[str, Any]:
    """2.0.1 IdTokenInfo (snake_case) of what we know of a token."""
    answer: dict[str, Any] = {"status": info.status}
    if info.expiry_date is not None:
        answer["cache_expiry_date_time"] = format_datetime(info.expiry_date)
    if info.parent_id_tag is not None:
        answer["group_id_token"] = {"id_token": info.parent_id_tag, "type": "Central"}
    return answer


def _number_text(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else repr(float(number))


def sampled_values_201(meter_values: list[dict[str, Any]]) -> list[SampledValue]:
    """2.0.1 MeterValue objects (snake_case) as the rows 1.6 samples are kept in: the value
    as text with its unit's multiplier applied, the spec's defaults for omitted fields."""
    flat = []
    for meter_value in meter_values:
        timestamp = parse_datetime(meter_value["timestamp"])
        for sample in meter_value["sampled_value"]:
            unit = sample.get("unit_of_measure") or {}
            value = sample["value"] * 10 ** unit.get("multiplier", 0)
            flat.append(
                SampledValue(
                    timestamp=timestamp,
                    value=_number_text(value),
                    measurand=sample.get("measurand") or ENERGY_REGISTER,
                    unit=unit.get("unit") or "Wh",
                    phase=sample.get("phase"),
                    context=sample.get("context") or "Sample.Periodic",
                    location=sample.get("location") or "Outlet",
                    format="SignedData" if sample.get("signed_meter_value") else "Raw",
                )
            )
    return flat


def _register(samples: list[SampledValue], context: str | None = None) -> int | None:
    """The energy register in Wh: the reading of `context` if there is one, else the
    latest. None if the event carries none (or none a meter can read)."""
    readings = [
        (s.context == context, s.timestamp, wh)
        for s in samples
        if s.measurand == ENERGY_REGISTER
        and s.phase is None
        and (wh := energy_in_wh(s.value, s.unit)) is not None
    ]
    if not readings:
        return None
    matching = [r for r in readings if r[0]] or readings
    return round(max(matching, key=lambda r: r[1])[2])  # whole Wh, as 1.6 keeps them


# A session an event belongs to, in one statement: its columns an event reads or changes,
# the highest seqNo stored of it and whether this seqNo is stored already (sent again).
# Built once: at thousands of events a second a statement built anew costs more to build
# and key for the cache than to run.
_TX = Transaction.__table__
_EVENTS = TransactionEvent.__table__
_MUTABLE = (
    "connector_id",
    "evse_id",
    "id_tag",
    "id_token_type",
    "id_tag_status",
    "meter_start",
    "start_time",
    "meter_stop",
    "stop_time",
    "stop_reason",
    "stop_id_tag",
    "charging_state",
    "remote_start_id",
    "flags",
)
_OF_TRANSACTION = (
    _EVENTS.c.charge_point_id == bindparam("charge_point_id"),
    _EVENTS.c.ocpp_transaction_id == bindparam("ocpp_id"),
)
_HIGHEST = (
    select(_EVENTS.c.seq_no)
    .where(*_OF_TRANSACTION)
    .order_by(_EVENTS.c.seq_no.desc())
    .limit(1)
    .scalar_subquery()
)
_SEEN = exists().where(*_OF_TRANSACTION, _EVENTS.c.seq_no == bindparam("seq_no"))
# Whether the event's token has an open session other than this one (ConcurrentTx), and
# whether its EVSE has one (a new session overlaps it).
_OTHER = _TX.alias("other_session")
_TOKEN_ELSEWHERE = (
    exists()
    .where(
        same_tag(_OTHER.c.id_tag, ID_TAG),
        _OTHER.c.stop_time.is_(None),
        _OTHER.c.id != func.coalesce(_TX.c.id, 0),
    )
    .correlate(_TX)
)
_BUSY = _TX.alias("busy_session")
_EVSE_BUSY = exists().where(
    _BUSY.c.charge_point_id == bindparam("charge_point_id"),
    _BUSY.c.evse_id == bindparam("evse_id"),
    _BUSY.c.stop_time.is_(None),
)
# One row whether or not the session exists: its columns and `highest` (the _Session),
# then whether this seqNo is stored already (sent again), the token's facts as
# `id_tags.info_of` reads them, and whether the EVSE has a session open.
_FACTS = select(
    _TX.c.id,
    *(_TX.c[name] for name in _MUTABLE),
    _HIGHEST.label("highest"),
    _SEEN.label("seen"),
    TAGS.c.blocked,
    TAGS.c.expiry_date,
    TAGS.c.parent_id_tag,
    _TOKEN_ELSEWHERE.label("active"),
    _EVSE_BUSY.label("busy"),
).select_from(
    TAG_ROW.outerjoin(
        _TX,
        (_TX.c.charge_point_id == bindparam("charge_point_id"))
        & (_TX.c.ocpp_transaction_id == bindparam("ocpp_id")),
    )
)
_SESSION_COLUMNS = len(_MUTABLE) + 2  # id, the mutable ones, highest
_SEQ_RANGE = select(func.min(_EVENTS.c.seq_no), func.max(_EVENTS.c.seq_no), func.count()).where(
    *_OF_TRANSACTION
)
_NEW_SESSION = insert(_TX).returning(_TX.c.id)
_UPDATE_SESSION = (
    update(_TX)
    .where(_TX.c.id == bindparam("session_id"))
    .values({name: bindparam(f"new_{name}") for name in _MUTABLE})
)
_NEW_VALUES = tuple(f"new_{name}" for name in _MUTABLE)
EVENT_ROWS = BulkInsert(
    _EVENTS,
    (
        "charge_point_id",
        "transaction_id",
        "ocpp_transaction_id",
        "seq_no",
        "event_type",
        "trigger_reason",
        "timestamp",
        "offline",
        "payload",
        "received_at",
    ),
)


# PostgreSQL takes the session's INSERT or UPDATE, the event and its samples as one
# statement (data-modifying CTEs; a new session's id is read by the others from its
# RETURNING): one round trip, where each statement costs one. SQLite runs statements in
# process and has no such CTEs. Compiled once for each shape, up to a number of samples.
_ONE_STATEMENT_SAMPLES = 32
_ONE_STATEMENT: dict[tuple[str, int], Prepared] = {}
_EVENT_PARAMS = tuple(f"event_{name}" for name in EVENT_ROWS.columns)
# All of a new session's columns: the one statement runs no column defaults.
_NEW_COLUMNS = (
    *_MUTABLE,
    "charge_point_id",
    "ocpp_transaction_id",
    "reservation_id",
    "created_at",
    "meter_values_pruned",
)
_NEW_PARAMS = tuple(f"new_{name}" for name in _NEW_COLUMNS)
# `_write` puts a new session's id into the rows at these positions.
assert EVENT_ROWS.columns[1] == METER_VALUE_ROWS.columns[2] == "transaction_id"


def _one_statement(session_write: str, samples: int) -> Prepared:
    """`session_write`: "insert" (a new session), "update" or "none"."""
    key = (session_write, samples)
    statement = _ONE_STATEMENT.get(key)
    if statement is not None:
        return statement
    parts: list[Any] = []
    session_id: Any = None
    if session_write == "insert":
        new_values: dict[str, Any] = {
            n: bindparam(p) for n, p in zip(_NEW_COLUMNS, _NEW_PARAMS, strict=True)
        }
        new = insert(_TX).values(new_values).returning(_TX.c.id).cte("session_row")
        parts.append(new)
        session_id = select(new.c.id).scalar_subquery()
    elif session_write == "update":
        parts.append(_UPDATE_SESSION.cte("session_row"))

    def row(params: tuple[str, ...], columns: tuple[str, ...]) -> dict[str, Any]:
        values: dict[str, Any] = {n: bindparam(p) for n, p in zip(columns, params, strict=True)}
        if session_id is not None:
            values["transaction_id"] = session_id
        return values

    parts.append(insert(_EVENTS).values(row(_EVENT_PARAMS, EVENT_ROWS.columns)).cte("event_row"))
    if samples:
        columns = METER_VALUE_ROWS.columns
        rows = [row(tuple(f"s{i}_{n}" for n in columns), columns) for i in range(samples)]
        parts.append(insert(METER_VALUE_ROWS.table).values(rows).cte("sample_rows"))
    # The new session's id, or nothing: every part is a CTE, run whether read or not.
    final = select(parts[0].c.id) if session_write == "insert" else select(literal_column("NULL"))
    statement = _ONE_STATEMENT[key] = Prepared(final.add_cte(*parts))
    return statement


def _write(
    session: Session,
    new: dict[str, Any] | None,
    changed: dict[str, Any] | None,
    event_row: tuple[Any, ...],
    rows: list[tuple[Any, ...]],
) -> int | None:
    """A new session (its columns) or the changed columns of one (or neither), the event
    and its samples; the new session's id."""
    new_id = None
    if session.get_bind().dialect.name == "postgresql" and len(rows) <= _ONE_STATEMENT_SAMPLES:
        params = dict(zip(_EVENT_PARAMS, event_row, strict=True))
        shape = "none"
        if new is not None:
            shape = "insert"
            params.update(zip(_NEW_PARAMS, (new[n] for n in _NEW_COLUMNS), strict=True))
        elif changed is not None:
            shape = "update"
            params.update(changed)
        columns = METER_VALUE_ROWS.columns
        for i, values in enumerate(rows):
            params.update(zip((f"s{i}_{n}" for n in columns), values, strict=True))
        return _one_statement(shape, len(rows)).execute_in(session, params).scalar()
    if new is not None:
        new_id = session.execute(_NEW_SESSION, new).scalar_one()
        event_row = (event_row[0], new_id, *event_row[2:])
        rows = [(*r[:2], new_id, *r[3:]) for r in rows]
    elif changed is not None:
        session.execute(_UPDATE_SESSION, changed)
    EVENT_ROWS.write_in(session, [event_row])
    METER_VALUE_ROWS.write_in(session, rows)
    return new_id


@dataclass
class _Session:
    """The columns of a session an event reads or changes (`_MUTABLE`), as stored and then
    as the event leaves them; `highest`: the highest seqNo stored before this event."""

    id: int | None
    connector_id: int
    evse_id: int | None
    id_tag: str | None
    id_token_type: str | None
    id_tag_status: str | None
    meter_start: int | None
    start_time: datetime
    meter_stop: int | None
    stop_time: datetime | None
    stop_reason: str | None
    stop_id_tag: str | None
    charging_state: str | None
    remote_start_id: int | None
    flags: str
    highest: int | None = None

    def columns(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in _MUTABLE)


def _store(
    session: Session, charge_point_id: str, event: dict[str, Any], samples: list[SampledValue]
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Store and apply one event in the group commit's transaction: what happened (for
    the events published after commit) and the idTokenInfo to answer with."""
    info = event["transaction_info"]
    ocpp_id: str = info["transaction_id"]
    seq_no: int = event["seq_no"]
    event_type: str = event["event_type"]
    timestamp = parse_datetime(event["timestamp"])
    evse = event.get("evse") or {}
    token = event.get("id_token")
    if token is not None and token["type"] in NO_TOKEN_TYPES:
        token = None  # nothing to look up; answered Accepted
    answer: dict[str, Any] | None = None
    if event.get("id_token") is not None:
        answer = {"status": "Accepted"}
    outcome: dict[str, Any] = {"stored": False, "started": False, "stopped": False}
    keys = {
        "charge_point_id": charge_point_id,
        "ocpp_id": ocpp_id,
        "seq_no": seq_no,
        "id_tag": token["id_token"] if token is not None else None,
        "evse_id": evse.get("id"),
    }
    facts = session.execute(_FACTS, keys).one()
    token_info = info_of(facts) if token is not None else None
    if facts.seen:
        if token_info is not None:
            answer = id_token_info(token_info)
        outcome["transaction_id"] = facts.id
        return outcome, answer
    now = utcnow()
    if facts.id is None:
        tx = _new_session(event, timestamp, evse, token, token_info, facts.busy)
        stored = None
    else:
        tx = _Session(*facts[:_SESSION_COLUMNS])
        stored = tx.columns()
        if token is not None and token_info is not None and tx.id_tag is None:
            # The token came after the start (E03): the session is its from now.
            tx.id_tag, tx.id_token_type = token["id_token"], token["type"]
            tx.id_tag_status = token_info.status
    _apply(tx, event, timestamp, samples, evse, now)
    if event_type == "Ended" and tx.stop_time is None:
        _end(tx, event, timestamp, samples)
        outcome["stopped"] = True
    elif tx.stop_time is not None and closed_by_operator(tx):
        # Closed by an operator while the charger was still there: this corrects it.
        ended = event_type == "Ended"
        end = _register(samples, "Transaction.End")
        correct_closed(tx, timestamp, end, ended, info.get("stopped_reason"))
        outcome["stopped"] = ended
    if stored is not None and _has_gap(session, keys, tx, seq_no):
        add_flags(tx, SEQ_GAP)
    elif stored is not None:
        remove_flag(tx, SEQ_GAP)
    new = changed = None
    if tx.id is None:
        new = dict(zip(_MUTABLE, tx.columns(), strict=True))
        new.update(
            charge_point_id=charge_point_id,
            ocpp_transaction_id=ocpp_id,
            reservation_id=event.get("reservation_id"),
            created_at=now,
            meter_values_pruned=0,
        )
        outcome["started"] = True
    elif tx.columns() != stored:
        changed = {"session_id": tx.id, **dict(zip(_NEW_VALUES, tx.columns(), strict=True))}
    payload = orjson.dumps(camel_keys(event)).decode()
    # A new session's id is the database's: None in the rows until it is written.
    event_row = (charge_point_id, tx.id, ocpp_id, seq_no, event_type, event["trigger_reason"],
                 timestamp, bool(event.get("offline")), payload, now)  # fmt: skip
    rows: list[tuple[Any, ...]] = []
    if samples:
        connector_id = evse.get("connector_id") or tx.connector_id
        rows = sample_rows(
            charge_point_id, connector_id, tx.id, None, samples, "TransactionEvent", None,
            now, evse.get("id") or tx.evse_id,
        )  # fmt: skip
    new_id = _write(session, new, changed, event_row, rows)
    if new is not None:
        tx.id = new_id
    if event.get("reservation_id") is not None:
        reservation = session.get(Reservation, event["reservation_id"])
        if reservation is not None and reservation.charge_point_id == charge_point_id:
            reservation.status, reservation.transaction_id = "Used", tx.id
    outcome.update(
        stored=True,
        transaction_id=tx.id,
        connector_id=tx.connector_id,
        evse_id=tx.evse_id,
        id_tag=tx.id_tag,
        id_tag_status=tx.id_tag_status,
        meter_start=tx.meter_start,
        meter_stop=tx.meter_stop,
        reason=tx.stop_reason,
    )
    if token_info is not None:
        answer = id_token_info(token_info)
    return outcome, answer


def _new_session(
    event: dict[str, Any],
    timestamp: datetime,
    evse: dict[str, Any],
    token: dict[str, Any] | None,
    token_info: IdTagInfo | None,
    evse_busy: bool,
) -> _Session:
    """The session of a transaction's first event received, not yet written."""
    flags = timing_flags(timestamp, utcnow())
    if event["event_type"] != "Started":
        flags.append(NO_STARTED)
    evse_id = evse.get("id")
    if evse_id is not None and evse_busy:
        flags.append(OVERLAP)
    return _Session(
        id=None,
        connector_id=evse.get("connector_id") or (1 if evse_id is not None else 0),
        evse_id=evse_id,
        id_tag=token["id_token"] if token is not None else None,
        id_token_type=token["type"] if token is not None else None,
        id_tag_status=token_info.status if token_info is not None else None,
        meter_start=None,
        start_time=timestamp,
        meter_stop=None,
        stop_time=None,
        stop_reason=None,
        stop_id_tag=None,
        charging_state=None,
        remote_start_id=event["transaction_info"].get("remote_start_id"),
        flags=",".join(flags),
    )


def _apply(
    tx: _Session,
    event: dict[str, Any],
    timestamp: datetime,
    samples: list[SampledValue],
    evse: dict[str, Any],
    now: datetime,
) -> None:
    """What an event adds to its session, whatever order it came in."""
    info = event["transaction_info"]
    seq_no = event["seq_no"]
    if tx.evse_id is None and evse.get("id") is not None:
        tx.evse_id = evse["id"]
        tx.connector_id = evse.get("connector_id") or 1
    if info.get("remote_start_id") is not None and tx.remote_start_id is None:
        tx.remote_start_id = info["remote_start_id"]
    if timestamp < tx.start_time:  # a late event from before the start we had
        tx.start_time = timestamp
    if event["event_type"] == "Started":  # it has come after all (late)
        remove_flag(tx, NO_STARTED)
    begin = _register(samples, "Transaction.Begin")
    if begin is not None and (
        tx.meter_start is None or event["event_type"] == "Started" or begin < tx.meter_start
    ):
        tx.meter_start = begin
    if tx.highest is None or seq_no > tx.highest:
        if info.get("charging_state") is not None:
            tx.charging_state = info["charging_state"]
    else:
        add_flags(tx, LATE_EVENT)
    if tx.stop_time is not None and samples:
        # Samples after the end: a session ended by an earlier-arriving Ended.
        end = _register(samples, "Transaction.End")
        if end is not None and (tx.meter_stop is None or end > tx.meter_stop):
            tx.meter_stop = end
    more = timing_flags(timestamp, now)
    if more:
        add_flags(tx, *more)


def _end(
    tx: _Session, event: dict[str, Any], timestamp: datetime, samples: list[SampledValue]
) -> None:
    info = event["transaction_info"]
    tx.stop_time = max(timestamp, tx.start_time)
    tx.stop_reason = info.get("stopped_reason") or "Local"
    token = event.get("id_token")
    if token is not None:
        tx.stop_id_tag = token["id_token"]
    tx.meter_stop = _register(samples, "Transaction.End")
    if tx.meter_stop is not None and tx.meter_start is not None:
        if tx.meter_stop < tx.meter_start:
            add_flags(tx, METER_BACKWARDS)


def _has_gap(session: Session, keys: dict[str, Any], tx: _Session, seq_no: int) -> bool:
    """Whether seqNos are missing between the lowest and highest received, this one
    counted. The next of a session without gaps is known not to make one; the rest (late,
    or after a gap) are counted in the database."""
    if tx.highest is not None and seq_no == tx.highest + 1 and SEQ_GAP not in tx.flags:
        return False
    low, high, count = session.execute(_SEQ_RANGE, keys).one()
    if not count:
        return False
    low, high = min(low, seq_no), max(high, seq_no)
    # A charger counting per transaction starts at 0; one whose lowest is higher counts
    # across its EVSEs (or lost its Started, flagged apart): a gap then proves nothing.
    return bool(low == 0 and high - low + 1 > count + 1)


def _record(
    session: AsyncSession, charge_point_id: str, event: dict[str, Any], outcome: dict[str, Any]
) -> None:
    """The session's start and end, in the outbox with the event that made them."""
    common = {
        "transaction_id": outcome.get("transaction_id"),
        "ocpp_transaction_id": event["transaction_info"]["transaction_id"],
        "evse_id": outcome.get("evse_id"),
        "connector_id": outcome.get("connector_id"),
        "timestamp": event["timestamp"],
    }
    if outcome["started"]:
        outbox.record(
            session,
            "transaction_started",
            charge_point_id,
            **common,
            id_tag=outcome["id_tag"],
            id_tag_status=outcome["id_tag_status"],
            meter_start=outcome["meter_start"],
        )
    if outcome["stopped"]:
        outbox.record(
            session,
            "transaction_stopped",
            charge_point_id,
            **common,
            meter_stop=outcome["meter_stop"],
            reason=outcome["reason"],
        )


class TransactionEventService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        bus: EventBus,
        id_tags: IdTagService,
        registration: ChargePointRecords,
    ) -> None:
        self._sessions = sessions
        self._bus = bus
        self._id_tags = id_tags
        self._registration = registration

    async def authorize(self, id_token: dict[str, Any]) -> dict[str, Any]:
        """Authorize.conf's idTokenInfo: the token's own status (2.0.1 C01)."""
        if id_token["type"] in NO_TOKEN_TYPES:
            return {"status": "Accepted"}
        return id_token_info(await self._id_tags.authorize(id_token["id_token"]))

    async def event(self, charge_point_id: str, event: dict[str, Any]) -> dict[str, Any] | None:
        """Store and apply one TransactionEvent (snake_case); the idTokenInfo to answer
        with when it carries an idToken."""
        samples = sampled_values_201(event.get("meter_value") or [])

        async def work(session: AsyncSession) -> tuple[dict[str, Any], dict[str, Any] | None]:
            # One trip into SQLAlchemy's synchronous side for all of the event's statements.
            outcome, answer = await session.run_sync(_store, charge_point_id, event, samples)
            _record(session, charge_point_id, event, outcome)
            return outcome, answer

        outcome, answer = await self._registration.run(charge_point_id, work)
        if not outcome["stored"]:
            LOGGER.info(
                "%s: TransactionEvent %s seqNo %s received again, stored once",
                charge_point_id,
                event["transaction_info"]["transaction_id"],
                event["seq_no"],
            )
            return answer
        self._publish(charge_point_id, outcome, samples)
        return answer

    def _publish(
        self, charge_point_id: str, outcome: dict[str, Any], samples: list[SampledValue]
    ) -> None:
        transaction_id = outcome["transaction_id"]
        if outcome["started"]:
            self._bus.publish(
                "transaction_started",
                charge_point_id,
                transaction_id=transaction_id,
                connector_id=outcome["connector_id"],
                id_tag=outcome["id_tag"],
                id_tag_status=outcome["id_tag_status"],
                meter_start=outcome["meter_start"],
            )
        if samples:
            self._bus.publish(
                "meter_values",
                charge_point_id,
                connector_id=outcome["connector_id"],
                transaction_id=transaction_id,
                values=event_values(samples),
            )
        if outcome["stopped"]:
            self._bus.publish(
                "transaction_stopped",
                charge_point_id,
                transaction_id=transaction_id,
                connector_id=outcome["connector_id"],
                meter_stop=outcome["meter_stop"],
                reason=outcome["reason"],
            )

    async def meter_values(
        self, charge_point_id: str, evse_id: int, meter_value: list[dict[str, Any]]
    ) -> None:
        """A 2.0.1 MeterValues message: readings outside any transaction (those of a
        transaction ride in its events), kept applied to no session, by EVSE."""
        samples = sampled_values_201(meter_value)
        write = MeterValuesWrite(charge_point_id, 0, None, samples, evse_id=evse_id)
        await self._registration.run(charge_point_id, write)
        self._bus.publish(
            "meter_values",
            charge_point_id,
            connector_id=0,
            transaction_id=None,
            values=event_values(samples),
        )

    async def events_of(self, transaction_id: int) -> list[dict[str, Any]]:
        """A 2.0.1 session's events as received, in seqNo order."""
        async with self._sessions() as session:
            rows = (
                await session.scalars(
                    select(TransactionEvent)
                    .where(TransactionEvent.transaction_id == transaction_id)
                    .order_by(TransactionEvent.seq_no)
                )
            ).all()
        return [
            {
                "seq_no": r.seq_no,
                "event_type": r.event_type,
                "trigger_reason": r.trigger_reason,
                "timestamp": r.timestamp,
                "offline": r.offline,
                "received_at": r.received_at,
            }
            for r in rows
        ]
