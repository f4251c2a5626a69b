"""JSON schemas of what the API answers and takes (besides OCPP's requests and answers,
`ocpp_core/request_schemas.py`): the objects the views build, with the type of each field
read from the service's view dataclass it comes from where it has one. Every field is
listed and required, and no other is allowed: an answer that grew or lost a field fails
the API's fuzz test (tests/test_openapi_fuzz.py) until it is described here."""

from __future__ import annotations

import dataclasses
import types
import typing
from datetime import datetime
from typing import Any

from ocpp_core.payload_checks import INT32_MAX, INT32_MIN
from ocpp_core.services.api_tokens import MAX_NAME_LENGTH, NAME_PATTERN, TokenView
from ocpp_core.services.charge_points import (
    REGISTRATION_STATUSES,
    ChargePointView,
    ConnectorView,
    StatusHistoryEntry,
)
from ocpp_core.services.deviations import DeviationView
from ocpp_core.services.id_tags import MAX_ID_TAG_LENGTH, IdTagView
from ocpp_core.services.meter_samples import SampledValue
from ocpp_core.services.operations import (
    ChargingProfileView,
    ConfigurationView,
    OperationView,
    ReservationView,
)
from ocpp_core.services.transaction_queries import TransactionView
from ocpp_core.services.users import ROLES
from ocpp_core.versions import VERSIONS

INT32 = {"type": "integer", "minimum": INT32_MIN, "maximum": INT32_MAX}
DATE_TIME = {"type": "string", "format": "date-time"}
_SCALARS: dict[Any, dict[str, Any]] = {
    str: {"type": "string"},
    int: {"type": "integer"},
    bool: {"type": "boolean"},
    float: {"type": "number"},
    datetime: DATE_TIME,
}


def nullable(schema: dict[str, Any]) -> dict[str, Any]:
    if "type" in schema:
        kinds = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        return {**schema, "type": [*kinds, "null"]}
    return {"anyOf": [schema, {"type": "null"}]}


def nullable_enum(choices: Any) -> dict[str, Any]:
    """One of `choices`, or null (an enum must list null itself: a type does not admit it)."""
    return {"type": ["string", "null"], "enum": [*choices, None]}


def of_type(hint: Any) -> dict[str, Any]:
    """The JSON schema of a value of a view's field type, as `api_json` encodes it."""
    origin = typing.get_origin(hint)
    if origin in (types.UnionType, typing.Union):
        members = [a for a in typing.get_args(hint) if a is not type(None)]
        [member] = members
        return nullable(of_type(member))
    if origin in (list, tuple):
        return {"type": "array", "items": of_type(typing.get_args(hint)[0])}
    if origin is dict or hint is Any:
        return {"type": "object"} if origin is dict else {}
    if dataclasses.is_dataclass(hint):
        # A dataclass type hint, not an instance: a field's type.
        return closed(field_types(hint), hint.__name__)  # type: ignore[arg-type,union-attr]
    return dict(_SCALARS[hint])


def field_types(view: type) -> dict[str, dict[str, Any]]:
    """Each field of a view dataclass (or NamedTuple) with the schema of its type."""
    hints = typing.get_type_hints(view)
    names = [f.name for f in dataclasses.fields(view)] if dataclasses.is_dataclass(view) else list(
        view._fields  # type: ignore[attr-defined]
    )  # fmt: skip
    return {name: of_type(hints[name]) for name in names}


def closed(
    properties: dict[str, Any], title: str, optional: tuple[str, ...] = ()
) -> dict[str, Any]:
    """An object of exactly these properties, all required but `optional`."""
    return {
        "title": title,
        "type": "object",
        "properties": properties,
        "required": [name for name in properties if name not in optional],
        "additionalProperties": False,
    }


def view_object(view: type, title: str, **changed: dict[str, Any]) -> dict[str, Any]:
    """A view dataclass as `dataclasses.asdict` gives it, fields typed by `changed`."""
    return closed({**field_types(view), **changed}, title)


def array(items: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": items}


def pick(view: type, *names: str) -> dict[str, dict[str, Any]]:
    types_of = field_types(view)
    return {name: types_of[name] for name in names}


ERROR = closed({"error": {"type": "string"}}, "Error")

_CONNECTOR = closed(
    {
        "evse_id": nullable(INT32) | {"description": "2.0.1: the EVSE; null for 1.6"},
        **pick(ConnectorView, "connector_id", "status", "error_code"),
    },
    "Connector",
)
_CP = field_types(ChargePointView)
CHARGE_POINT = closed(
    {
        "id": _CP["id"],
        "connected": {"type": "boolean"},
        "registration_status": {"type": "string", "enum": list(REGISTRATION_STATUSES)},
        "status": {"type": "string", "description": "one word, by the rule of the README"},
        "status_since": nullable(DATE_TIME),
        "vendor": _CP["vendor"],
        "model": _CP["model"],
        "firmware_version": _CP["firmware_version"],
        "last_heartbeat": _CP["last_heartbeat_at"],
        "last_seen": nullable(DATE_TIME) | {"description": "its last message of any kind"},
        "connected_since": nullable(DATE_TIME),
        "ocpp_version": nullable_enum(VERSIONS),
        "has_password": _CP["has_password"]
        | {"description": "whether it must present an HTTP Basic key"},
        "lenient": _CP["lenient"] | {"description": "lenient mode"},
        "ping_interval": _CP["ping_interval"]
        | {"description": "its WebSocket ping interval in seconds (0: none); null: the global"},
        "pinned_version": nullable_enum(VERSIONS)
        | {"description": "the only OCPP version it may connect with; null: any"},
        "connectors": array(_CONNECTOR),
    },
    "ChargePoint",
)
STATUS_ENTRY = view_object(StatusHistoryEntry, "StatusNotification")
OPERATION_ENTRY = view_object(OperationView, "JournalEntry")
CONFIGURATION_ENTRY = view_object(ConfigurationView, "ConfigurationKey")
RESERVATION = view_object(ReservationView, "Reservation")
CHARGING_PROFILE = view_object(ChargingProfileView, "ChargingProfile")
DEVIATION = view_object(DeviationView, "ProtocolDeviation")

_TX = field_types(TransactionView)
TRANSACTION = closed(
    {
        **pick(
            TransactionView,
            "id",
            "charge_point_id",
            "connector_id",
            "id_tag",
            "id_tag_status",
            "meter_start",
            "meter_stop",
            "start_time",
            "stop_time",
            "stop_reason",
            "energy_wh",
        ),
        "ocpp_transaction_id": {
            "type": "string",
            "description": "the id the charge point knows: 1.6 our integer as text, 2.0.1 its own",
        },
        "evse_id": _TX["evse_id"],
        "flags": _TX["flags"],
        "meter_values_pruned": _TX["meter_values_pruned"],
        "meter_values_pruned_at": _TX["meter_values_pruned_at"],
    },
    "Transaction",
)
METER_VALUE = closed(
    pick(SampledValue, "timestamp", "measurand", "value", "unit", "phase", "context"),
    "SampledValue",
)

ID_TAG_TEXT = {"type": "string", "minLength": 1, "maxLength": MAX_ID_TAG_LENGTH}
_TAG = field_types(IdTagView)
ID_TAG = closed(
    {
        **pick(IdTagView, "id_tag", "parent_id_tag", "expiry_date", "blocked"),
        "last_used": _TAG["last_used"] | {"description": "with usage=true"},
        "in_session": _TAG["in_session"] | {"description": "with usage=true"},
    },
    "IdTag",
    optional=("last_used", "in_session"),
)
ID_TAG_BODY = closed(
    {
        "id_tag": ID_TAG_TEXT,
        "expiry_date": {
            "anyOf": [DATE_TIME, {"const": ""}, {"type": "null"}],
            "description": "empty or null: it never expires",
        },
        "parent_id_tag": nullable(ID_TAG_TEXT),
        "blocked": {"type": "boolean"},
    },
    "NewIdTag",
    optional=("expiry_date", "parent_id_tag", "blocked"),
)

_TOKEN = field_types(TokenView)
TOKEN = closed(
    {
        "id": _TOKEN["id"],
        "name": _TOKEN["name"],
        "user": _TOKEN["username"],
        "role": {"type": "string", "enum": list(ROLES), "description": "as granted"},
        "effective_role": {"type": "string", "enum": list(ROLES), "description": "in force"},
        "prefix": _TOKEN["prefix"],
        "created_at": _TOKEN["created_at"],
        "last_used_at": _TOKEN["last_used_at"],
        "revoked_at": _TOKEN["revoked_at"],
    },
    "Token",
)
NEW_TOKEN = closed(
    {**TOKEN["properties"], "token": {"type": "string", "description": "shown this once"}},
    "NewToken",
)
TOKEN_BODY = closed(
    {
        "name": {
            "type": "string",
            "minLength": 1,
            "maxLength": MAX_NAME_LENGTH,
            "pattern": NAME_PATTERN,
            "description": f"1 to {MAX_NAME_LENGTH} characters, not only blanks (stored "
            "stripped), no control character",
        },
        "role": {"type": "string", "enum": list(ROLES), "description": "default: yours"},
    },
    "TokenRequest",
    optional=("role",),
)
CLOSE_BODY = closed({"force": {"type": "boolean"}}, "Close", optional=("force",))
REMOTE_STOP_BODY = closed(
    {"transaction_id": INT32 | {"description": "our session id, for both versions"}},
    "RemoteStop",
)
