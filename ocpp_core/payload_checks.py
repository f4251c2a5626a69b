"""Checks of a decoded payload: against its version's schemas, and for the NUL character.

Payloads are checked first by the library's schemas compiled to Python code
(fastjsonschema, some 30x faster than jsonschema on a MeterValues); only a payload that
fails is checked again by jsonschema, whose errors name the keyword and path that the
CALLERROR needs. Both apply OCPP's rules the schemas leave out: 32-bit integers and
date-times the services can read.
"""

from __future__ import annotations

import decimal
import json
from collections.abc import Callable, Iterable
from functools import cache
from importlib import resources
from typing import Any, NoReturn

import fastjsonschema
from jsonschema import Draft4Validator, FormatChecker, validators
from jsonschema.exceptions import ValidationError as SchemaValidationError
from jsonschema.protocols import Validator
from ocpp.exceptions import (
    FormationViolationError,
    OccurenceConstraintViolationError,
    OCPPError,
    PropertyConstraintViolationError,
    TypeConstraintViolationError,
)

from ocpp_core.dialects import V16, Dialect
from ocpp_core.timeutil import parse_datetime

_DECIMAL_DIGITS = 700


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
