"""Admission: whether a WebSocket upgrade request may become a charge point's connection,
decided before the upgrade (unknown ids registered as UNKNOWN_CHARGE_POINTS says, keys and
client certificates checked), and what the connection then needs to know."""

from __future__ import annotations

import dataclasses
import enum
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ocpp_core import versions
from ocpp_core.db import outbox
from ocpp_core.db.group_commit import GroupCommit
from ocpp_core.db.models import ChargePoint, utcnow
from ocpp_core.passwords import verify_password_async
from ocpp_core.services.charge_points import MAX_CHARGE_POINT_ID_LENGTH
from ocpp_core.services.registration import STATUS_BY_POLICY
from ocpp_core.settings import Settings

LOGGER = logging.getLogger(__name__)


class Admission(enum.Enum):
    """What to do with a WebSocket upgrade request, decided before upgrading."""

    ACCEPT = "accept"
    UNKNOWN = "unknown"  # HTTP 404
    UNAUTHORIZED = "unauthorized"  # HTTP 401
    WRONG_CERTIFICATE = "wrong_certificate"  # HTTP 403: its CN is another serial number
    # The handshake completes without a subprotocol and the socket is closed at once.
    NO_SUBPROTOCOL = "no_subprotocol"


@dataclass(frozen=True)
class ConnectionProfile:
    """What a new connection needs to know of its charge point, read in one go."""

    registration_status: str
    # None: the global WS_PING_INTERVAL; 0: no pings.
    ping_interval: int | None
    lenient: bool
    # The version this connection speaks (set by admission from the offered subprotocols).
    ocpp_version: str | None = None


@dataclass(frozen=True)
class _AdmissionFacts:
    profile: ConnectionProfile | None
    password_hash: str | None
    serials: frozenset[str]
    created: bool = False
    needs_certificate: bool = False
    pinned_ocpp_version: str | None = None


# Built once: read at every connection, 10,000 of them after a restart.
_CHARGE_POINTS = ChargePoint.__table__
_ADMISSION_FACTS = select(
    _CHARGE_POINTS.c.id,
    _CHARGE_POINTS.c.password_hash,
    _CHARGE_POINTS.c.registration_status,
    _CHARGE_POINTS.c.serial_number,
    _CHARGE_POINTS.c.charge_box_serial_number,
    _CHARGE_POINTS.c.ping_interval,
    _CHARGE_POINTS.c.lenient,
    _CHARGE_POINTS.c.pinned_ocpp_version,
).where(_CHARGE_POINTS.c.id.in_(bindparam("ids", expanding=True)))
_REGISTER = insert(_CHARGE_POINTS)
# A new connection: heard from now, and connected since now.
_NOTE_SEEN = (
    update(_CHARGE_POINTS)
    .where(_CHARGE_POINTS.c.id == bindparam("seen_id"))
    .values(
        last_seen_at=bindparam("seen_at"),
        connected_at=bindparam("seen_at"),
        ocpp_version=bindparam("seen_version"),
    )
)


@dataclass(frozen=True)
class SeenWrite:
    """A new connection: when the charge point was last heard of."""

    batched: ClassVar[bool] = True
    charge_point_id: str
    at: datetime
    ocpp_version: str | None

    @classmethod
    async def write_all(cls, session: AsyncSession, items: list[SeenWrite]) -> list[None]:
        await session.execute(
            _NOTE_SEEN,
            [
                {"seen_id": item.charge_point_id, "seen_at": item.at,
                 "seen_version": item.ocpp_version}
                for item in items
            ],
        )  # fmt: skip
        for item in items:
            _record_connected(session, item.charge_point_id, item.ocpp_version)
        return [None] * len(items)


def _record_connected(session: AsyncSession, charge_point_id: str, version: str | None) -> None:
    """Admitted: `connected_at` is written with this event. (An upgrade that then fails
    is rare, and the charge point's record says `connected` just as this does.)"""
    outbox.record(session, "connected", charge_point_id, ocpp_version=version)


@dataclass(frozen=True)
class AdmissionWrite:
    """A new connection's admission: the facts of all of a transaction's charge points in
    one SELECT, unknown ones registered as the policy says (one INSERT for all), and each
    one that needs no password check decided and noted as seen in the same transaction
    (one UPDATE for all). The result: the facts (None: refused as unknown) and the
    admission, None where a password is to be checked, which takes argon2 and is not done
    here."""

    batched: ClassVar[bool] = True
    settings: Settings
    charge_point_id: str
    password: str | None
    certificate_cn: str | None
    # The subprotocols the client offered, in its order.
    offered: tuple[str, ...] = ("ocpp1.6",)

    @classmethod
    async def write_all(
        cls, session: AsyncSession, items: list[AdmissionWrite]
    ) -> list[tuple[_AdmissionFacts | None, Admission | None]]:
        ids = list({item.charge_point_id for item in items})
        known = {
            row.id: _AdmissionFacts(
                ConnectionProfile(row.registration_status, row.ping_interval, row.lenient),
                row.password_hash,
                frozenset({row.serial_number, row.charge_box_serial_number} - {None}),
                pinned_ocpp_version=row.pinned_ocpp_version,
            )
            for row in await session.execute(_ADMISSION_FACTS, {"ids": ids})
        }
        now = utcnow()
        results: list[tuple[_AdmissionFacts | None, Admission | None]] = []
        registered: list[dict[str, object]] = []
        seen: list[dict[str, object]] = []
        room: float | None = None  # how many more may be registered, counted when needed
        for item in items:
            facts = known.get(item.charge_point_id)
            pinned = facts.pinned_ocpp_version if facts is not None else None
            version = versions.choose(item.offered, pinned)
            if version is None:
                # Nothing offered it may speak: refused before anything is registered.
                results.append((facts, Admission.NO_SUBPROTOCOL))
                continue
            if facts is None:
                facts = item._unknown()
                if facts is not None and facts.created:
                    if room is None:
                        room = await _room_for_new(session, item.settings)
                    if room < 1:
                        LOGGER.warning(
                            "%r: not registered, MAX_CHARGE_POINTS (%d) are registered",
                            item.charge_point_id,
                            item.settings.max_charge_points,
                        )
                        results.append((None, None))
                        continue
                    room -= 1
                    assert facts.profile is not None  # registered: it has a status
                    registered.append(
                        {
                            "id": item.charge_point_id,
                            "registration_status": facts.profile.registration_status,
                            "last_seen_at": now,
                            "connected_at": now,
                            "ocpp_version": version,
                        }
                    )
                    # Registered now: the same id again in this batch is a known one.
                    known[item.charge_point_id] = dataclasses.replace(facts, created=False)
            if facts is not None and facts.profile is not None:
                profile = dataclasses.replace(facts.profile, ocpp_version=version)
                facts = dataclasses.replace(facts, profile=profile)
            admission = None if facts is None else _decide_now(item, facts)
            if admission is Admission.ACCEPT and facts is not None and not facts.created:
                seen.append(
                    {"seen_id": item.charge_point_id, "seen_at": now, "seen_version": version}
                )
            results.append((facts, admission))
        # A first connection storm (a fleet moved to Voltaro) registers thousands: one
        # statement for all, not one built and run for each.
        if registered:
            await session.execute(_REGISTER, registered)
        if seen:
            await session.execute(_NOTE_SEEN, seen)
        for row in registered:
            _record_connected(session, str(row["id"]), str(row["ocpp_version"]))
        for row in seen:
            _record_connected(session, str(row["seen_id"]), str(row["seen_version"]))
        return results

    def _unknown(self) -> _AdmissionFacts | None:
        """What an unknown id gets: registered (`created`) if the policy lets it in and,
        with client certificates required, it presented one. None: refused as unknown."""
        status = STATUS_BY_POLICY[self.settings.unknown_charge_points]
        if status is None:
            return None
        if self.settings.client_certificates and self.certificate_cn is None:
            return _AdmissionFacts(None, None, frozenset(), created=False, needs_certificate=True)
        return _AdmissionFacts(ConnectionProfile(status, None, False), None, frozenset(), True)


async def _room_for_new(session: AsyncSession, settings: Settings) -> float:
    """How many more charge points the policy may register: under `accept` anyone can
    invent ids, and each is a row kept for good."""
    if settings.max_charge_points <= 0:
        return float("inf")
    count = await session.scalar(select(func.count()).select_from(_CHARGE_POINTS))
    return settings.max_charge_points - (count or 0)


def _decide_now(check: AdmissionWrite, facts: _AdmissionFacts) -> Admission | None:
    """The admission, unless a password must be checked (None)."""
    if facts.needs_certificate:
        return Admission.UNAUTHORIZED
    if facts.created:
        return Admission.ACCEPT
    if check.certificate_cn is not None:
        if facts.serials:
            if check.certificate_cn not in facts.serials:
                return Admission.WRONG_CERTIFICATE
            return Admission.ACCEPT
        # No serial bound yet: any certificate of the CA would do, so a charger with a key
        # proves itself with the key until a boot it authenticated (or an operator) binds
        # its serial.
        if facts.password_hash is None:
            return Admission.ACCEPT
    if facts.password_hash is not None:
        return None if check.password is not None else Admission.UNAUTHORIZED
    return Admission.UNAUTHORIZED if check.settings.client_certificates else Admission.ACCEPT


class AdmissionService:
    def __init__(self, settings: Settings, writes: GroupCommit) -> None:
        self._settings = settings
        # Admissions of a connection storm share the group commit's transactions.
        self._writes = writes

    async def admit(
        self,
        charge_point_id: str,
        password: str | None,
        certificate_cn: str | None = None,
        offered: tuple[str, ...] = ("ocpp1.6",),
    ) -> tuple[Admission, ConnectionProfile | None]:
        """Decide on an upgrade request: unknown ids follow UNKNOWN_CHARGE_POINTS. An
        admitted charge point is noted as seen, and what its connection needs comes back.

        Security profile 3: a verified client certificate whose CN is the charge point's
        serial number (once one is known) is enough. Otherwise a charge point with a key
        must send it (profiles 1 and 2), and with TLS_CLIENT_CA set one without a key must
        present a certificate.
        """
        if len(charge_point_id) > MAX_CHARGE_POINT_ID_LENGTH:
            return Admission.UNKNOWN, None
        facts, admission = await self._writes.run(
            AdmissionWrite(self._settings, charge_point_id, password, certificate_cn, offered)
        )
        if admission is Admission.NO_SUBPROTOCOL:
            return admission, None
        if facts is None:
            return Admission.UNKNOWN, None
        if admission is None:  # its key, checked here rather than in the transaction
            assert facts.password_hash is not None and password is not None
            # argon2 is slow: off the loop, so the other chargers' messages are answered
            # meanwhile (raises passwords.Busy when too many wait).
            if not await verify_password_async(facts.password_hash, password):
                return Admission.UNAUTHORIZED, None
            admission = Admission.ACCEPT
            assert facts.profile is not None
            await self._writes.run(SeenWrite(charge_point_id, utcnow(), facts.profile.ocpp_version))
        if admission is not Admission.ACCEPT:
            return admission, None
        assert facts.profile is not None  # only one refused for its certificate has none
        if facts.created:
            # Logged here, after the commit: a batch that fails runs its works again.
            LOGGER.info(
                "Registered new charge point %r as %s",
                charge_point_id,
                facts.profile.registration_status,
            )
        return admission, facts.profile
