"""OCPP 2.0.1 transactions, from their TransactionEvent messages, in the same sessions and
meter-value tables as 1.6.

A charger owns its string `transactionId`; we give the session our integer id beside it.
Events are stored once by (charger, transactionId, seqNo): one sent again because our
answer was lost is answered again and applied once. Events arrive late, in bursts and out
of order (queued while offline): each is applied for what it adds, never to undo what a
later one set (the charging state follows the highest seqNo; a late Started moves the start
back; a late Updated adds its samples). A session whose Started never arrived is still
recorded, flagged; so are gaps in seqNo, and the same timing flags as 1.6.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ocpp_core.db.models import Reservation, Transaction, TransactionEvent, utcnow
from ocpp_core.events import EventBus
from ocpp_core.payload_keys import camel_keys
from ocpp_core.services.id_tags import IdTagInfo, IdTagService
from ocpp_core.services.registration import Registration
from ocpp_core.services.transactions import (
    ENERGY_REGISTER,
    METER_BACKWARDS,
    METER_VALUE_ROWS,
    OVERLAP,
    MeterValuesWrite,
    SampledValue,
    add_flags,
    energy_in_wh,
    event_values,
    remove_flag,
    sample_rows,
    timing_flags,
)
from ocpp_core.timeutil import format_datetime, parse_datetime

LOGGER = logging.getLogger(__name__)

# Flags of 2.0.1 sessions, beside those of 1.6 (services.transactions).
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
        (s.context == context, s.timestamp, energy_in_wh(s.value, s.unit))
        for s in samples
        if s.measurand == ENERGY_REGISTER and s.phase is None
    ]
    readings = [r for r in readings if r[2] is not None]
    if not readings:
        return None
    matching = [r for r in readings if r[0]] or readings
    return int(max(matching, key=lambda r: r[1])[2])


class TransactionEventService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        bus: EventBus,
        id_tags: IdTagService,
        registration: Registration,
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
        info = event.get("transaction_info") or {}
        ocpp_id: str = info["transaction_id"]
        seq_no: int = event["seq_no"]
        event_type: str = event["event_type"]
        timestamp = parse_datetime(event["timestamp"])
        samples = sampled_values_201(event.get("meter_value") or [])
        evse = event.get("evse") or {}
        token = event.get("id_token")

        async def work(session: AsyncSession) -> tuple[dict[str, Any], dict[str, Any] | None]:
            outcome: dict[str, Any] = {"stored": False, "started": False, "stopped": False}
            tx = await session.scalar(
                select(Transaction).where(
                    Transaction.charge_point_id == charge_point_id,
                    Transaction.ocpp_transaction_id == ocpp_id,
                )
            )
            duplicate = await session.scalar(
                select(TransactionEvent.id).where(
                    TransactionEvent.charge_point_id == charge_point_id,
                    TransactionEvent.ocpp_transaction_id == ocpp_id,
                    TransactionEvent.seq_no == seq_no,
                )
            )
            if duplicate is not None:
                answer = await self._token_answer(session, charge_point_id, tx, token)
                outcome["transaction_id"] = tx.id if tx is not None else None
                return outcome, answer
            now = utcnow()
            if tx is None:
                tx = await self._new_session(session, charge_point_id, event, timestamp)
                outcome["started"] = True
            outcome["transaction_id"] = tx.id
            self._apply(tx, event, timestamp, samples, evse, now)
            if token is not None and token["type"] not in NO_TOKEN_TYPES and tx.id_tag is None:
                # The token came after the start (2.0.1 E03): the session is its from now.
                tx.id_tag, tx.id_token_type = token["id_token"], token["type"]
                info_now = await self._id_tags.info(
                    session, token["id_token"], (charge_point_id, tx.id)
                )
                tx.id_tag_status = info_now.status
            if event_type == "Ended" and tx.stop_time is None:
                self._end(tx, event, timestamp, samples)
                outcome["stopped"] = True
            if event.get("reservation_id") is not None:
                reservation = await session.get(Reservation, event["reservation_id"])
                if reservation is not None and reservation.charge_point_id == charge_point_id:
                    reservation.status, reservation.transaction_id = "Used", tx.id
            session.add(
                TransactionEvent(
                    charge_point_id=charge_point_id,
                    transaction_id=tx.id,
                    ocpp_transaction_id=ocpp_id,
                    seq_no=seq_no,
                    event_type=event_type,
                    trigger_reason=event["trigger_reason"],
                    timestamp=timestamp,
                    offline=bool(event.get("offline")),
                    payload=orjson.dumps(camel_keys(event)).decode(),
                    received_at=now,
                )
            )
            await session.flush()
            await self._flag_gaps(session, charge_point_id, tx)
            if samples:
                rows = sample_rows(
                    charge_point_id,
                    evse.get("connector_id") or tx.connector_id,
                    tx.id,
                    None,
                    samples,
                    "TransactionEvent",
                    None,
                    now,
                    evse.get("id") or tx.evse_id,
                )
                await METER_VALUE_ROWS.write(session, rows)
            outcome.update(
                stored=True,
                connector_id=tx.connector_id,
                evse_id=tx.evse_id,
                id_tag=tx.id_tag,
                meter_start=tx.meter_start,
                meter_stop=tx.meter_stop,
                reason=tx.stop_reason,
            )
            return outcome, await self._token_answer(session, charge_point_id, tx, token)

        outcome, answer = await self._registration.run(charge_point_id, work)
        if not outcome["stored"]:
            LOGGER.info(
                "%s: TransactionEvent %s seqNo %s received again, stored once",
                charge_point_id,
                ocpp_id,
                seq_no,
            )
            return answer
        self._publish(charge_point_id, outcome, samples)
        return answer

    async def _new_session(
        self,
        session: AsyncSession,
        charge_point_id: str,
        event: dict[str, Any],
        timestamp: datetime,
    ) -> Transaction:
        evse = event.get("evse") or {}
        evse_id = evse.get("id")
        connector_id = evse.get("connector_id") or (1 if evse_id is not None else 0)
        flags = timing_flags(timestamp, utcnow())
        if event["event_type"] != "Started":
            flags.append(NO_STARTED)
        if evse_id is not None:
            busy = await session.scalar(
                select(Transaction.id)
                .where(
                    Transaction.charge_point_id == charge_point_id,
                    Transaction.evse_id == evse_id,
                    Transaction.stop_time.is_(None),
                )
                .limit(1)
            )
            if busy is not None:
                flags.append(OVERLAP)
        info = event["transaction_info"]
        tx = Transaction(
            charge_point_id=charge_point_id,
            connector_id=connector_id,
            evse_id=evse_id,
            ocpp_transaction_id=info["transaction_id"],
            start_time=timestamp,
            reservation_id=event.get("reservation_id"),
            remote_start_id=info.get("remote_start_id"),
            flags=",".join(flags),
        )
        token = event.get("id_token")
        if token is not None and token["type"] not in NO_TOKEN_TYPES:
            tx.id_tag, tx.id_token_type = token["id_token"], token["type"]
            tx.id_tag_status = (await self._id_tags.info(session, token["id_token"])).status
        session.add(tx)
        await session.flush()
        return tx

    @staticmethod
    def _apply(
        tx: Transaction,
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
        if tx.seq_no is None or seq_no > tx.seq_no:
            tx.seq_no = seq_no
            if info.get("charging_state") is not None:
                tx.charging_state = info["charging_state"]
        else:
            add_flags(tx, LATE_EVENT)
        if tx.stop_time is not None and samples:
            # Samples after the end: a session ended by an earlier-arriving Ended.
            end = _register(samples, "Transaction.End")
            if end is not None and (tx.meter_stop is None or end > tx.meter_stop):
                tx.meter_stop = end
        add_flags(tx, *timing_flags(timestamp, now))

    @staticmethod
    def _end(
        tx: Transaction, event: dict[str, Any], timestamp: datetime, samples: list[SampledValue]
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

    @staticmethod
    async def _flag_gaps(session: AsyncSession, charge_point_id: str, tx: Transaction) -> None:
        """seqNo missing between the lowest and highest received: flagged while missing."""
        low, high, count = (
            await session.execute(
                select(
                    func.min(TransactionEvent.seq_no),
                    func.max(TransactionEvent.seq_no),
                    func.count(),
                ).where(
                    TransactionEvent.charge_point_id == charge_point_id,
                    TransactionEvent.ocpp_transaction_id == tx.ocpp_transaction_id,
                )
            )
        ).one()
        if count and high - low + 1 > count:
            add_flags(tx, SEQ_GAP)
        else:
            remove_flag(tx, SEQ_GAP)

    async def _token_answer(
        self,
        session: AsyncSession,
        charge_point_id: str,
        tx: Transaction | None,
        token: dict[str, Any] | None,
    ) -> dict[str, Any] | None:
        """idTokenInfo for an event with an idToken (2.0.1 E05): its status, ConcurrentTx
        when the token has another session open (as 1.6 StartTransaction)."""
        if token is None:
            return None
        if token["type"] in NO_TOKEN_TYPES:
            return {"status": "Accepted"}
        ignore = (charge_point_id, tx.id) if tx is not None else ("", 0)
        return id_token_info(await self._id_tags.info(session, token["id_token"], ignore))

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
