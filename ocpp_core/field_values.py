"""Typed values from the text of a form's fields: each wrong one is an InvalidInput naming
the field, which the page shows as a message (never a 500)."""

from __future__ import annotations

import math

from ocpp_core.errors import InvalidInput
from ocpp_core.timeutil import format_datetime, parse_datetime


def label(name: str) -> str:
    return name.replace("_", " ")


def text(value: str, _name: str) -> str:
    return value


def whole_number(value: str, name: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise InvalidInput(f"{label(name)} must be a whole number") from None


def finite_number(value: str, name: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    # "nan", "inf" and "1e400" parse as floats, but are no limit the schema can check.
    if not math.isfinite(number):
        raise InvalidInput(f"{label(name)} must be a number")
    return number


def utc_datetime(value: str, name: str) -> str:
    """`<input type=datetime-local>` is zone-less; the page says UTC."""
    try:
        return format_datetime(parse_datetime(value)) or ""
    except ValueError:
        raise InvalidInput(f"{label(name)} must be a date and time") from None
