"""OCPP-J frames: decoding raw text and checking payloads against a version's schemas.

The `ocpp` library drops frames it cannot unpack even when their message id is readable,
and reports some 1.6 errors with 2.0.1 codes (`FormatViolation`); this module gives every
failure its version's error code (a `Dialect`: 1.6 or 2.0.1) and keeps the message id
whenever it can be read.

Payloads are checked first by the library's schemas compiled to Python code
(fastjsonschema, some 30x faster than jsonschema on a MeterValues); only a payload that
fails is checked again by jsonschema, whose errors name the keyword and path that the
CALLERROR needs.
"""

from __future__ import annotations

import decimal
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, NoReturn

import fastjsonschema
import orjson
from jsonschema import Draft4Validator, FormatChecker, validators
from jsonschema.exceptions import ValidationError as SchemaValidationError
from jsonschema.protocols import Validator
from ocpp.exceptions import (
    FormationViolationError,
    FormatViolationError,
    OccurenceConstraintViolationError,
    OccurrenceConstraintViolationError,
    OCPPError,
    PropertyConstraintViolationError,
    TypeConstraintViolationError,
)
from ocpp.exceptions import (
    NotImplementedError as OcppNotImplementedError,
)
from ocpp.messages import Call, CallError, CallResult, MessageType
from ocpp.v16.enums import Action
from ocpp.v201.enums import Action as Action201

from ocpp_core.timeutil import parse_datetime

MAX_MESSAGE_ID_LENGTH = 36
V16_ACTIONS = frozenset(action.value for action in Action)


class RpcFrameworkError(OCPPError):  # type: ignore[misc]  # the ocpp package is untyped
    """OCPP-J 2.0.1: the frame is no valid RPC message (the library has no class for it)."""

    code = "RpcFrameworkError"
    default_description = "Content of the call is not a valid RPC Request"


class MessageTypeNotSupportedError(OCPPError):  # type: ignore[misc]  # the ocpp package is untyped
    """OCPP-J 2.0.1: a message type number this version does not know."""

    code = "MessageTypeNotSupported"
    default_description = "A message with a Message Type Number received is not supported"


@dataclass(frozen=True)
class Dialect:
    """What differs between OCPP-J versions at the frame level: the schemas, the actions,
    the error codes (1.6 FormationViolation, 2.0.1 FormatViolation, ...) and how a schema
    file is named for a request and an answer."""

    version: str
    schemas: str  # the `ocpp` package holding the JSON schema files
    actions: frozenset[str]
    format_error: type[OCPPError]  # the payload is no JSON object of the right shape
    occurrence_error: type[OCPPError]
    rpc_error: type[OCPPError]  # the frame is no RPC message at all
    request_suffix: str  # "" (1.6: BootNotification.json) or "Request" (2.0.1)
    # An unknown message type: 2.0.1 answers one whose id it can read; 1.6 has no rule.
    message_type_error: type[OCPPError] | None
    decimal_schemas: frozenset[str] = frozenset()

    def request_schema(self, action: str) -> str:
        return action + self.request_suffix

    def answer_schema(self, action: str) -> str:
        return action + "Response"


V16 = Dialect(
    version="1.6",
    schemas="ocpp.v16.schemas",
    actions=V16_ACTIONS,
    format_error=FormationViolationError,
    occurrence_error=OccurenceConstraintViolationError,
    rpc_error=FormationViolationError,
    request_suffix="",
    message_type_error=None,
    # Schemas with `multipleOf: 0.1`: binary floats fail that check (21.4 / 0.1 != 214),
    # so these are checked on Decimal values, as the `ocpp` library does.
    decimal_schemas=frozenset(
        {"RemoteStartTransaction", "SetChargingProfile", "GetCompositeScheduleResponse"}
    ),
)
V201 = Dialect(
    version="2.0.1",
    schemas="ocpp.v201.schemas",
    actions=frozenset(action.value for action in Action201),
    format_error=FormatViolationError,
    occurrence_error=OccurrenceConstraintViolationError,
    rpc_error=RpcFrameworkError,
    request_suffix="Request",
    message_type_error=MessageTypeNotSupportedError,
)
DIALECTS = {dialect.version: dialect for dialect in (V16, V201)}

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


def decode(raw: str | bytes, dialect: Dialect = V16) -> Call | CallResult | CallError:
    """Parse one OCPP-J frame, raising FrameError with the version's error code for bad
    ones."""

    def _formation(cause: str) -> OCPPError:
        return dialect.format_error(details={"cause": cause})

    def _rpc(cause: str) -> OCPPError:
        return dialect.rpc_error(details={"cause": cause})

    try:
        frame = orjson.loads(raw)
    except orjson.JSONDecodeError:
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
        match = _READABLE_ID.match(text)
        raise FrameError(
            match.group(1) if match else None, _rpc("Frame is not valid JSON")
        ) from None

    if not isinstance(frame, list) or not frame:
        raise FrameError(None, _rpc("Frame is not a JSON array"))
    message_type = frame[0]
    if type(message_type) is not int or message_type not in (2, 3, 4):
        readable = len(frame) > 1 and isinstance(frame[1], str) and len(frame[1]) <= 36
        if dialect.message_type_error is not None and readable:
            error = dialect.message_type_error(
                details={"cause": f"Unknown message type {message_type!r}"}
            )
            raise FrameError(frame[1], error)
        raise FrameError(None, _rpc(f"Unknown message type {message_type!r}"))
    if len(frame) < 2 or not isinstance(frame[1], str):
        raise FrameError(None, _rpc("Frame has no readable message id"))
    unique_id = frame[1]
    if len(unique_id) > MAX_MESSAGE_ID_LENGTH:
        raise FrameError(unique_id, _rpc("Message id is longer than 36 characters"))
    # Only a frame with more opening brackets than the bound allows can nest deeper: most
    # are not walked at all.
    if _opening_brackets(raw) > MAX_NESTING and nested_deeper_than(frame, MAX_NESTING):
        cause = _formation(f"Frame is nested more than {MAX_NESTING} levels deep")
        raise FrameError(unique_id if message_type == MessageType.Call else None, cause)

    if message_type == MessageType.Call:
        if len(frame) != 4:
            raise FrameError(unique_id, _rpc("A CALL has exactly 4 elements"))
        _, _, action, payload = frame
        if not isinstance(action, str):
            raise FrameError(unique_id, _rpc("Action is not a string"))
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


# types-jsonschema leaves `extend` unannotated; it makes a class of the validator protocol.
_OcppValidator: type[Validator] = validators.extend(  # type: ignore[no-untyped-call]
    Draft4Validator,
    type_checker=Draft4Validator.TYPE_CHECKER.redefine("integer", _is_integer),
)


_Ocpp201Validator: type[Validator] = validators.extend(  # type: ignore[no-untyped-call]
    validators.Draft6Validator,
    type_checker=validators.Draft6Validator.TYPE_CHECKER.redefine("integer", _is_integer),
)


def _schema_text(schema_name: str, dialect: Dialect = V16) -> str:
    return resources.files(dialect.schemas).joinpath(f"{schema_name}.json").read_text()


@cache
def _validator(schema_name: str, dialect: Dialect = V16) -> Validator:
    parse_float = decimal.Decimal if schema_name in dialect.decimal_schemas else float
    schema = json.loads(_schema_text(schema_name, dialect), parse_float=parse_float)
    validator = _OcppValidator if dialect is V16 else _Ocpp201Validator
    return validator(schema, format_checker=_FORMAT_CHECKER)


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
def _fast_validator(schema_name: str, dialect: Dialect = V16) -> Callable[[Any], Any] | None:
    """The compiled check, or None where only Decimal arithmetic gets `multipleOf` right."""
    if schema_name in dialect.decimal_schemas:
        return None
    return fastjsonschema.compile(
        bounded_schema(schema_name, dialect),
        formats={"date-time": _is_date_time},
        use_default=False,
    )


def bounded_schema(schema_name: str, dialect: Dialect = V16) -> dict[str, Any]:
    """The library's schema with OCPP's 32-bit range made explicit on every integer."""
    schema: dict[str, Any] = _int32(json.loads(_schema_text(schema_name, dialect)))
    return schema


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


def schema_errors(
    schema_name: str, payload: dict[str, Any], dialect: Dialect = V16
) -> list[SchemaValidationError]:
    fast = _fast_validator(schema_name, dialect)
    if fast is not None:
        try:
            fast(payload)
            return []
        except fastjsonschema.JsonSchemaException:
            pass  # jsonschema says exactly what is wrong
    return rule_errors(schema_name, payload, dialect)


def rule_errors(
    schema_name: str, payload: dict[str, Any], dialect: Dialect = V16
) -> list[SchemaValidationError]:
    """What jsonschema, with OCPP's rules, finds wrong: the reference the fast path keeps."""
    validator = _validator(schema_name, dialect)
    if schema_name not in dialect.decimal_schemas:
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
        message += " (OCPP integers are 32 bits)"
    return f"{path}: {message}" if path else message


def raise_for(error: SchemaValidationError, dialect: Dialect = V16) -> NoReturn:
    """Raise the error, in the version's spelling, that a schema violation calls for."""
    error_class = dialect.format_error
    if isinstance(error.validator, str):  # always, for an error a validator found
        error_class = _ERROR_FOR_KEYWORD.get(error.validator, error_class)
    if error_class is OccurenceConstraintViolationError:
        error_class = dialect.occurrence_error
    elif error_class is FormationViolationError:
        error_class = dialect.format_error
    raise error_class(details={"cause": describe(error)})


def validate(schema_name: str, payload: dict[str, Any], dialect: Dialect = V16) -> None:
    """Raise the version's error for the first way `payload` breaks the named schema."""
    errors = schema_errors(schema_name, payload, dialect)
    if errors:
        raise_for(errors[0], dialect)


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


def check_action(action: str, dialect: Dialect = V16) -> None:
    if action not in dialect.actions:
        raise OcppNotImplementedError(details={"cause": f"Unknown action {action!r}"})
