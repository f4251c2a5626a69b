"""Operations sent to charge points: the journal, and the state their answers establish.

Each operation is journalled before it is sent and completed with its outcome. An
accepted answer updates what the central system knows of the charge point: the
configuration it reported or accepted, reservations, the local list version, the charging
profiles it holds. An accepted new AuthorizationKey becomes the charge point's password
only then (OCPP 1.6 Security Whitepaper: never before the charge point has it).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ocpp_core.db.models import (
    ChargePoint,
    ChargingProfile,
    ConfigurationKey,
    IdTag,
    InstalledCertificate,
    Operation,
    Reservation,
    utcnow,
)
from ocpp_core.db.newest import newest
from ocpp_core.events import EventBus
from ocpp_core.passwords import hash_password_async
from ocpp_core.services import audit
from ocpp_core.services.message_log import (
    REDACTED,
    is_secret_key,
    redact_configuration,
    redact_variables,
)
from ocpp_core.timeutil import format_datetime

LOGGER = logging.getLogger(__name__)


def answer_status(response: dict[str, Any] | None) -> str | None:
    """The journal's one-word outcome of an answer (JSON): its `status`, or for answers
    that report per item (2.0.1 GetVariables, SetVariables, SetVariableMonitoring,
    ClearVariableMonitoring) the items' common status, else how many were Accepted, e.g.
    "1 of 6 Accepted". At most the column's 32 characters."""
    if not response:
        return None
    if "status" in response:
        return str(response["status"])[:32]
    counts: dict[str, int] = {}
    for key, items in response.items():
        # The answer as sent (camelCase) or as the handlers read it (snake_case).
        if not key.endswith(("Result", "_result")) or not isinstance(items, list):
            continue
        for item in items:
            if isinstance(item, dict):
                found = item.get("attributeStatus", item.get("attribute_status"))
                found = item.get("status") if found is None else found
                if isinstance(found, str):
                    counts[found] = counts.get(found, 0) + 1
    if not counts:
        return None
    if len(counts) == 1:
        return next(iter(counts))[:32]
    return f"{counts.get('Accepted', 0)} of {sum(counts.values())} Accepted"


@dataclass(frozen=True)
class OperationView:
    id: int
    charge_point_id: str
    action: str
    request: dict[str, Any]
    requested_by: str | None
    requested_at: datetime
    outcome: str
    status: str | None
    response: dict[str, Any] | None
    answered_at: datetime | None


@dataclass(frozen=True)
class JournalQuery:
    """Which journal entries: each filter optional (no charge point: the whole fleet's),
    newest first."""

    charge_point_id: str | None = None
    action: str | None = None
    since: datetime | None = None  # requested at or after
    until: datetime | None = None  # requested before
    before_id: int | None = None  # the next page: entries older than this one
    limit: int = 50


def _operation_view(row: Operation) -> OperationView:
    return OperationView(
        row.id,
        row.charge_point_id,
        row.action,
        orjson.loads(row.request),
        row.requested_by,
        row.requested_at,
        row.outcome,
        row.status,
        orjson.loads(row.response) if row.response else None,
        row.answered_at,
    )


@dataclass(frozen=True)
class ConfigurationView:
    key: str
    value: str | None
    readonly: bool
    updated_at: datetime


@dataclass(frozen=True)
class ReservationView:
    id: int
    charge_point_id: str
    connector_id: int
    id_tag: str
    parent_id_tag: str | None
    expiry_date: datetime
    status: str  # Reserved | Used | Cancelled | Expired
    transaction_id: int | None


@dataclass(frozen=True)
class ChargingProfileView:
    connector_id: int
    charging_profile_id: int
    stack_level: int
    purpose: str
    kind: str
    transaction_id: int | None
    profile: dict[str, Any]
    created_at: datetime


def _redacted(action: str, request: dict[str, Any]) -> dict[str, Any]:
    if action == "ChangeConfiguration" and is_secret_key(request.get("key")):
        return {**request, "value": REDACTED}
    if action == "SetVariables":
        redacted: dict[str, Any] = redact_variables(request)
        return redacted
    return request


def _redacted_answer(response: dict[str, Any]) -> dict[str, Any]:
    """An answer as the journal keeps it: a charger that lists its AuthorizationKey (or
    2.0.1 BasicAuthPassword) with its value does not get it kept in clear."""
    if "configuration_key" in response:
        keys = redact_configuration(response["configuration_key"])
        return {**response, "configuration_key": keys}
    redacted: dict[str, Any] = redact_variables(response)
    return redacted


def _json(data: Any) -> str:
    return orjson.dumps(data).decode()


def _profile_row(
    charge_point_id: str,
    connector_id: int,
    profile_id: int,
    profile: dict[str, Any],
    transaction_id: int | None,
) -> ChargingProfile:
    """A charging profile as kept (1.6 or 2.0.1, snake_case; the id is named apart)."""
    return ChargingProfile(
        charge_point_id=charge_point_id,
        connector_id=connector_id,
        charging_profile_id=profile_id,
        stack_level=profile["stack_level"],
        purpose=profile["charging_profile_purpose"],
        kind=profile["charging_profile_kind"],
        transaction_id=transaction_id,
        profile=_json(profile),
    )


def reservation_status(reservation: Reservation) -> str:
    if reservation.status == "Reserved" and reservation.expiry_date <= utcnow():
        return "Expired"
    return reservation.status


def _reservation_view(r: Reservation) -> ReservationView:
    return ReservationView(
        r.id,
        r.charge_point_id,
        r.connector_id,
        r.id_tag,
        r.parent_id_tag,
        r.expiry_date,
        reservation_status(r),
        r.transaction_id,
    )


class OperationService:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], bus: EventBus) -> None:
        self._sessions = sessions
        self._bus = bus

    # --- the journal --------------------------------------------------------------------

    async def begin(
        self,
        charge_point_id: str,
        action: str,
        request: dict[str, Any],
        requested_by: str | None,
    ) -> int:
        """Journal an operation about to be sent, audited as `requested_by`'s."""
        async with self._sessions.begin() as session:
            operation = Operation(
                charge_point_id=charge_point_id,
                action=action,
                request=_json(_redacted(action, request)),
                requested_by=requested_by,
                requested_at=utcnow(),
                outcome="pending",
            )
            session.add(operation)
            audit.add(session, requested_by, f"operation {action}", charge_point_id)
            await session.flush()
            return operation.id

    async def finish(
        self, operation_id: int, outcome: str, response: dict[str, Any] | None = None
    ) -> None:
        async with self._sessions.begin() as session:
            operation = await session.get(Operation, operation_id)
            if operation is None:
                return
            operation.outcome = outcome
            operation.response = _json(_redacted_answer(response)) if response is not None else None
            status = answer_status(response) if outcome == "answered" else None
            operation.status = status
            operation.answered_at = utcnow()
            charge_point_id, action = operation.charge_point_id, operation.action
        self._bus.publish(
            "operation", charge_point_id, action=action, outcome=outcome, status=status
        )

    async def remote_start(
        self, charge_point_id: str, remote_start_id: int, searched: int = 500
    ) -> OperationView | None:
        """The journalled RequestStartTransaction (2.0.1) that carried `remote_start_id`,
        among the charge point's newest `searched` of them."""
        async with self._sessions() as session:
            rows = (
                await session.scalars(
                    newest(
                        Operation,
                        Operation.charge_point_id == charge_point_id,
                        Operation.action == "RequestStartTransaction",
                        limit=searched,
                    )
                )
            ).all()
        for row in rows:
            request = orjson.loads(row.request)
            if request.get("remoteStartId", request.get("remote_start_id")) == remote_start_id:
                return _operation_view(row)
        return None

    async def journal(self, charge_point_id: str, limit: int = 50) -> list[OperationView]:
        return await self.search(JournalQuery(charge_point_id=charge_point_id, limit=limit))

    async def search(self, query: JournalQuery) -> list[OperationView]:
        """The journal entries `query` admits, newest first, paged by id (`before_id`):
        ix_operations_charge_point serves one charge point's at any depth, the primary
        key the fleet's."""
        where = []
        if query.charge_point_id is not None:
            where.append(Operation.charge_point_id == query.charge_point_id)
        if query.action:
            where.append(Operation.action == query.action)
        if query.since is not None:
            where.append(Operation.requested_at >= query.since)
        if query.until is not None:
            where.append(Operation.requested_at < query.until)
        statement = newest(Operation, *where, limit=query.limit, before=query.before_id)
        async with self._sessions() as session:
            rows = (await session.scalars(statement)).all()
        return [_operation_view(r) for r in rows]

    # --- state established by answers ------------------------------------------------

    async def configuration_read(self, charge_point_id: str, keys: list[dict[str, Any]]) -> None:
        """A 1.6 GetConfiguration answer's keys (snake_case), kept with their values."""
        async with self._sessions.begin() as session:
            if await session.get(ChargePoint, charge_point_id) is None:
                return
            for item in keys:
                await self._set_key(
                    session, charge_point_id, item["key"], item.get("value"), item["readonly"]
                )

    async def configuration_changed(self, charge_point_id: str, key: str, value: str) -> None:
        """A 1.6 ChangeConfiguration the charger accepted. A new AuthorizationKey becomes
        its key now, never before it has it (security profiles 1 and 2)."""
        # argon2 off the loop, before the transaction, not inside it.
        key_hash = await hash_password_async(value) if is_secret_key(key) else None
        async with self._sessions.begin() as session:
            cp = await session.get(ChargePoint, charge_point_id)
            if cp is None:
                return
            if key_hash is None:
                await self._set_key(session, charge_point_id, key, value)
                return
            cp.password_hash = key_hash
        LOGGER.info("%s: AuthorizationKey rotated", charge_point_id)

    async def reservation_cancelled(self, reservation_id: int) -> None:
        """A 1.6 CancelReservation the charger accepted."""
        async with self._sessions.begin() as session:
            reservation = await session.get(Reservation, reservation_id)
            if reservation is not None:
                reservation.status = "Cancelled"

    async def charging_profile_set(
        self, charge_point_id: str, connector_id: int, profile: dict[str, Any]
    ) -> None:
        """A 1.6 SetChargingProfile the charger accepted (the profile snake_case). It
        replaces a profile with the same id, or the same stack level and purpose on the
        connector (OCPP 1.6 3.13.2); so does the record of it."""
        async with self._sessions.begin() as session:
            if await session.get(ChargePoint, charge_point_id) is None:
                return
            await session.execute(
                delete(ChargingProfile).where(
                    ChargingProfile.charge_point_id == charge_point_id,
                    (ChargingProfile.charging_profile_id == profile["charging_profile_id"])
                    | (
                        (ChargingProfile.connector_id == connector_id)
                        & (ChargingProfile.stack_level == profile["stack_level"])
                        & (ChargingProfile.purpose == profile["charging_profile_purpose"])
                    ),
                )
            )
            session.add(
                _profile_row(
                    charge_point_id,
                    connector_id,
                    profile["charging_profile_id"],
                    profile,
                    profile.get("transaction_id"),
                )
            )

    @staticmethod
    async def _set_key(
        session: AsyncSession,
        charge_point_id: str,
        key: str,
        value: str | None,
        readonly: bool | None = None,
    ) -> None:
        if is_secret_key(key) and value is not None:
            value = REDACTED  # listed, never kept in clear
        row = await session.get(ConfigurationKey, (charge_point_id, key))
        if row is None:
            row = ConfigurationKey(charge_point_id=charge_point_id, key=key, readonly=False)
            session.add(row)
        row.value = value
        if readonly is not None:
            row.readonly = readonly
        row.updated_at = utcnow()

    # --- reading the state --------------------------------------------------------------

    async def configuration(self, charge_point_id: str) -> list[ConfigurationView]:
        async with self._sessions() as session:
            rows = (
                await session.scalars(
                    select(ConfigurationKey)
                    .where(ConfigurationKey.charge_point_id == charge_point_id)
                    .order_by(ConfigurationKey.key)
                )
            ).all()
        return [ConfigurationView(r.key, r.value, r.readonly, r.updated_at) for r in rows]

    async def is_readonly(self, charge_point_id: str, key: str) -> bool:
        async with self._sessions() as session:
            row = await session.get(ConfigurationKey, (charge_point_id, key))
        return bool(row and row.readonly)

    async def reservations(self, charge_point_id: str | None = None) -> list[ReservationView]:
        query = select(Reservation).order_by(Reservation.id.desc())
        if charge_point_id is not None:
            query = query.where(Reservation.charge_point_id == charge_point_id)
        async with self._sessions() as session:
            rows = (await session.scalars(query)).all()
        return [_reservation_view(r) for r in rows]

    async def reservation(self, reservation_id: int) -> ReservationView | None:
        async with self._sessions() as session:
            row = await session.get(Reservation, reservation_id)
        return _reservation_view(row) if row is not None else None

    async def reservation_ended(
        self, charge_point_id: str, reservation_id: int, update_status: str
    ) -> None:
        """2.0.1 ReservationStatusUpdate: the charger let a reservation expire (Expired) or
        dropped it (Removed)."""
        async with self._sessions.begin() as session:
            row = await session.get(Reservation, reservation_id)
            if row is None or row.charge_point_id != charge_point_id:
                LOGGER.info(
                    "%s: status update for unknown reservation %s", charge_point_id, reservation_id
                )
                return
            if row.status == "Reserved":
                row.status = "Expired" if update_status == "Expired" else "Cancelled"
        self._bus.publish(
            "reservation", charge_point_id, reservation_id=reservation_id, status=update_status
        )

    async def reserved(
        self,
        charge_point_id: str,
        reservation_id: int,
        evse_id: int,
        id_tag: str,
        parent_id_tag: str | None,
        expiry_date: datetime,
    ) -> None:
        """A ReserveNow the charger Accepted (2.0.1: the EVSE where the 1.6 connector is)."""
        async with self._sessions.begin() as session:
            await session.merge(
                Reservation(
                    id=reservation_id,
                    charge_point_id=charge_point_id,
                    connector_id=evse_id,
                    id_tag=id_tag,
                    parent_id_tag=parent_id_tag,
                    expiry_date=expiry_date,
                    status="Reserved",
                    transaction_id=None,
                )
            )

    async def set_local_list_version(
        self, charge_point_id: str, version: int, sent: bool = True
    ) -> None:
        """The charger's local list version; `sent`: the list we sent it (a Differential
        list holds what changed since)."""
        async with self._sessions.begin() as session:
            cp = await session.get(ChargePoint, charge_point_id)
            if cp is not None:
                cp.local_list_version = version
                if sent:
                    cp.local_list_sent_at = utcnow()

    async def reported_charging_profiles(
        self, charge_point_id: str, evse_id: int, profiles: list[dict[str, Any]]
    ) -> None:
        """2.0.1 ReportChargingProfiles: the profiles the charger holds on an EVSE (snake
        case), kept as those it accepted are (by EVSE and profile id)."""
        async with self._sessions.begin() as session:
            for profile in profiles:
                await session.execute(
                    delete(ChargingProfile).where(
                        ChargingProfile.charge_point_id == charge_point_id,
                        ChargingProfile.connector_id == evse_id,
                        ChargingProfile.charging_profile_id == profile["id"],
                    )
                )
                session.add(_profile_row(charge_point_id, evse_id, profile["id"], profile, None))

    async def charging_profiles_cleared(
        self,
        charge_point_id: str,
        profile_id: int | None = None,
        evse_id: int | None = None,
        purpose: str | None = None,
        stack_level: int | None = None,
    ) -> None:
        """A 2.0.1 ClearChargingProfile the charger Accepted: the profiles it named go."""
        query = delete(ChargingProfile).where(ChargingProfile.charge_point_id == charge_point_id)
        if profile_id is not None:
            query = query.where(ChargingProfile.charging_profile_id == profile_id)
        if evse_id is not None:
            query = query.where(ChargingProfile.connector_id == evse_id)
        if purpose is not None:
            query = query.where(ChargingProfile.purpose == purpose)
        if stack_level is not None:
            query = query.where(ChargingProfile.stack_level == stack_level)
        async with self._sessions.begin() as session:
            await session.execute(query)

    async def installed_certificates(
        self, charge_point_id: str, chains: list[dict[str, Any]], complete: bool
    ) -> None:
        """A 2.0.1 GetInstalledCertificateIds answer: the certificates the charger holds,
        by type and hash; with `complete` (all types asked) the list replaces what was kept."""
        async with self._sessions.begin() as session:
            if complete:
                await session.execute(
                    delete(InstalledCertificate).where(
                        InstalledCertificate.charge_point_id == charge_point_id
                    )
                )
            for chain in chains:
                data = chain["certificate_hash_data"]
                await session.merge(
                    InstalledCertificate(
                        charge_point_id=charge_point_id,
                        serial_number=data["serial_number"],
                        issuer_name_hash=data["issuer_name_hash"],
                        certificate_type=chain.get("certificate_type"),
                        hash_data=_json(chain),
                        updated_at=utcnow(),
                    )
                )

    async def certificates(self, charge_point_id: str) -> list[dict[str, Any]]:
        async with self._sessions() as session:
            rows = (
                await session.scalars(
                    select(InstalledCertificate)
                    .where(InstalledCertificate.charge_point_id == charge_point_id)
                    .order_by(InstalledCertificate.certificate_type)
                )
            ).all()
        return [
            {"certificate_type": r.certificate_type, "serial_number": r.serial_number,
             "updated_at": r.updated_at}
            for r in rows
        ]  # fmt: skip

    async def next_reservation_id(self) -> int:
        async with self._sessions() as session:
            return int(await session.scalar(select(func.max(Reservation.id))) or 0) + 1

    async def charging_profiles(self, charge_point_id: str) -> list[ChargingProfileView]:
        async with self._sessions() as session:
            rows = (
                await session.scalars(
                    select(ChargingProfile)
                    .where(ChargingProfile.charge_point_id == charge_point_id)
                    .order_by(ChargingProfile.connector_id, ChargingProfile.stack_level)
                )
            ).all()
        return [
            ChargingProfileView(
                r.connector_id,
                r.charging_profile_id,
                r.stack_level,
                r.purpose,
                r.kind,
                r.transaction_id,
                orjson.loads(r.profile),
                r.created_at,
            )
            for r in rows
        ]

    async def next_local_list_version(self, charge_point_id: str) -> int:
        async with self._sessions() as session:
            cp = await session.get(ChargePoint, charge_point_id)
            return (cp.local_list_version or 0) + 1 if cp is not None else 1

    async def local_list(
        self, charge_point_id: str, update_type: str
    ) -> tuple[int, list[dict[str, Any]]]:
        """The next list version and the entries for a SendLocalList built from the id-tag
        table: all tags (Full), or those changed since the last list sent (Differential)."""
        async with self._sessions() as session:
            cp = await session.get(ChargePoint, charge_point_id)
            version = (cp.local_list_version or 0) + 1 if cp is not None else 1
            query = select(IdTag).order_by(IdTag.id_tag)
            if update_type == "Differential" and cp is not None and cp.local_list_sent_at:
                query = query.where(IdTag.updated_at > cp.local_list_sent_at)
            tags = (await session.scalars(query)).all()
        entries = []
        for tag in tags:
            info: dict[str, Any] = {"status": "Blocked" if tag.blocked else "Accepted"}
            if tag.expiry_date is not None:
                info["expiry_date"] = format_datetime(tag.expiry_date)
                if tag.expiry_date <= utcnow() and not tag.blocked:
                    info["status"] = "Expired"
            if tag.parent_id_tag:
                info["parent_id_tag"] = tag.parent_id_tag
            entries.append({"id_tag": tag.id_tag, "id_tag_info": info})
        return version, entries
