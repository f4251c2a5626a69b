"""Parsing and formatting OCPP date-times (ISO 8601, UTC)."""

from __future__ import annotations

from datetime import UTC, datetime


def parse_datetime(value: str) -> datetime:
    """An aware UTC datetime; a charger's zone-less timestamp is taken as UTC."""
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def format_datetime(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    text = value.astimezone(UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")
