"""Reading an operation form's fields (the typed values of `ocpp_core.field_values`) from
a mapping of field names to their text: each missing or wrong one is an InvalidInput
naming the field, which the page shows."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ocpp_core.errors import InvalidInput
from ocpp_core.field_values import whole_number

# A posted form: each field's text (anything else, such as an uploaded file, reads as empty).
Fields = Mapping[str, Any]

# OCPP integers (ids, EVSE and connector numbers) are 32-bit: a larger one is no id the
# schema would refuse, but one the JSON encoder and the databases cannot hold.
MAX_INT32 = 2**31 - 1


def text_field(form: Fields, name: str) -> str:
    value = form.get(name, "")
    return value.strip() if isinstance(value, str) else ""


def required_text(form: Fields, name: str, label: str) -> str:
    value = text_field(form, name)
    if not value:
        raise InvalidInput(f"give the {label}")
    return value


def optional_text(form: Fields, name: str) -> str | None:
    return text_field(form, name) or None


def bounded_number(value: str, label: str, minimum: int) -> int:
    number = whole_number(value, label)
    if not minimum <= number <= MAX_INT32:
        raise InvalidInput(f"{label} must be a whole number from {minimum} to {MAX_INT32}")
    return number


def required_number(form: Fields, name: str, label: str, minimum: int = 0) -> int:
    return bounded_number(required_text(form, name, label), label, minimum)


def optional_number(form: Fields, name: str, label: str, minimum: int = 0) -> int | None:
    value = text_field(form, name)
    return bounded_number(value, label, minimum) if value else None
