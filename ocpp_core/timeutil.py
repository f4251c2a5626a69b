"""Parsing and formatting OCPP date-times (ISO 8601, UTC)."""

from __future__ import annotations

from datetime import UTC, datetime


def parse_datetime(value: str) -> datetime:
    """An aware UTC datetime; a charger's zone-less timestamp is taken as UTC.

    ValueError also for a time that is ISO 8601 but outside years 1-9999 once in UTC
    (0001-01-01T00:00:00+00:01): every caller refuses it as it refuses any bad date."""
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"{value!r} is outside years 1 to 9999 in UTC") from None


def format_datetime(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    text = value.astimezone(UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")
