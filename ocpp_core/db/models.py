"""The database schema. Every change here needs an alembic migration."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
    text,
    true,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from ocpp_core.db.ci_string import folded

# Stable constraint names on SQLite and PostgreSQL alike, so migrations can refer to them.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on both back ends (SQLite keeps no zone of its own)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def bind_processor(self, dialect: Dialect) -> Callable[[datetime | None], Any] | None:
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)

        # SQLite: the text SQLAlchemy's DATETIME stores ("2026-12-02 04:18:17.036000"),
        # made by datetime's own isoformat in one step, not by the generic path (this
        # decorator, then DATETIME's %-formatting of eight fields): every sample row has
        # two datetimes.
        def process(value: datetime | None) -> str | None:
            if value is None:
                return None
            if value.tzinfo is not None:
                value = value.astimezone(UTC).replace(tzinfo=None)
            return value.isoformat(" ", "microseconds")

        return process

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)

    if TYPE_CHECKING:
        # Every model here is mapped to a table of its own, never to a join or a
        # subquery, which the library's `FromClause` allows for.
        __table__: ClassVar[Table]


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PortalSession(Base):
    """A logged-in browser. The cookie names it; logout, a password or role change and the
    account's removal delete it, so a copied cookie stops working at once."""

    __tablename__ = "portal_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ApiToken(Base):
    """A named secret an account gives a script for the JSON API (`Authorization: Bearer`).

    Only a SHA-256 of the secret is kept, not an argon2 hash as for passwords: the secret
    is 32 random bytes, which no amount of fast hashing can guess back from its digest,
    and argon2's deliberate slowness would be paid on every API request instead."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    # The role granted; the role in force is never above the owner's current one.
    role: Mapped[str] = mapped_column(String(16))
    # The secret's first characters, not secret: to recognise it in lists and find its row.
    prefix: Mapped[str] = mapped_column(String(16), index=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ChargePoint(Base):
    __tablename__ = "charge_points"

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    # Security profile 1: argon2 hash of the AuthorizationKey; NULL means no Basic auth.
    password_hash: Mapped[str | None] = mapped_column(String(255))
    registration_status: Mapped[str] = mapped_column(String(16), default="Accepted")
    vendor: Mapped[str | None] = mapped_column(String(255))
    model: Mapped[str | None] = mapped_column(String(255))
    serial_number: Mapped[str | None] = mapped_column(String(255))
    charge_box_serial_number: Mapped[str | None] = mapped_column(String(255))
    firmware_version: Mapped[str | None] = mapped_column(String(255))
    iccid: Mapped[str | None] = mapped_column(String(255))
    imsi: Mapped[str | None] = mapped_column(String(255))
    meter_type: Mapped[str | None] = mapped_column(String(255))
    meter_serial_number: Mapped[str | None] = mapped_column(String(255))
    last_boot_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When it was last heard from: its last message, persisted at heartbeats, boots,
    # connections and disconnection (the live value is the connection's, in memory).
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When its newest connection opened, and when its last one closed.
    connected_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    disconnected_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    diagnostics_status: Mapped[str | None] = mapped_column(String(32))
    diagnostics_status_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    firmware_status: Mapped[str | None] = mapped_column(String(32))
    firmware_status_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The local authorisation list: the version the charge point last accepted or reported.
    local_list_version: Mapped[int | None] = mapped_column(Integer)
    local_list_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # WebSocket ping interval for this charger: None uses WS_PING_INTERVAL, 0 turns pings
    # off (for chargers that cannot answer them, HA-ocpp #211).
    ping_interval: Mapped[int | None] = mapped_column(Integer)
    # Lenient mode: schema violations with a clear meaning are tolerated and recorded as
    # ProtocolDeviation rows instead of being refused (non-conformant chargers).
    lenient: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # The OCPP version of its newest connection ("1.6", "2.0.1"); None before it connects.
    ocpp_version: Mapped[str | None] = mapped_column(String(8))
    # Set by an operator: the only version this charge point may connect with.
    pinned_ocpp_version: Mapped[str | None] = mapped_column(String(8))
    # 2.0.1 BootNotification's reason (PowerUp, RemoteReset, Watchdog, ...).
    boot_reason: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Connector(Base):
    """Current status of one connector. 1.6: `evse_id` 0, connector 0 is the charge point
    itself. 2.0.1: a connector of an EVSE (both numbered from 1)."""

    __tablename__ = "connectors"

    charge_point_id: Mapped[str] = mapped_column(
        ForeignKey("charge_points.id", ondelete="CASCADE"), primary_key=True
    )
    evse_id: Mapped[int] = mapped_column(
        Integer, primary_key=True, autoincrement=False, default=0, server_default="0"
    )
    connector_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    status: Mapped[str] = mapped_column(String(32))
    error_code: Mapped[str] = mapped_column(String(32))
    info: Mapped[str | None] = mapped_column(String(255))
    vendor_id: Mapped[str | None] = mapped_column(String(255))
    vendor_error_code: Mapped[str | None] = mapped_column(String(255))
    timestamp: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class StatusNotification(Base):
    """Every StatusNotification as received: the connector history."""

    __tablename__ = "status_notifications"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    charge_point_id: Mapped[str] = mapped_column(
        ForeignKey("charge_points.id", ondelete="CASCADE"), index=True
    )
    evse_id: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    connector_id: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(32))
    error_code: Mapped[str] = mapped_column(String(32))
    info: Mapped[str | None] = mapped_column(String(255))
    vendor_id: Mapped[str | None] = mapped_column(String(255))
    vendor_error_code: Mapped[str | None] = mapped_column(String(255))
    timestamp: Mapped[datetime | None] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class IdTag(Base):
    __tablename__ = "id_tags"

    # 1.6 IdToken is CiString20, 2.0.1 IdToken.idToken CiString36.
    id_tag: Mapped[str] = mapped_column(String(36), primary_key=True)
    parent_id_tag: Mapped[str | None] = mapped_column(String(36))
    expiry_date: Mapped[datetime | None] = mapped_column(UTCDateTime)
    blocked: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # For differential local list updates: what changed since the last one sent.
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


# Id tags are case-insensitive (ci_string): one tag whatever its case, found by this index.
Index("uq_id_tags_lower_id_tag", folded(IdTag.id_tag), unique=True)


class Transaction(Base):
    __tablename__ = "transactions"
    __table_args__ = (
        # What identifies a replayed 1.6 StartTransaction (lost answer, charger retries).
        # Not 2.0.1 sessions: their transactionId tells one from another, and a station
        # whose clock stands still starts two with the same connector, tag, time and meter.
        Index(
            "uq_transactions_v16_start_identity",
            "charge_point_id",
            "connector_id",
            "id_tag",
            "start_time",
            "meter_start",
            unique=True,
            sqlite_where=text("ocpp_transaction_id IS NULL"),
            postgresql_where=text("ocpp_transaction_id IS NULL"),
        ),
        Index("ix_transactions_active", "charge_point_id", "stop_time"),
        # A 2.0.1 charger's transactionId names one session of that charger.
        Index(
            "uq_transactions_ocpp_transaction_id",
            "charge_point_id",
            "ocpp_transaction_id",
            unique=True,
        ),
        # Retention: the closed sessions whose samples are still all kept, by when they
        # ended (services.retention walks it); a pruned session leaves it.
        Index(
            "ix_transactions_samples_kept",
            "stop_time",
            "id",
            sqlite_where=text("meter_values_pruned_at IS NULL"),
            postgresql_where=text("meter_values_pruned_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # No cascade: sessions are billing records and outlive nothing by accident.
    charge_point_id: Mapped[str] = mapped_column(ForeignKey("charge_points.id"), index=True)
    connector_id: Mapped[int] = mapped_column(Integer)
    # 2.0.1: the EVSE, and the charger's own transactionId (1.6 sessions: None).
    evse_id: Mapped[int | None] = mapped_column(Integer)
    ocpp_transaction_id: Mapped[str | None] = mapped_column(String(36))
    # 2.0.1 sessions may start before their idToken is known (it comes in a later event).
    id_tag: Mapped[str | None] = mapped_column(String(36))
    id_token_type: Mapped[str | None] = mapped_column(String(20))
    # The status the id tag had when the session started, as answered to the charger.
    id_tag_status: Mapped[str | None] = mapped_column(String(16))
    # 2.0.1: the first energy register reading (Wh), None until one arrives.
    meter_start: Mapped[int | None] = mapped_column(BigInteger)
    start_time: Mapped[datetime] = mapped_column(UTCDateTime)
    reservation_id: Mapped[int | None] = mapped_column(Integer)
    meter_stop: Mapped[int | None] = mapped_column(BigInteger)
    stop_time: Mapped[datetime | None] = mapped_column(UTCDateTime)
    stop_reason: Mapped[str | None] = mapped_column(String(32))
    stop_id_tag: Mapped[str | None] = mapped_column(String(36))
    # 2.0.1: the charging state (of the highest seqNo received) and the remoteStartId.
    charging_state: Mapped[str | None] = mapped_column(String(20))
    remote_start_id: Mapped[int | None] = mapped_column(Integer)
    # What an operator should look at, comma-separated (see services.session_flags).
    flags: Mapped[str] = mapped_column(String(255), default="", server_default="")
    closed_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Retention (RETAIN_METER_VALUES_DAYS): when the closed session's samples were looked
    # at for pruning, and how many were removed (0: none, all kept). Its meter readings
    # and energy stay either way.
    meter_values_pruned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    meter_values_pruned: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


# An id tag's open session (ConcurrentTx, at every Authorize and start) without reading the
# tag's whole history (a fleet card has thousands of sessions), in whatever case the charger
# spelled it (ci_string).
Index("ix_transactions_tag_lower_active", folded(Transaction.id_tag), Transaction.stop_time)


class MeterValue(Base):
    """One sampled value. `transaction_id` is set only when it names this charge point's own
    transaction; `claimed_transaction_id` keeps what the charger said either way."""

    __tablename__ = "meter_values"
    __table_args__ = (
        # The only index, one entry a sample (each entry is much of what storing one costs):
        # a session's samples (its charger and id), a charger's samples of no session
        # (transaction_id IS NULL), and the foreign key's check when a charge point is
        # removed, which without an index led by charge_point_id reads the whole table.
        Index("ix_meter_values_charge_point", "charge_point_id", "transaction_id", "timestamp"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    charge_point_id: Mapped[str] = mapped_column(ForeignKey("charge_points.id"))
    connector_id: Mapped[int] = mapped_column(Integer)
    transaction_id: Mapped[int | None] = mapped_column(
        ForeignKey("transactions.id", ondelete="SET NULL")
    )
    claimed_transaction_id: Mapped[int | None] = mapped_column(Integer)
    # 2.0.1: the EVSE it was measured on (None: 1.6, or the whole station).
    evse_id: Mapped[int | None] = mapped_column(Integer)
    timestamp: Mapped[datetime] = mapped_column(UTCDateTime)
    # OCPP 1.6 sets no length to a reading.
    value: Mapped[str] = mapped_column(Text)
    measurand: Mapped[str] = mapped_column(String(64))
    unit: Mapped[str | None] = mapped_column(String(16))
    phase: Mapped[str | None] = mapped_column(String(8))
    context: Mapped[str | None] = mapped_column(String(32))
    location: Mapped[str | None] = mapped_column(String(16))
    format: Mapped[str | None] = mapped_column(String(16))
    # "MeterValues", "StopTransaction" (transactionData) or "TransactionEvent".
    source: Mapped[str] = mapped_column(String(16))
    # "unknown_transaction" / "foreign_transaction": kept, applied to no session.
    flag: Mapped[str | None] = mapped_column(String(32))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DataTransferMessage(Base):
    __tablename__ = "data_transfers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    charge_point_id: Mapped[str] = mapped_column(
        ForeignKey("charge_points.id", ondelete="CASCADE"), index=True
    )
    vendor_id: Mapped[str] = mapped_column(String(255))
    message_id: Mapped[str | None] = mapped_column(String(50))
    data: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class StatusReport(Base):
    """Diagnostics and firmware status notifications, kept as a history."""

    __tablename__ = "status_reports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    charge_point_id: Mapped[str] = mapped_column(
        ForeignKey("charge_points.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))  # "diagnostics" | "firmware"
    status: Mapped[str] = mapped_column(String(32))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class OcppMessage(Base):
    """The OCPP message log: every frame in both directions, secrets redacted."""

    __tablename__ = "ocpp_messages"
    __table_args__ = (Index("ix_ocpp_messages_charge_point", "charge_point_id", "id"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    # No foreign key: frames from ids refused at the door or since removed are kept too.
    charge_point_id: Mapped[str] = mapped_column(String(255))
    direction: Mapped[str] = mapped_column(String(3))  # "in" | "out"
    message_type: Mapped[int | None] = mapped_column(Integer)
    unique_id: Mapped[str | None] = mapped_column(String(64))
    action: Mapped[str | None] = mapped_column(String(64))
    payload: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Operation(Base):
    """Every operation sent to a charge point: who asked, what, and how it was answered."""

    __tablename__ = "operations"
    __table_args__ = (Index("ix_operations_charge_point", "charge_point_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # No foreign key: the journal outlives removed charge points.
    charge_point_id: Mapped[str] = mapped_column(String(255))
    action: Mapped[str] = mapped_column(String(64))
    request: Mapped[str] = mapped_column(Text)
    requested_by: Mapped[str | None] = mapped_column(String(64))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # pending | answered | callerror | timeout | not_connected | invalid_reply | not_accepted
    outcome: Mapped[str] = mapped_column(String(16), default="pending")
    status: Mapped[str | None] = mapped_column(String(32))  # the answer's status field
    response: Mapped[str | None] = mapped_column(Text)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ConfigurationKey(Base):
    """A configuration key as last read from (or accepted by) the charge point."""

    __tablename__ = "configuration_keys"

    charge_point_id: Mapped[str] = mapped_column(
        ForeignKey("charge_points.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(50), primary_key=True)
    value: Mapped[str | None] = mapped_column(Text)
    readonly: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Reservation(Base):
    __tablename__ = "reservations"

    # The id the central system gave it in ReserveNow.
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    charge_point_id: Mapped[str] = mapped_column(
        ForeignKey("charge_points.id", ondelete="CASCADE"), index=True
    )
    # 1.6: the connector; 2.0.1: the EVSE (0 where the reservation names none).
    connector_id: Mapped[int] = mapped_column(Integer)
    id_tag: Mapped[str] = mapped_column(String(36))
    parent_id_tag: Mapped[str | None] = mapped_column(String(36))
    expiry_date: Mapped[datetime] = mapped_column(UTCDateTime)
    # Reserved | Used | Cancelled (Expired is derived from expiry_date)
    status: Mapped[str] = mapped_column(String(16), default="Reserved")
    transaction_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ChargingProfile(Base):
    """A charging profile the charge point accepted (SetChargingProfile)."""

    __tablename__ = "charging_profiles"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    charge_point_id: Mapped[str] = mapped_column(
        ForeignKey("charge_points.id", ondelete="CASCADE"), index=True
    )
    connector_id: Mapped[int] = mapped_column(Integer)
    charging_profile_id: Mapped[int] = mapped_column(Integer)
    stack_level: Mapped[int] = mapped_column(Integer)
    purpose: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16))
    transaction_id: Mapped[int | None] = mapped_column(Integer)
    profile: Mapped[str] = mapped_column(Text)  # the whole csChargingProfiles, JSON
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AuditEntry(Base):
    """Who changed what: accounts, charge points, id tags, sessions, and every operation."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(255))
    detail: Mapped[str | None] = mapped_column(Text)


class SecurityEvent(Base):
    """SecurityEventNotification (OCPP 1.6 security extension), as the charger reported it."""

    __tablename__ = "security_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    charge_point_id: Mapped[str] = mapped_column(
        ForeignKey("charge_points.id", ondelete="CASCADE"), index=True
    )
    type: Mapped[str] = mapped_column(String(64))
    timestamp: Mapped[datetime] = mapped_column(UTCDateTime)
    tech_info: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ProtocolDeviation(Base):
    """A frame a charge point in lenient mode sent outside OCPP 1.6, accepted as read: the
    raw frame is kept as evidence, with what was tolerated or repaired."""

    __tablename__ = "protocol_deviations"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    charge_point_id: Mapped[str] = mapped_column(
        ForeignKey("charge_points.id", ondelete="CASCADE"), index=True
    )
    unique_id: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    # One deviation per line.
    deviations: Mapped[str] = mapped_column(Text)
    frame: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Instance(Base):
    """A running `python -m webapp` process sharing this database. It renews `expires_at`
    while alive; once that has passed it is dead and its charge points count as offline."""

    __tablename__ = "instances"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class ChargePointConnection(Base):
    """Which instance holds a charge point's WebSocket: the newest connection's."""

    __tablename__ = "charge_point_connections"

    charge_point_id: Mapped[str] = mapped_column(
        ForeignKey("charge_points.id", ondelete="CASCADE"), primary_key=True
    )
    instance_id: Mapped[str] = mapped_column(
        ForeignKey("instances.id", ondelete="CASCADE"), index=True
    )
    connected_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ClusterMessage(Base):
    """A message between instances too big for a NOTIFY payload: NOTIFY carries its id."""

    __tablename__ = "cluster_messages"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class TransactionEvent(Base):
    """A 2.0.1 TransactionEvent, stored once: a charger sends one again when our answer was
    lost, and offline events late and out of order; `seq_no` orders a transaction's own."""

    __tablename__ = "transaction_events"
    __table_args__ = (
        UniqueConstraint(
            "charge_point_id",
            "ocpp_transaction_id",
            "seq_no",
            name="uq_transaction_events_seq_no",
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    charge_point_id: Mapped[str] = mapped_column(ForeignKey("charge_points.id"))
    transaction_id: Mapped[int | None] = mapped_column(
        ForeignKey("transactions.id", ondelete="SET NULL"), index=True
    )
    ocpp_transaction_id: Mapped[str] = mapped_column(String(36))
    seq_no: Mapped[int] = mapped_column(Integer)
    event_type: Mapped[str] = mapped_column(String(8))  # Started | Updated | Ended
    trigger_reason: Mapped[str] = mapped_column(String(32))
    timestamp: Mapped[datetime] = mapped_column(UTCDateTime)
    offline: Mapped[bool] = mapped_column(Boolean, default=False)
    # The event's payload as sent (JSON), meter values included.
    payload: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DeviceVariable(Base):
    """One attribute of one variable of a 2.0.1 charger's device model, as last reported
    (NotifyReport) or read and written (GetVariables, SetVariables). Key columns hold '' and
    -1 for "none", so the unique key works alike on both databases (NULLs never collide)."""

    __tablename__ = "device_variables"
    __table_args__ = (
        UniqueConstraint(
            "charge_point_id",
            "component",
            "component_instance",
            "evse_id",
            "connector_id",
            "variable",
            "variable_instance",
            "attribute_type",
            name="uq_device_variables_key",
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    charge_point_id: Mapped[str] = mapped_column(ForeignKey("charge_points.id", ondelete="CASCADE"))
    component: Mapped[str] = mapped_column(String(50))
    component_instance: Mapped[str] = mapped_column(String(50), default="")
    evse_id: Mapped[int] = mapped_column(Integer, default=-1)
    connector_id: Mapped[int] = mapped_column(Integer, default=-1)
    variable: Mapped[str] = mapped_column(String(50))
    variable_instance: Mapped[str] = mapped_column(String(50), default="")
    attribute_type: Mapped[str] = mapped_column(String(8), default="Actual")
    value: Mapped[str | None] = mapped_column(Text)
    mutability: Mapped[str | None] = mapped_column(String(10))
    persistent: Mapped[bool | None] = mapped_column(Boolean)
    constant: Mapped[bool | None] = mapped_column(Boolean)
    data_type: Mapped[str | None] = mapped_column(String(20))
    unit: Mapped[str | None] = mapped_column(String(16))
    min_limit: Mapped[str | None] = mapped_column(String(32))
    max_limit: Mapped[str | None] = mapped_column(String(32))
    values_list: Mapped[str | None] = mapped_column(Text)
    supports_monitoring: Mapped[bool | None] = mapped_column(Boolean)
    # The last SetVariables answered RebootRequired: the value applies after a reset.
    reboot_required: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # NotifyReport | GetVariables | SetVariables: where `value` came from.
    source: Mapped[str] = mapped_column(String(16))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ChargePointNotification(Base):
    """A 2.0.1 report or notification kept as sent, for those with no table of their own
    (NotifyEvent, NotifyChargingLimit, NotifyEVChargingNeeds, NotifyDisplayMessages, ...):
    the action, its request id where it answers one, a one-line summary, the payload."""

    __tablename__ = "charge_point_notifications"
    __table_args__ = (Index("ix_charge_point_notifications_charge_point", "charge_point_id", "id"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    charge_point_id: Mapped[str] = mapped_column(ForeignKey("charge_points.id", ondelete="CASCADE"))
    action: Mapped[str] = mapped_column(String(64))
    request_id: Mapped[int | None] = mapped_column(Integer)
    summary: Mapped[str] = mapped_column(Text)
    payload: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DisplayMessage(Base):
    """A 2.0.1 display message the charger accepted (SetDisplayMessage) or reported."""

    __tablename__ = "display_messages"

    charge_point_id: Mapped[str] = mapped_column(
        ForeignKey("charge_points.id", ondelete="CASCADE"), primary_key=True
    )
    message_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    priority: Mapped[str] = mapped_column(String(16))
    state: Mapped[str | None] = mapped_column(String(16))
    message: Mapped[str] = mapped_column(Text)  # the whole MessageInfo, JSON
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class VariableMonitor(Base):
    """A 2.0.1 variable monitor the charger set (SetVariableMonitoring) or reported."""

    __tablename__ = "variable_monitors"

    charge_point_id: Mapped[str] = mapped_column(
        ForeignKey("charge_points.id", ondelete="CASCADE"), primary_key=True
    )
    monitor_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    component: Mapped[str] = mapped_column(String(50))
    variable: Mapped[str] = mapped_column(String(50))
    type: Mapped[str] = mapped_column(String(24))
    value: Mapped[str] = mapped_column(String(32))
    severity: Mapped[int] = mapped_column(Integer)
    monitor: Mapped[str] = mapped_column(Text)  # as set or reported, JSON
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class InstalledCertificate(Base):
    """A certificate a charger reported installed (GetInstalledCertificateIds), by hash."""

    __tablename__ = "installed_certificates"

    charge_point_id: Mapped[str] = mapped_column(
        ForeignKey("charge_points.id", ondelete="CASCADE"), primary_key=True
    )
    serial_number: Mapped[str] = mapped_column(String(40), primary_key=True)
    issuer_name_hash: Mapped[str] = mapped_column(String(128), primary_key=True)
    certificate_type: Mapped[str | None] = mapped_column(String(32))
    hash_data: Mapped[str] = mapped_column(Text)  # CertificateHashData, JSON
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# The outbox's events that tell of a charge point's connection (ix_events_connections).
CONNECTION_EVENTS = "kind IN ('connected', 'disconnected')"


class OutboxEvent(Base):
    """An event, written in the transaction of the fact it reports (`db.outbox`): what
    `/api/events` replays from and what webhooks are delivered from. Its id is the
    position a client resumes from: ids become visible in the order they are given."""

    __tablename__ = "events"
    __table_args__ = (
        # A charge point's connections and disconnections by time (its status timeline's
        # offline stretches). Partial: the other events, most of the outbox, pay nothing
        # for it. A query must spell CONNECTION_EVENTS as it is here for SQLite to use it.
        Index(
            "ix_events_connections",
            "charge_point_id",
            "created_at",
            sqlite_where=text(CONNECTION_EVENTS),
            postgresql_where=text(CONNECTION_EVENTS),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    # No foreign key: an event outlives the charge point it tells of.
    charge_point_id: Mapped[str] = mapped_column(String(255))
    data: Mapped[str] = mapped_column(Text)  # JSON
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Webhook(Base):
    """A URL an admin registered, with the event kinds it is sent. The secret signs each
    delivery (HMAC-SHA256), so it is kept as it is: shown once, never again."""

    __tablename__ = "webhooks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    url: Mapped[str] = mapped_column(String(2048))
    event_types: Mapped[str] = mapped_column(Text)  # comma-separated kinds
    secret: Mapped[str] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(64))
    # The last event fanned out to its deliveries: it gets the events after it.
    last_event_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), default=0
    )


class WebhookDelivery(Base):
    """One event for one webhook: pending until a 2xx answer (delivered) or until the
    attempts or the age allowed are spent (failed). One per (webhook, event)."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("webhook_id", "event_id", name="uq_webhook_deliveries_webhook_event"),
        # The worker's question: what is due now.
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    webhook_id: Mapped[int] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"))
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)


class WebhookAttempt(Base):
    """One try at a delivery: the receiver's HTTP status, or why there was none."""

    __tablename__ = "webhook_attempts"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    delivery_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    seconds: Mapped[float] = mapped_column(Float)
