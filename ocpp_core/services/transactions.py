"""Charging sessions of OCPP 1.6: StartTransaction, StopTransaction and MeterValues as
they are stored, and an operator's close of a session whose charger went silent. (Reading
sessions: services.transaction_queries; 2.0.1's events: services.transaction_events.)"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ocpp_core.db import outbox
from ocpp_core.db.ci_string import same_tag
from ocpp_core.db.models import MeterValue, Reservation, Transaction, utcnow
from ocpp_core.errors import InvalidInput, NotFound
from ocpp_core.events import EventBus
from ocpp_core.services import audit
from ocpp_core.services.id_tags import (
    ID_TAG,
    TAG_ROW,
    IdTagInfo,
    IdTagService,
    info_of,
    tag_facts,
)
from ocpp_core.services.meter_samples import (
    METER_VALUE_ROWS,
    MeterValuesWrite,
    event_values,
    latest_readings,
    sample_rows,
    sampled_values,
    samples_of,
)
from ocpp_core.services.registration import ChargePointRecords
from ocpp_core.services.session_flags import (
    CLOCK_TOLERANCE,
    CLOSED_BY_OPERATOR,
    CORRECTED_AFTER_CLOSE,
    FOREIGN_TRANSACTION,
    METER_BACKWARDS,
    OVERLAP,
    UNKNOWN_TRANSACTION,
    add_flags,
    closed_by_operator,
    timing_flags,
    with_flags,
)
from ocpp_core.services.transaction_queries import TransactionView, transaction_view

LOGGER = logging.getLogger(__name__)


# StartTransaction's statements, built once for the same reason.
_TX = Transaction.__table__
# A replay sends the tag as it did the first time: compared exactly, on the index of 1.6
# sessions (uq_transactions_v16_start_identity, whose condition the query repeats).
_START_IDENTITY = select(_TX.c.id).where(
    _TX.c.ocpp_transaction_id.is_(None),
    _TX.c.charge_point_id == bindparam("charge_point_id"),
    _TX.c.connector_id == bindparam("connector_id"),
    _TX.c.id_tag == bindparam("id_tag"),
    _TX.c.start_time == bindparam("start_time"),
    _TX.c.meter_start == bindparam("meter_start"),
)
_OPEN_ON_CONNECTOR = (
    select(_TX.c.id)
    .where(
        _TX.c.charge_point_id == bindparam("charge_point_id"),
        _TX.c.connector_id == bindparam("connector_id"),
        _TX.c.stop_time.is_(None),
    )
    .limit(1)
)
_INSERT_TRANSACTION = insert(_TX).returning(_TX.c.id)
_STOP_TRANSACTION = (
    update(_TX)
    .where(_TX.c.id == bindparam("transaction_id"))
    .values(
        meter_stop=bindparam("meter_stop"),
        stop_time=bindparam("stop_time"),
        stop_reason=bindparam("stop_reason"),
        stop_id_tag=bindparam("stop_id_tag"),
        flags=bindparam("flags"),
    )
)
_RESERVATIONS = Reservation.__table__
_RESERVED = select(_RESERVATIONS.c.id).where(
    _RESERVATIONS.c.charge_point_id == bindparam("charge_point_id"),
    _RESERVATIONS.c.status == "Reserved",
)
_RESERVATION_BY_ID = _RESERVED.where(_RESERVATIONS.c.id == bindparam("reservation_id")).limit(1)
_RESERVATION_BY_TAG = _RESERVED.where(
    _RESERVATIONS.c.connector_id == bindparam("connector_id"),
    same_tag(_RESERVATIONS.c.id_tag, ID_TAG),
).limit(1)
_USE_RESERVATION = (
    update(_RESERVATIONS)
    .where(_RESERVATIONS.c.id == bindparam("reservation"))
    .values(status="Used", transaction_id=bindparam("transaction_id"))
)
# All that StartTransaction reads, in one statement (on PostgreSQL each is a round trip
# that every message in the group commit's transaction waits for): the tag (TAG_FACTS),
# the same start stored before (a replay), another session open on the connector, and the
# reservation it may use, by its id or by the tag on the connector.
_START_FACTS = tag_facts(
    _START_IDENTITY.limit(1).correlate(None).scalar_subquery().label("existing"),
    _OPEN_ON_CONNECTOR.correlate(None).exists().label("busy"),
    _RESERVATION_BY_ID.correlate(None).scalar_subquery().label("by_id"),
    _RESERVATION_BY_TAG.correlate(None).scalar_subquery().label("by_tag"),
)
# StopTransaction's: the session, by (charge point, id) - one charger must never touch
# another's - and the tag of the stop.
_OWN = _TX.alias("own")
_STOP_FACTS = tag_facts(
    _OWN.c.id.label("own_id"), _OWN.c.connector_id, _OWN.c.meter_start, _OWN.c.stop_time,
    _OWN.c.flags,
).select_from(
    TAG_ROW.outerjoin(
        _OWN,
        (_OWN.c.id == bindparam("transaction_id"))
        & (_OWN.c.charge_point_id == bindparam("charge_point_id")),
    )
)  # fmt: skip


class TransactionService:
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
        # A charge point's own messages are written by group commit.
        self._registration = registration

    async def start(
        self,
        charge_point_id: str,
        connector_id: int,
        id_tag: str,
        meter_start: int,
        timestamp: datetime,
        reservation_id: int | None = None,
    ) -> tuple[int, IdTagInfo]:
        """Record a session and assign its id. A replay of the same start (the charger lost
        our answer) gets the id it was given the first time."""
        identity = {
            "charge_point_id": charge_point_id,
            "connector_id": connector_id,
            "id_tag": id_tag,
            "start_time": timestamp,
            "meter_start": meter_start,
        }

        async def work(session: AsyncSession) -> tuple[int, IdTagInfo, bool]:
            facts = (
                await session.execute(
                    _START_FACTS,
                    {**identity, "reservation_id": reservation_id, "owner": "", "ignore": 0},
                )
            ).one()
            if facts.existing is not None:
                ignore = (charge_point_id, facts.existing)
                return facts.existing, await self._id_tags.info(session, id_tag, ignore), False
            # The charger has started already: the session is stored whatever the tag's
            # status; a non-Accepted status tells the charger to stop it.
            info = info_of(facts)
            flags = timing_flags(timestamp, utcnow())
            if facts.busy:
                flags.append(OVERLAP)
            inserted = await session.execute(
                _INSERT_TRANSACTION,
                {
                    **identity,
                    "id_tag_status": info.status,
                    "reservation_id": reservation_id,
                    "flags": ",".join(flags),
                },
            )
            transaction_id = inserted.scalar_one()
            # A session started on a reservation (by its id, or by its tag on its
            # connector) uses it up.
            reservation = facts.by_id if reservation_id is not None else facts.by_tag
            if reservation is not None:
                await session.execute(
                    _USE_RESERVATION,
                    {"reservation": reservation, "transaction_id": transaction_id},
                )
            outbox.record(
                session,
                "transaction_started",
                charge_point_id,
                transaction_id=transaction_id,
                connector_id=connector_id,
                id_tag=id_tag,
                id_tag_status=info.status,
                meter_start=meter_start,
                timestamp=timestamp,
            )
            return transaction_id, info, True

        # Run again if the same start raced in twice: the second attempt finds the first.
        transaction_id, info, new = await self._registration.run(charge_point_id, work)
        if not new:
            LOGGER.info(
                "%s: replayed StartTransaction, answering transaction %s again",
                charge_point_id,
                transaction_id,
            )
            return transaction_id, info
        self._bus.publish(
            "transaction_started",
            charge_point_id,
            transaction_id=transaction_id,
            connector_id=connector_id,
            id_tag=id_tag,
            id_tag_status=info.status,
            meter_start=meter_start,
        )
        return transaction_id, info

    async def stop(
        self,
        charge_point_id: str,
        transaction_id: int,
        meter_stop: int,
        timestamp: datetime,
        id_tag: str | None = None,
        reason: str | None = None,
        transaction_data: list[dict[str, Any]] | None = None,
    ) -> IdTagInfo | None:
        """Close a session. Always succeeds: a charger whose StopTransaction is refused
        retries it forever, so unknown ids are logged and their data kept unlinked."""
        samples = sampled_values(transaction_data or [])

        async def work(session: AsyncSession) -> tuple[bool, bool, int, IdTagInfo | None]:
            # By (charge point, id): one charger must never touch another's session.
            tx = (
                await session.execute(
                    _STOP_FACTS,
                    {
                        "transaction_id": transaction_id,
                        "charge_point_id": charge_point_id,
                        "id_tag": id_tag,
                        # Its own session, stopped now, is no concurrent one.
                        "owner": charge_point_id,
                        "ignore": transaction_id,
                    },
                )
            ).one()
            known = tx.own_id is not None
            stopped = False
            if known and tx.stop_time is None:
                flags = timing_flags(timestamp, utcnow())
                if tx.meter_start is not None and meter_stop < tx.meter_start:
                    flags.append(METER_BACKWARDS)
                await session.execute(
                    _STOP_TRANSACTION,
                    {
                        "transaction_id": transaction_id,
                        "meter_stop": meter_stop,
                        "stop_time": timestamp,
                        "stop_reason": reason or "Local",
                        "stop_id_tag": id_tag,
                        "flags": with_flags(tx.flags, *flags),
                    },
                )
                stopped = True
            elif known and closed_by_operator(tx):
                # Closed by an operator while the charger was still there: its own stop
                # is the truth (meter, time, reason), and the session says it was corrected.
                corrected = with_flags(
                    tx.flags, CORRECTED_AFTER_CLOSE, *timing_flags(timestamp, utcnow())
                )
                if tx.meter_start is not None and meter_stop < tx.meter_start:
                    corrected = with_flags(corrected, METER_BACKWARDS)
                await session.execute(
                    _STOP_TRANSACTION,
                    {
                        "transaction_id": transaction_id,
                        "meter_stop": meter_stop,
                        "stop_time": timestamp,
                        "stop_reason": reason or "Local",
                        "stop_id_tag": id_tag,
                        "flags": ",".join(
                            f for f in corrected.split(",") if f != CLOSED_BY_OPERATOR
                        ),
                    },
                )
                stopped = True
            connector_id = tx.connector_id if known else 0
            flag = None if known else await self._stray_flag(session, transaction_id)
            rows = sample_rows(
                charge_point_id,
                connector_id,
                transaction_id if known else None,
                transaction_id,
                samples,
                "StopTransaction",
                flag,
                utcnow(),
            )
            await METER_VALUE_ROWS.write(session, rows)
            if stopped:
                outbox.record(
                    session,
                    "transaction_stopped",
                    charge_point_id,
                    transaction_id=transaction_id,
                    connector_id=connector_id,
                    meter_stop=meter_stop,
                    reason=reason or "Local",
                    timestamp=timestamp,
                )
            return known, stopped, connector_id, info_of(tx) if id_tag else None

        known, stopped, connector_id, info = await self._registration.run(charge_point_id, work)
        if not known:
            LOGGER.warning(
                "%s: StopTransaction for unknown transaction %s", charge_point_id, transaction_id
            )
        if stopped:
            self._bus.publish(
                "transaction_stopped",
                charge_point_id,
                transaction_id=transaction_id,
                connector_id=connector_id,
                meter_stop=meter_stop,
                reason=reason or "Local",
            )
        return info

    async def meter_values(
        self,
        charge_point_id: str,
        connector_id: int,
        transaction_id: int | None,
        meter_value: list[dict[str, Any]],
        may_be_retry: bool = True,
    ) -> bool:
        """Store a MeterValues message; False if it was stored before (a charger's retry).
        `may_be_retry`: see MeterValuesWrite."""
        samples = sampled_values(meter_value)
        write = MeterValuesWrite(
            charge_point_id, connector_id, transaction_id, samples, may_be_retry
        )
        stored, linked, stray = await self._registration.run(charge_point_id, write)
        if not stored:
            # A retry of a message whose answer was lost (server restart, broken link):
            # stored once already, acknowledged again.
            LOGGER.info("%s: MeterValues already stored, not stored twice", charge_point_id)
            return False
        if stray:
            LOGGER.warning(
                "%s: MeterValues for unknown transaction %s", charge_point_id, transaction_id
            )
        self._bus.publish(
            "meter_values",
            charge_point_id,
            connector_id=connector_id,
            transaction_id=linked,
            values=event_values(samples),
        )
        return True

    async def close(self, transaction_id: int, closed_by: str) -> TransactionView:
        """Close a session whose StopTransaction never came (charger replaced, reset): the
        energy is taken from its last meter reading, and the session is flagged, and the
        closing audited as `closed_by`'s."""
        async with self._sessions.begin() as session:
            tx = await session.get(Transaction, transaction_id)
            if tx is None:
                raise NotFound(f"transaction {transaction_id} does not exist")
            if tx.stop_time is not None:
                raise InvalidInput(f"transaction {transaction_id} has already stopped")
            registers = await latest_readings(session, [tx.id])
            last_reading = await session.scalar(
                select(func.max(MeterValue.timestamp)).where(
                    *samples_of(tx), MeterValue.timestamp <= utcnow() + CLOCK_TOLERANCE
                )
            )
            last = registers.get(tx.id, tx.meter_start)
            tx.meter_stop = round(last) if last is not None else None
            tx.stop_time = last_reading or utcnow()
            tx.stop_reason = "Other"
            tx.closed_by = closed_by
            add_flags(tx, CLOSED_BY_OPERATOR)
            charge_point_id, connector_id = tx.charge_point_id, tx.connector_id
            view = transaction_view(tx)
            outbox.record(
                session,
                "transaction_stopped",
                charge_point_id,
                transaction_id=transaction_id,
                connector_id=connector_id,
                meter_stop=view.meter_stop,
                reason="Other",
                timestamp=tx.stop_time,
                closed_by=closed_by,
            )
            audit.add(session, closed_by, "close session", str(transaction_id))
        self._bus.publish(
            "transaction_stopped",
            charge_point_id,
            transaction_id=transaction_id,
            connector_id=connector_id,
            meter_stop=view.meter_stop,
            reason="Other",
        )
        return view

    @staticmethod
    async def _stray_flag(session: AsyncSession, transaction_id: int) -> str:
        """Why data naming `transaction_id`, not a session of its sender's, is applied to
        no session."""
        other = await session.get(Transaction, transaction_id)
        return FOREIGN_TRANSACTION if other is not None else UNKNOWN_TRANSACTION
