"""Decoding raw OCPP-J text into a CALL, CALLRESULT or CALLERROR.

The `ocpp` library drops frames it cannot unpack even when their message id is readable;
`decode` raises a `FrameError` with the version's error code instead, keeping the message
id whenever it can be read, so that the frame still gets its CALLERROR.
"""

from __future__ import annotations

import re
from typing import Any

import orjson
from ocpp.exceptions import OCPPError
from ocpp.messages import Call, CallError, CallResult, MessageType

from ocpp_core.dialects import V16, Dialect

MAX_MESSAGE_ID_LENGTH = 36

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
