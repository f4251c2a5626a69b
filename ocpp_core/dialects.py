"""OCPP-J dialects: what differs between 1.6 and 2.0.1 at the frame level.

The `ocpp` library reports some 1.6 errors with 2.0.1 codes (`FormatViolation`); a
`Dialect` holds each version's schemas, actions and CALLERROR spellings, so every failure
gets its own version's error code.
"""

from __future__ import annotations

from dataclasses import dataclass

from ocpp.exceptions import (
    FormationViolationError,
    FormatViolationError,
    OccurenceConstraintViolationError,
    OccurrenceConstraintViolationError,
    OCPPError,
)
from ocpp.exceptions import (
    NotImplementedError as OcppNotImplementedError,
)
from ocpp.v16.enums import Action
from ocpp.v201.enums import Action as Action201

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


def check_action(action: str, dialect: Dialect = V16) -> None:
    if action not in dialect.actions:
        raise OcppNotImplementedError(details={"cause": f"Unknown action {action!r}"})
