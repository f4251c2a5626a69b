"""Settings from the environment, as README.md (Settings) and env.example list them."""

from __future__ import annotations

import pytest

from ocpp_core.settings import Settings, SettingsError, normalize_database_url


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://u:p@db:5432/app", "postgresql+asyncpg://u:p@db:5432/app"),
        ("postgresql://u:p@db/app", "postgresql+asyncpg://u:p@db/app"),
        ("postgres://u@db/app?sslmode=require", "postgresql+asyncpg://u@db/app?ssl=require"),
        ("postgres://u@db/app?sslmode=disable", "postgresql+asyncpg://u@db/app"),
        ("postgresql+asyncpg://u@db/app", "postgresql+asyncpg://u@db/app"),
        ("sqlite:///voltaro.db", "sqlite+aiosqlite:///voltaro.db"),
        ("sqlite+aiosqlite:////tmp/x.db", "sqlite+aiosqlite:////tmp/x.db"),
    ],
)
def test_database_urls_are_converted(given: str, expected: str) -> None:
    assert normalize_database_url(given) == expected


def test_defaults_and_overrides(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    defaults = Settings.from_env({})
    assert defaults.database_url == "sqlite+aiosqlite:///voltaro.db"
    assert (defaults.host, defaults.port) == ("0.0.0.0", 9000)
    assert defaults.unknown_charge_points == "accept"
    assert (defaults.heartbeat_interval, defaults.call_timeout) == (300, 30)
    assert (defaults.ws_ping_interval, defaults.ws_ping_timeout) == (60, 30)
    assert (defaults.max_frame_bytes, defaults.rate_limit, defaults.rate_burst) == (262144, 20, 200)
    assert defaults.instance_ttl == 30
    # SECRET_KEY is generated once and kept beside the database.
    assert defaults.secret_key and (tmp_path / "voltaro.db.secret_key").exists()
    assert Settings.from_env({}).secret_key == defaults.secret_key

    custom = Settings.from_env(
        {
            "DATABASE_URL": "postgres://u@h/d",
            "PORT": "8080",
            "SECRET_KEY": "k",
            "UNKNOWN_CHARGE_POINTS": "Reject",
            "HEARTBEAT_INTERVAL": "60",
            "CALL_TIMEOUT": "5",
            "ADMIN_USER": "a",
            "ADMIN_PASSWORD": "b",
            "LOG_LEVEL": "debug",
            "WS_PING_INTERVAL": "0",
            "RATE_LIMIT": "0",
            "INSTANCE_TTL": "12",
        }
    )
    assert custom.instance_ttl == 12
    assert (custom.ws_ping_interval, custom.rate_limit) == (0, 0)  # both off
    assert custom.port == 8080
    assert custom.unknown_charge_points == "reject"
    assert (custom.heartbeat_interval, custom.call_timeout) == (60, 5)
    assert (custom.admin_user, custom.admin_password, custom.log_level) == ("a", "b", "DEBUG")


def test_needs_attention_thresholds() -> None:
    defaults = Settings.from_env({"SECRET_KEY": "k"})
    assert (
        defaults.attention_quiet_minutes,
        defaults.attention_boot_loop_boots,
        defaults.attention_boot_loop_minutes,
    ) == (15, 3, 15)
    given = Settings.from_env(
        {
            "SECRET_KEY": "k",
            "ATTENTION_QUIET_MINUTES": "45",
            "ATTENTION_BOOT_LOOP_BOOTS": "5",
            "ATTENTION_BOOT_LOOP_MINUTES": "60",
        }
    )
    assert (
        given.attention_quiet_minutes,
        given.attention_boot_loop_boots,
        given.attention_boot_loop_minutes,
    ) == (45, 5, 60)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"PORT": "http"}, "PORT"),
        ({"HEARTBEAT_INTERVAL": "0"}, "HEARTBEAT_INTERVAL"),
        ({"UNKNOWN_CHARGE_POINTS": "maybe"}, "UNKNOWN_CHARGE_POINTS"),
        ({"DATABASE_URL": "mysql://x/y"}, "not supported"),
        ({"INSTANCE_TTL": "1"}, "INSTANCE_TTL"),
        ({"METRICS_TOKEN": "short"}, "METRICS_TOKEN must be at least 16"),
        ({"METRICS_ALLOW": "10.0.0.0/8,intranet"}, "METRICS_ALLOW: 'intranet'"),
        ({"ATTENTION_QUIET_MINUTES": "0"}, "ATTENTION_QUIET_MINUTES must be at least 1"),
        ({"ATTENTION_QUIET_MINUTES": "900s"}, "ATTENTION_QUIET_MINUTES must be a whole number"),
        ({"ATTENTION_BOOT_LOOP_BOOTS": "1"}, "ATTENTION_BOOT_LOOP_BOOTS must be at least 2"),
        ({"ATTENTION_BOOT_LOOP_MINUTES": "10081"}, "ATTENTION_BOOT_LOOP_MINUTES must be at most"),
    ],
)
def test_bad_settings_are_refused(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.from_env({"SECRET_KEY": "k", **env})


def test_metrics_access_settings() -> None:
    default = Settings.from_env({"SECRET_KEY": "k"})
    assert (default.metrics_token, default.metrics_allow) == (None, ())  # loopback only
    custom = Settings.from_env(
        {
            "SECRET_KEY": "k",
            "METRICS_TOKEN": " 0123456789abcdef ",
            "METRICS_ALLOW": "127.0.0.1/32, 10.0.0.0/8",
        }
    )
    assert custom.metrics_token == "0123456789abcdef"
    assert custom.metrics_allow == ("127.0.0.1/32", "10.0.0.0/8")
    assert "0123456789abcdef" not in repr(custom)
