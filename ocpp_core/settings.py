"""Settings read from the environment (and a `.env` file), as README.md lists them."""

from __future__ import annotations

import ipaddress
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///voltaro.db"
UNKNOWN_CHARGE_POINT_POLICIES = ("accept", "pending", "reject")
MIN_METRICS_TOKEN = 16


class SettingsError(ValueError):
    """A setting has a value Voltaro cannot use."""


def normalize_database_url(url: str) -> str:
    """Turn the URLs PaaS platforms hand out into SQLAlchemy async URLs.

    `postgres://` and `postgresql://` become `postgresql+asyncpg://`, and libpq's
    `sslmode` becomes asyncpg's `ssl` (asyncpg rejects `sslmode`).
    """
    scheme, _, rest = url.partition("://")
    if not rest:
        raise SettingsError(f"DATABASE_URL is not a URL: {url!r}")
    scheme = scheme.lower()
    if scheme in ("postgres", "postgresql", "postgresql+psycopg2", "postgresql+psycopg"):
        scheme = "postgresql+asyncpg"
    elif scheme == "sqlite":
        scheme = "sqlite+aiosqlite"
    if scheme not in ("postgresql+asyncpg", "sqlite+aiosqlite"):
        raise SettingsError(
            f"DATABASE_URL scheme {scheme!r} is not supported; "
            "use postgresql+asyncpg:// (or postgres://) or sqlite+aiosqlite://"
        )
    normalized = f"{scheme}://{rest}"
    if scheme == "postgresql+asyncpg":
        parts = urlsplit(normalized)
        query = [(k, v) for k, v in parse_qsl(parts.query) if k != "sslmode"]
        sslmode = dict(parse_qsl(parts.query)).get("sslmode")
        if sslmode and sslmode != "disable":
            query.append(("ssl", sslmode))
        normalized = urlunsplit(parts._replace(query=urlencode(query)))
    return normalized


def sqlite_path(database_url: str) -> Path | None:
    """The file behind a SQLite URL, or None for PostgreSQL / in-memory."""
    if not database_url.startswith("sqlite"):
        return None
    path = database_url.split(":///", 1)[1] if ":///" in database_url else ""
    path = path.split("?", 1)[0]
    if not path or path == ":memory:":
        return None
    return Path(path)


def _int(
    env: dict[str, str], name: str, default: int, minimum: int = 1, maximum: int | None = None
) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, got {raw!r}") from None
    if value < minimum:
        raise SettingsError(f"{name} must be at least {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise SettingsError(f"{name} must be at most {maximum}, got {value}")
    return value


def _seconds(env: dict[str, str], name: str, default: float, minimum: float) -> float:
    """A duration in seconds, fractions allowed."""
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number of seconds, got {raw!r}") from None
    if not value >= minimum or value == float("inf"):
        raise SettingsError(f"{name} must be at least {minimum:g} seconds, got {raw}")
    return value


# A week, in minutes: the longest a needs-attention threshold may be (one longer flags
# nothing an operator would still be waiting on; a value in seconds is caught).
MAX_ATTENTION_MINUTES = 7 * 24 * 60

# A hundred years: the longest retention a cut-off date can be computed for safely.
MAX_RETAIN_DAYS = 36_500


def _days(env: dict[str, str], name: str, default: int) -> int:
    """A retention in days: 0 (forever) to MAX_RETAIN_DAYS."""
    days = _int(env, name, default, minimum=0)
    if days > MAX_RETAIN_DAYS:
        raise SettingsError(f"{name} must be at most {MAX_RETAIN_DAYS} days (0: forever)")
    return days


def _addresses(env: dict[str, str], name: str) -> tuple[str, ...]:
    """A comma-separated list of addresses or networks, or `*`."""
    entries = tuple(entry.strip() for entry in (env.get(name) or "").split(",") if entry.strip())
    for entry in entries:
        if entry != "*":
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise SettingsError(f"{name}: {entry!r} is not an address or network") from None
    return entries


def _load_secret_key(database_url: str) -> str:
    """Keep the generated key beside the database so sessions survive restarts."""
    db_file = sqlite_path(database_url)
    key_file = (
        db_file.with_name(db_file.name + ".secret_key") if db_file else Path("voltaro.secret_key")
    )
    if key_file.exists():
        return key_file.read_text().strip()
    key = secrets.token_urlsafe(48)
    key_file.parent.mkdir(parents=True, exist_ok=True)
    key_file.write_text(key)
    key_file.chmod(0o600)
    return key


PORTAL_ASSET_SOURCES = ("cdn", "local")


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    host: str = "0.0.0.0"
    port: int = 9000
    secret_key: str = field(default="", repr=False)
    unknown_charge_points: str = "accept"
    heartbeat_interval: int = 300
    call_timeout: float = 30.0
    # WebSocket keep-alive: a ping every interval (0: off), closed if no pong in timeout.
    ws_ping_interval: int = 60
    ws_ping_timeout: int = 30
    # Abuse limits per connection: largest frame, sustained messages per second, burst.
    max_frame_bytes: int = 256 * 1024
    rate_limit: float = 20.0
    rate_burst: int = 200
    # Storage budget per charge point: the newest rows kept of what a charger may send at
    # will (0: all). Sessions' own samples are never pruned.
    keep_data_transfers: int = 1000
    keep_unlinked_meter_values: int = 10_000
    keep_status_history: int = 10_000
    keep_security_events: int = 1000
    keep_notifications: int = 10_000
    # The message log's newest frames kept per charge point (0: all).
    keep_message_log: int = 5000
    # Retention: days kept of the message log, the samples of closed sessions (their
    # totals stay), the status history, the operations journal and the audit log (0:
    # forever); pruned every `prune_interval` seconds (0: only by `db prune`).
    retain_message_log_days: int = 30
    retain_meter_values_days: int = 0
    retain_status_history_days: int = 90
    retain_journal_days: int = 180
    retain_audit_days: int = 365
    # The events outbox (`/api/events` replays it, webhooks are sent from it): days kept
    # once every webhook's delivery of an event is done.
    retain_events_days: int = 7
    prune_interval: int = 3600
    # Webhooks: a delivery is tried again after `webhook_retry_seconds`, doubling each time
    # (at most an hour apart), until a 2xx answer; after `webhook_max_attempts` tries or
    # `webhook_max_age` seconds it is marked failed. Each try waits `webhook_timeout`.
    webhook_retry_seconds: float = 10.0
    webhook_max_attempts: int = 12
    webhook_max_age: float = 86_400.0
    webhook_timeout: float = 10.0
    # Several instances on one PostgreSQL: an instance silent for this long is dead, and
    # the charge points it held show as not connected.
    instance_ttl: float = 30.0
    admin_user: str | None = None
    admin_password: str | None = field(default=None, repr=False)
    log_level: str = "INFO"
    # TLS terminated by Voltaro itself (PEM files); with a client CA, charge points may
    # authenticate with certificates (security profile 3).
    tls_cert: str | None = None
    tls_key: str | None = None
    tls_client_ca: str | None = None
    # The CA that signs charge point certificates (SignCertificate): PEM files, or an
    # external command reading the CSR on stdin and writing the chain on stdout.
    ca_cert: str | None = None
    ca_key: str | None = None
    ca_signer_command: str | None = None
    # Charge points registered at most by UNKNOWN_CHARGE_POINTS (0: no limit).
    max_charge_points: int = 100_000
    # Proxies whose X-Forwarded-For is believed (addresses, networks, or "*").
    forwarded_allow_ips: tuple[str, ...] = ()
    # Who may read /metrics: a bearer token, client networks, or both (both must then
    # match); neither set: loopback clients only.
    metrics_token: str | None = field(default=None, repr=False)
    metrics_allow: tuple[str, ...] = ()
    # Where the portal's browser libraries come from: "cdn" (pinned, with integrity; the
    # copies this server keeps take over when the CDN cannot be reached) or "local" (the
    # copies only: a site without internet access).
    portal_assets: str = "cdn"
    # Needs attention (`/attention`): an open session without a meter value for this many
    # minutes has gone quiet; a charger that booted this many times within this many
    # minutes is rebooting in a loop.
    attention_quiet_minutes: int = 15
    attention_boot_loop_boots: int = 3
    attention_boot_loop_minutes: int = 15

    def __post_init__(self) -> None:
        if self.unknown_charge_points not in UNKNOWN_CHARGE_POINT_POLICIES:
            raise SettingsError(
                "UNKNOWN_CHARGE_POINTS must be one of "
                f"{', '.join(UNKNOWN_CHARGE_POINT_POLICIES)}, got {self.unknown_charge_points!r}"
            )
        if bool(self.tls_cert) != bool(self.tls_key):
            raise SettingsError("TLS_CERT and TLS_KEY go together: set both or neither")
        if self.tls_client_ca and not self.tls_cert:
            raise SettingsError(
                "TLS_CLIENT_CA needs TLS_CERT and TLS_KEY: Voltaro must terminate TLS"
            )
        for name, path in (
            ("TLS_CERT", self.tls_cert),
            ("TLS_KEY", self.tls_key),
            ("TLS_CLIENT_CA", self.tls_client_ca),
        ):
            if path and not Path(path).is_file():
                raise SettingsError(f"{name} is not a readable file: {path}")
        self._check_ca()
        if self.portal_assets not in PORTAL_ASSET_SOURCES:
            raise SettingsError(
                f"PORTAL_ASSETS must be one of {', '.join(PORTAL_ASSET_SOURCES)}, "
                f"got {self.portal_assets!r}"
            )
        if self.metrics_token is not None and len(self.metrics_token) < MIN_METRICS_TOKEN:
            raise SettingsError(
                f"METRICS_TOKEN must be at least {MIN_METRICS_TOKEN} characters: "
                "anyone who can reach the port may try to guess it"
            )

    def _check_ca(self) -> None:
        if bool(self.ca_cert) != bool(self.ca_key):
            raise SettingsError("CA_CERT and CA_KEY go together: set both or neither")
        if self.ca_signer_command and self.ca_cert:
            raise SettingsError(
                "CA_SIGNER_COMMAND and CA_CERT/CA_KEY exclude each other: set one way to sign"
            )
        if not self.ca_cert or not self.ca_key:
            return
        for name, path in (("CA_CERT", self.ca_cert), ("CA_KEY", self.ca_key)):
            if not Path(path).is_file() or not os.access(path, os.R_OK):
                raise SettingsError(f"{name} is not a readable file: {path}")
        # Imported here: cryptography is only needed when a CA is configured.
        from ocpp_core.certificates import FileAuthority

        try:  # a wrong key or a non-CA certificate is found at start-up, not at signing
            FileAuthority.load(self.ca_cert, self.ca_key)
        except ValueError as error:
            raise SettingsError(str(error)) from None

    @property
    def client_certificates(self) -> bool:
        """Whether charge points can present client certificates (security profile 3)."""
        return bool(self.tls_client_ca)

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        if env is None:
            from dotenv import load_dotenv

            load_dotenv(override=False)
            env = dict(os.environ)
        database_url = normalize_database_url(env.get("DATABASE_URL") or DEFAULT_DATABASE_URL)
        return cls(
            database_url=database_url,
            host=env.get("HOST") or "0.0.0.0",
            port=_int(env, "PORT", 9000),
            secret_key=env.get("SECRET_KEY") or _load_secret_key(database_url),
            unknown_charge_points=(env.get("UNKNOWN_CHARGE_POINTS") or "accept").lower(),
            heartbeat_interval=_int(env, "HEARTBEAT_INTERVAL", 300),
            call_timeout=float(_int(env, "CALL_TIMEOUT", 30)),
            ws_ping_interval=_int(env, "WS_PING_INTERVAL", 60, minimum=0),
            ws_ping_timeout=_int(env, "WS_PING_TIMEOUT", 30),
            max_frame_bytes=_int(env, "MAX_FRAME_BYTES", 256 * 1024, minimum=1024),
            rate_limit=float(_int(env, "RATE_LIMIT", 20, minimum=0)),
            rate_burst=_int(env, "RATE_BURST", 200),
            keep_data_transfers=_int(env, "KEEP_DATA_TRANSFERS", 1000, minimum=0),
            keep_unlinked_meter_values=_int(env, "KEEP_UNLINKED_METER_VALUES", 10_000, minimum=0),
            keep_status_history=_int(env, "KEEP_STATUS_HISTORY", 10_000, minimum=0),
            keep_security_events=_int(env, "KEEP_SECURITY_EVENTS", 1000, minimum=0),
            keep_notifications=_int(env, "KEEP_NOTIFICATIONS", 10_000, minimum=0),
            keep_message_log=_int(env, "KEEP_MESSAGE_LOG", 5000, minimum=0),
            retain_message_log_days=_days(env, "RETAIN_MESSAGE_LOG_DAYS", 30),
            retain_meter_values_days=_days(env, "RETAIN_METER_VALUES_DAYS", 0),
            retain_status_history_days=_days(env, "RETAIN_STATUS_HISTORY_DAYS", 90),
            retain_journal_days=_days(env, "RETAIN_JOURNAL_DAYS", 180),
            retain_audit_days=_days(env, "RETAIN_AUDIT_DAYS", 365),
            retain_events_days=_days(env, "RETAIN_EVENTS_DAYS", 7),
            webhook_retry_seconds=_seconds(env, "WEBHOOK_RETRY_SECONDS", 10.0, minimum=0.01),
            webhook_max_attempts=_int(env, "WEBHOOK_MAX_ATTEMPTS", 12),
            webhook_max_age=_seconds(env, "WEBHOOK_MAX_AGE", 86_400.0, minimum=1),
            webhook_timeout=_seconds(env, "WEBHOOK_TIMEOUT", 10.0, minimum=0.1),
            prune_interval=_int(env, "PRUNE_INTERVAL", 3600, minimum=0),
            instance_ttl=float(_int(env, "INSTANCE_TTL", 30, minimum=3)),
            admin_user=env.get("ADMIN_USER") or None,
            admin_password=env.get("ADMIN_PASSWORD") or None,
            log_level=(env.get("LOG_LEVEL") or "INFO").upper(),
            tls_cert=env.get("TLS_CERT") or None,
            tls_key=env.get("TLS_KEY") or None,
            tls_client_ca=env.get("TLS_CLIENT_CA") or None,
            ca_cert=env.get("CA_CERT") or None,
            ca_key=env.get("CA_KEY") or None,
            ca_signer_command=(env.get("CA_SIGNER_COMMAND") or "").strip() or None,
            forwarded_allow_ips=_addresses(env, "FORWARDED_ALLOW_IPS"),
            max_charge_points=_int(env, "MAX_CHARGE_POINTS", 100_000, minimum=0),
            metrics_token=(env.get("METRICS_TOKEN") or "").strip() or None,
            metrics_allow=_addresses(env, "METRICS_ALLOW"),
            portal_assets=(env.get("PORTAL_ASSETS") or "cdn").strip().lower(),
            attention_quiet_minutes=_int(
                env, "ATTENTION_QUIET_MINUTES", 15, maximum=MAX_ATTENTION_MINUTES
            ),
            # One boot is no loop.
            attention_boot_loop_boots=_int(
                env, "ATTENTION_BOOT_LOOP_BOOTS", 3, minimum=2, maximum=1000
            ),
            attention_boot_loop_minutes=_int(
                env, "ATTENTION_BOOT_LOOP_MINUTES", 15, maximum=MAX_ATTENTION_MINUTES
            ),
        )
