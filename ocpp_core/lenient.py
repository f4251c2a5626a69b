"""Lenient reading of frames from non-conformant chargers (per charge point, opt-in).

Real chargers send numbers as strings (HA-ocpp #210), serial numbers longer than the 1.6
schema allows (HA-ocpp #213, ocpp #128), units the schema does not know (HA-ocpp #1576) and
energy in kWh (HA-ocpp #948). A strict central system refuses such frames with a CALLERROR
and the charger retries them forever. For a charge point in lenient mode, a schema violation
is tolerated where its meaning is clear: the payload is repaired (a number read from its
string, kWh scaled to Wh) or the value kept as sent, and every deviation is reported so the
operator sees what the charger does wrong. Anything else is refused as in strict mode.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from jsonschema.exceptions import ValidationError as SchemaValidationError
from ocpp.exceptions import PropertyConstraintViolationError
from ocpp.v16.enums import UnitOfMeasure
from sqlalchemy import String

from ocpp_core import payload_checks
from ocpp_core.db.models import MeterValue

# Informational text whose length only the schema limits; kept as sent up to the database
# column's size (255).
LONG_TEXT_FIELDS = frozenset(
    {
        "chargePointVendor",
        "chargePointModel",
        "chargePointSerialNumber",
        "chargeBoxSerialNumber",
        "firmwareVersion",
        "iccid",
        "imsi",
        "meterType",
        "meterSerialNumber",
        "info",
        "vendorErrorCode",
        "vendorId",
    }
)
LONG_TEXT_LIMIT = 255


def _column_chars(name: str) -> int:
    """The size of the meter-values text column `name`."""
    column_type = MeterValue.__table__.c[name].type
    if not isinstance(column_type, String) or column_type.length is None:
        raise TypeError(f"meter_values.{name} is not a bounded text column")
    return column_type.length


# Descriptive fields of a sampled value: an unknown value is kept as sent, up to the size of
# its database column.
SAMPLE_ENUM_LIMITS = {
    name: _column_chars(name) for name in ("unit", "measurand", "phase", "context", "location")
}

# kilo-units a charger may report in; stored in the base unit like every other reading.
KILO_UNITS = {"kWh": "Wh", "kW": "W", "kvarh": "varh", "kvar": "var", "kVA": "VA"}
# A scaled reading longer than this written out is kept in exponent form: 2e-154 kWh in Wh
# is 150 digits, most of them zeros.
PLAIN_FORM_CHARS = 64

_UNITS_BY_LOWER = {unit.value.lower(): unit.value for unit in UnitOfMeasure}

# A number sent as text is read only if it is one OCPP can mean: an integer of 32 bits (11
# characters at most) or a float (its shortest form is 24); longer text is refused unread.
NUMBER_CHARS = 64
# A float's decimal exponent ends at 308 (1.8e308); a reading beyond it, either way, is no
# meter's.
FLOAT_EXPONENT = 308

# A frame that still breaks the schema after this many rounds of repair is refused.
_MAX_ROUNDS = 5


@dataclass
class Reading:
    """A payload as lenient mode reads it, and how it deviated from OCPP 1.6."""

    payload: dict[str, Any]
    deviations: list[str] = field(default_factory=list)


def _path(error: SchemaValidationError) -> str:
    return payload_checks.dotted(error.absolute_path)


def _key(error: SchemaValidationError) -> tuple[str, str, str]:
    return _path(error), str(error.validator), repr(error.instance)


def _set(payload: dict[str, Any], error: SchemaValidationError, value: Any) -> None:
    *parents, last = error.absolute_path
    target: Any = payload
    for part in parents:
        target = target[part]
    target[last] = value


def _in_float_range(number: Decimal) -> bool:
    """Whether `number` is one a float holds (bar rounding): checked before any conversion
    or arithmetic, as `int()` of a Decimal is quadratic in its exponent (1e300000: seconds)
    and Decimal arithmetic overflows past 1e999999."""
    if not number.is_finite() or not -FLOAT_EXPONENT <= number.adjusted() <= FLOAT_EXPONENT:
        return False
    return number.is_zero() or math.isfinite(float(number))


def _number(text: str, integer: bool) -> int | float | None:
    """The number a string means, if it plainly means one: one an OCPP integer (32 bits)
    or a float can hold."""
    text = text.strip()
    if len(text) > NUMBER_CHARS:
        return None
    try:
        number = Decimal(text)
    except InvalidOperation:
        return None
    if not _in_float_range(number):
        return None
    if integer:
        if number != number.to_integral_value():
            return None
        whole = int(number)
        return whole if payload_checks.INT32_MIN <= whole <= payload_checks.INT32_MAX else None
    return float(number)


def _in_sampled_value(error: SchemaValidationError) -> bool:
    return len(error.absolute_path) >= 3 and error.absolute_path[-3] == "sampledValue"


def _repair(payload: dict[str, Any], error: SchemaValidationError) -> str | None:
    """Repair or tolerate one schema error in place; say how, or None if its meaning is not
    clear."""
    path = _path(error)
    instance = error.instance
    last = error.absolute_path[-1] if error.absolute_path else None
    if error.validator == "type":
        expected = error.validator_value
        if expected in ("integer", "number") and isinstance(instance, str):
            number = _number(instance, integer=expected == "integer")
            if number is None:
                return None
            _set(payload, error, number)
            return f"{path}: number sent as the string {instance!r}, read as {number}"
        if expected == "integer" and isinstance(instance, float) and math.isfinite(instance):
            if instance != int(instance):
                return None
            _set(payload, error, int(instance))
            return f"{path}: whole number sent as {instance!r}, read as {int(instance)}"
        if (
            expected == "string"
            and type(instance) in (int, float)
            and last == "value"
            and _in_sampled_value(error)
        ):
            text = str(instance)
            _set(payload, error, text)
            return f"{path}: reading sent as the number {instance!r}, read as {text!r}"
        return None
    if error.validator == "maxLength" and last in LONG_TEXT_FIELDS:
        if isinstance(instance, str) and len(instance) <= LONG_TEXT_LIMIT:
            return (
                f"{path}: {len(instance)} characters, longer than the "
                f"{error.validator_value} OCPP 1.6 allows; kept as sent"
            )
        return None
    if error.validator == "enum" and last in SAMPLE_ENUM_LIMITS and _in_sampled_value(error):
        if not isinstance(instance, str) or len(instance) > SAMPLE_ENUM_LIMITS[last]:
            return None
        known = _UNITS_BY_LOWER.get(instance.lower()) if last == "unit" else None
        if known is not None:
            _set(payload, error, known)
            return f"{path}: unit {instance!r} read as {known!r}"
        return f"{path}: unknown {last} {instance!r}, kept as sent"
    return None


def _shown(value: object, chars: int = 40) -> str:
    """A reading as a message names it: a long one cut short, with its length."""
    text = str(value)
    return text if len(text) <= chars else f"{text[:chars]}... ({len(text)} characters)"


def _scale_kilo_units(payload: dict[str, Any], deviations: list[str]) -> None:
    """kWh (and the other kilo-units) to Wh, so every stored reading has the base unit."""
    for key in ("meterValue", "transactionData"):
        for i, meter_value in enumerate(payload.get(key) or ()):
            for j, sample in enumerate(meter_value.get("sampledValue") or ()):
                base = KILO_UNITS.get(sample.get("unit"))
                if base is None:
                    continue
                try:
                    reading = Decimal(str(sample["value"]).strip())
                except InvalidOperation:
                    continue  # not a number (signed data, say): kept as sent
                if not reading.is_finite():
                    continue  # NaN and Infinity were never scaled: kept as sent
                scaled = reading * 1000 if _in_float_range(reading) else None
                if scaled is None or not _in_float_range(scaled):
                    raise PropertyConstraintViolationError(
                        details={
                            "cause": f"{key}.{i}.sampledValue.{j}.value: "
                            f"{_shown(sample['value'])} {sample['unit']} is beyond what a "
                            "meter can read"
                        }
                    )
                text = format(scaled.normalize(), "f")
                if len(text) > PLAIN_FORM_CHARS:
                    text = str(scaled.normalize())
                deviations.append(
                    f"{key}.{i}.sampledValue.{j}: {_shown(sample['value'])} {sample['unit']} "
                    f"stored as {text} {base}"
                )
                sample["value"], sample["unit"] = text, base


def strip_nul(payload: dict[str, Any]) -> list[str]:
    """Remove NUL characters from text in the payload; say where. Firmware that copies
    fixed-size C buffers pads text with them."""
    deviations = []
    for path in payload_checks.nul_paths(payload):
        *parents, last = path
        target: Any = payload
        for part in parents:
            target = target[part]
        target[last] = target[last].replace("\x00", "")
        deviations.append(f"{payload_checks.dotted(path)}: NUL characters (U+0000) removed")
    return deviations


def read(action: str, payload: dict[str, Any], nul: bool = True) -> Reading:
    """Read a charge point's CALL in lenient mode; `nul`: the frame may hold NUL
    characters (False when its text has none).

    Raises the OCPP 1.6 error of strict mode when a violation's meaning is not clear.
    """
    reading = Reading(copy.deepcopy(payload))
    if nul:
        # First: "TAG\0\0..." padded to its buffer's size may be too long until stripped.
        reading.deviations.extend(strip_nul(reading.payload))
    errors = payload_checks.schema_errors(action, reading.payload)
    if errors:
        # Violations kept as sent stay in the schema's errors; a repaired value that is
        # still wrong shows up again with its new value and is examined again.
        tolerated: set[tuple[str, str, str]] = set()
        for _ in range(_MAX_ROUNDS):
            untolerated = [e for e in errors if _key(e) not in tolerated]
            if not untolerated:
                break
            for error in untolerated:
                how = _repair(reading.payload, error)
                if how is None:
                    payload_checks.raise_for(error)
                reading.deviations.append(how)
                tolerated.add(_key(error))
            errors = payload_checks.schema_errors(action, reading.payload)
        else:
            payload_checks.raise_for(errors[0])
    if action in ("MeterValues", "StopTransaction"):
        _scale_kilo_units(reading.payload, reading.deviations)
    return reading
