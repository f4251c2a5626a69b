"""Reading typed values from an operation form's text fields: each wrong one is an
InvalidInput naming the field, which the page shows as a message (never a 500)."""

from __future__ import annotations

import math
from typing import Any

from ocpp_core.errors import InvalidInput
from ocpp_core.timeutil import format_datetime, parse_datetime
from webapp.views.common import text_field

# OCPP integers (ids, EVSE and connector numbers) are 32-bit: a larger one is no id the
# schema would refuse, but one the JSON encoder and the databases cannot hold.
MAX_INT32 = 2**31 - 1


def _label(name: str) -> str:
    return name.replace("_", " ")


def whole_number(value: str, name: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise InvalidInput(f"{_label(name)} must be a whole number") from None


def finite_number(value: str, name: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    # "nan", "inf" and "1e400" parse as floats, but are no limit the schema can check.
    if not math.isfinite(number):
        raise InvalidInput(f"{_label(name)} must be a number")
    return number


def utc_datetime(value: str, name: str) -> str:
    """`<input type=datetime-local>` is zone-less; the page says UTC."""
    try:
        return format_datetime(parse_datetime(value)) or ""
    except ValueError:
        raise InvalidInput(f"{_label(name)} must be a date and time") from None


def required_text(form: Any, name: str, label: str) -> str:
    value = text_field(form, name)
    if not value:
        raise InvalidInput(f"give the {label}")
    return value


def optional_text(form: Any, name: str) -> str | None:
    return text_field(form, name) or None


def bounded_number(value: str, label: str, minimum: int) -> int:
    number = whole_number(value, label)
    if not minimum <= number <= MAX_INT32:
        raise InvalidInput(f"{label} must be a whole number from {minimum} to {MAX_INT32}")
    return number


def required_number(form: Any, name: str, label: str, minimum: int = 0) -> int:
    return bounded_number(required_text(form, name, label), label, minimum)


def optional_number(form: Any, name: str, label: str, minimum: int = 0) -> int | None:
    value = text_field(form, name)
    return bounded_number(value, label, minimum) if value else None
