"""OCPP-J 1.6 frames: decoding raw text and checking payloads against the 1.6 schemas.

The `ocpp` library drops frames it cannot unpack even when their message id is readable,
and reports some 1.6 errors with 2.0.1 codes (`FormatViolation`); this module gives every
failure the OCPP-J 1.6 error code and keeps the message id whenever it can be read.

Payloads are checked first by the library's 1.6 schemas compiled to Python code
(fastjsonschema, some 30x faster than jsonschema on a MeterValues); only a payload that
fails is checked again by jsonschema, whose errors name the keyword and path that the
CALLERROR needs.
"""

from __future__ import annotations

import decimal
import json
import re
from collections.abc import Callable, Iterable
from functools import cache
from importlib import resources
from typing import Any, NoReturn

import fastjsonschema
import orjson
from jsonschema import Draft4Validator, FormatChecker, validators
from jsonschema.exceptions import ValidationError as SchemaValidationError
from ocpp.exceptions import (
    FormationViolationError,
    OccurenceConstraintViolationError,
    OCPPError,
    PropertyConstraintViolationError,
    TypeConstraintViolationError,
)
from ocpp.exceptions import (
    NotImplementedError as OcppNotImplementedError,
)
from ocpp.messages import Call, CallError, CallResult, MessageType
from ocpp.v16.enums import Action

from ocpp_core.timeutil import parse_datetime

MAX_MESSAGE_ID_LENGTH = 36
V16_ACTIONS = frozenset(action.value for action in Action)

# Schemas with `multipleOf: 0.1`: binary floats fail that check (21.4 / 0.1 != 214), so these
# are checked on Decimal values, as the `ocpp` library does.
_DECIMAL_SCHEMAS = frozenset(
    {"RemoteStartTransaction", "SetChargingProfile", "GetCompositeScheduleResponse"}
)
_DECIMAL_DIGITS = 700

# The id of a frame whose JSON is broken can often still be read from its start.
_READABLE_ID = re.compile(r'^\s*\[\s*[234]\s*,\s*"([^"\\]{1,36})"')

# The deepest OCPP 1.6 frame (a SetChargingProfile's schedule period) nests arrays and
# objects 6 levels deep. A frame nested deeper is refused here, before anything walks it
# recursively (copying, the schema check, key conversion), where 900 levels raised
# RecursionError and dropped the connection.
MAX_NESTING = 32


class FrameError(Exception):
    """A frame that cannot be processed. With a `unique_id` it deserves a CALLERROR."""

    def __init__(self, unique_id: str | None, error: OCPPError) -> None:
        super().__init__(error.description)
        self.unique_id = unique_id
        self.error = error


def _formation(cause: str) -> FormationViolationError:
    return FormationViolationError(details={"cause": cause})


def decode(raw: str | bytes) -> Call | CallResult | CallError:
    """Parse one OCPP-J frame, raising FrameError with the 1.6 error code for bad ones."""
    try:
        frame = orjson.loads(raw)
    except orjson.JSONDecodeError:
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
        match = _READABLE_ID.match(text)
        raise FrameError(
            match.group(1) if match else None, _formation("Frame is not valid JSON")
        ) from None

    if not isinstance(frame, list) or not frame:
        raise FrameError(None, _formation("Frame is not a JSON array"))
    message_type = frame[0]
    if type(message_type) is not int or message_type not in (2, 3, 4):
        raise FrameError(None, _formation(f"Unknown message type {message_type!r}"))
    if len(frame) < 2 or not isinstance(frame[1], str):
        raise FrameError(None, _formation("Frame has no readable message id"))
    unique_id = frame[1]
    if len(unique_id) > MAX_MESSAGE_ID_LENGTH:
        raise FrameError(unique_id, _formation("Message id is longer than 36 characters"))
    # Only a frame with more opening brackets than the bound allows can nest deeper: most
    # are not walked at all.
    if _opening_brackets(raw) > MAX_NESTING and nested_deeper_than(frame, MAX_NESTING):
        cause = _formation(f"Frame is nested more than {MAX_NESTING} levels deep")
        raise FrameError(unique_id if message_type == MessageType.Call else None, cause)

    if message_type == MessageType.Call:
        if len(frame) != 4:
            raise FrameError(unique_id, _formation("A CALL has exactly 4 elements"))
        _, _, action, payload = frame
        if not isinstance(action, str):
            raise FrameError(unique_id, _formation("Action is not a string"))
        if not isinstance(payload, dict):
            raise FrameError(unique_id, _formation("Payload is not a JSON object"))
        return Call(unique_id, action, payload)

    if message_type == MessageType.CallResult:
        # A broken answer cannot itself be answered: the id is returned so the caller can
        # log it against the CALL it belongs to.
        if len(frame) != 3 or not isinstance(frame[2], dict):
            raise FrameError(None, _formation(f"Malformed CALLRESULT for {unique_id!r}"))
        return CallResult(unique_id, frame[2])

    if len(frame) not in (4, 5) or not isinstance(frame[2], str):
        raise FrameError(None, _formation(f"Malformed CALLERROR for {unique_id!r}"))
    details = frame[4] if len(frame) == 5 and isinstance(frame[4], dict) else {}
    return CallError(unique_id, frame[2], str(frame[3]), details)


def _opening_brackets(raw: str | bytes) -> int:
    if isinstance(raw, bytes):
        return raw.count(b"[") + raw.count(b"{")
    return raw.count("[") + raw.count("{")


def nested_deeper_than(value: Any, limit: int) -> bool:
    """Whether arrays and objects in decoded JSON (from orjson: exact types) nest more than
    `limit` levels deep, the outermost being level 1; walked a level at a time, without
    recursion."""
    if type(value) is not dict and type(value) is not list:
        return False
    level = [value]
    for _ in range(limit):
        below = []
        for item in level:
            for child in item.values() if type(item) is dict else item:
                if type(child) is dict or type(child) is list:
                    below.append(child)
        if not below:
            return False
        level = below
    return True


def _is_date_time(value: object) -> bool:
    """What the services can read: 0001-01-01T00:00:00+00:01 is ISO 8601, but before year
    1 in UTC, and met an OverflowError (InternalError) where it was stored."""
    if not isinstance(value, str):
        return True
    try:
        parse_datetime(value)
    except ValueError:
        return False
    return True


_FORMAT_CHECKER = FormatChecker(formats=())
_FORMAT_CHECKER.checks("date-time")(_is_date_time)


INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


def _is_integer(_checker: object, instance: object) -> bool:
    # OCPP 1.6 (section 7, data types): an integer is 32 bits, which is also what the
    # database's integer columns hold.
    return type(instance) is int and INT32_MIN <= instance <= INT32_MAX


_OcppValidator = validators.extend(
    Draft4Validator,
    type_checker=Draft4Validator.TYPE_CHECKER.redefine("integer", _is_integer),
)


def _schema_text(schema_name: str) -> str:
    return resources.files("ocpp.v16.schemas").joinpath(f"{schema_name}.json").read_text()


@cache
def _validator(schema_name: str) -> Draft4Validator:
    parse_float = decimal.Decimal if schema_name in _DECIMAL_SCHEMAS else float
    schema = json.loads(_schema_text(schema_name), parse_float=parse_float)
    return _OcppValidator(schema, format_checker=_FORMAT_CHECKER)


def _int32(schema: Any) -> Any:
    """The schema with OCPP's 32-bit range on every integer (what `_is_integer` checks)."""
    if isinstance(schema, dict):
        bounded = {key: _int32(value) for key, value in schema.items()}
        if schema.get("type") == "integer":
            bounded.setdefault("minimum", INT32_MIN)
            bounded.setdefault("maximum", INT32_MAX)
        return bounded
    if isinstance(schema, list):
        return [_int32(item) for item in schema]
    return schema


@cache
def _fast_validator(schema_name: str) -> Callable[[Any], Any] | None:
    """The compiled check, or None where only Decimal arithmetic gets `multipleOf` right."""
    if schema_name in _DECIMAL_SCHEMAS:
        return None
    return fastjsonschema.compile(
        bounded_schema(schema_name), formats={"date-time": _is_date_time}, use_default=False
    )


def bounded_schema(schema_name: str) -> dict[str, Any]:
    """The library's 1.6 schema with OCPP's 32-bit range made explicit on every integer."""
    return _int32(json.loads(_schema_text(schema_name)))


_ERROR_FOR_KEYWORD: dict[str, type[OCPPError]] = {
    "type": TypeConstraintViolationError,
    "required": OccurenceConstraintViolationError,
    "minItems": OccurenceConstraintViolationError,
    "maxItems": OccurenceConstraintViolationError,
    "additionalProperties": FormationViolationError,
    "enum": PropertyConstraintViolationError,
    "maxLength": PropertyConstraintViolationError,
    "minLength": PropertyConstraintViolationError,
    "minimum": PropertyConstraintViolationError,
    "maximum": PropertyConstraintViolationError,
    "multipleOf": PropertyConstraintViolationError,
    "pattern": PropertyConstraintViolationError,
    "format": PropertyConstraintViolationError,
}


def schema_errors(schema_name: str, payload: dict[str, Any]) -> list[SchemaValidationError]:
    fast = _fast_validator(schema_name)
    if fast is not None:
        try:
            fast(payload)
            return []
        except fastjsonschema.JsonSchemaException:
            pass  # jsonschema says exactly what is wrong
    return rule_errors(schema_name, payload)


def rule_errors(schema_name: str, payload: dict[str, Any]) -> list[SchemaValidationError]:
    """What jsonschema, with OCPP's rules, finds wrong: the reference the fast path keeps."""
    validator = _validator(schema_name)
    if schema_name not in _DECIMAL_SCHEMAS:
        return sorted(validator.iter_errors(payload), key=lambda e: list(e.absolute_path))
    payload = json.loads(json.dumps(payload), parse_float=decimal.Decimal)
    # `multipleOf` divides exactly: a float as big as JSON allows (1e308) needs 309 digits.
    with decimal.localcontext(prec=_DECIMAL_DIGITS):
        return sorted(validator.iter_errors(payload), key=lambda e: list(e.absolute_path))


def dotted(path: Iterable[Any]) -> str:
    """`meterValue.0.sampledValue.2.value`: where in a payload, as messages name it."""
    return ".".join(str(part) for part in path)


def describe(error: SchemaValidationError) -> str:
    """`connectorId: -1 is less than the minimum of 0`: a message an operator can act on."""
    path = dotted(error.absolute_path)
    message = error.message
    if error.validator == "type" and type(error.instance) is int:
        message += " (OCPP 1.6 integers are 32 bits)"
    return f"{path}: {message}" if path else message


def raise_for(error: SchemaValidationError) -> NoReturn:
    """Raise the OCPP 1.6 error that a schema violation calls for."""
    error_class = _ERROR_FOR_KEYWORD.get(error.validator, FormationViolationError)
    raise error_class(details={"cause": describe(error)})


def validate(schema_name: str, payload: dict[str, Any]) -> None:
    """Raise the OCPP 1.6 error for the first way `payload` breaks the named schema."""
    errors = schema_errors(schema_name, payload)
    if errors:
        raise_for(errors[0])


# JSON's only way to put U+0000 in a string; a raw NUL byte is not valid JSON.
NUL_ESCAPE = "\\u0000"


def nul_paths(value: Any) -> list[tuple[Any, ...]]:
    """Where (keys and indexes) text in a decoded payload holds the NUL character, in the
    payload's order: PostgreSQL's text cannot store it, and no OCPP field means one. Walked
    with a stack of its own, so no nesting runs out of Python's."""
    found: list[tuple[Any, ...]] = []
    stack: list[tuple[tuple[Any, ...], Any]] = [((), value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                found.append(path)
            continue
        if isinstance(item, dict):
            items: Any = item.items()
        elif isinstance(item, list):
            items = enumerate(item)
        else:
            continue
        stack.extend(reversed([((*path, key), child) for key, child in items]))
    return found


def nul_cause(payload: dict[str, Any]) -> str | None:
    """`idTag: contains the NUL character (U+0000)` for the first text holding one."""
    paths = nul_paths(payload)
    if not paths:
        return None
    return f"{dotted(paths[0])}: contains the NUL character (U+0000)"


def refuse_nul(payload: dict[str, Any]) -> None:
    """Raise PropertyConstraintViolation if text in the payload holds a NUL character."""
    cause = nul_cause(payload)
    if cause is not None:
        raise PropertyConstraintViolationError(details={"cause": cause})


def check_action(action: str) -> None:
    if action not in V16_ACTIONS:
        raise OcppNotImplementedError(details={"cause": f"Unknown action {action!r}"})
