"""Operations for a charge point whose socket another instance holds.

The instance an operator asked sends the CALL's action and payload to the holder; the
holder sends it to the charge point as if asked itself and replies with the charge point's
answer, or with the way it failed (the same typed outcomes as a local CALL). Waiting calls
fail at once when their holder is found dead.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from typing import Any

from ocpp_core.errors import (
    CallErrorReply,
    CallTimedOut,
    InvalidReply,
    NotAccepted,
    NotConnected,
    OperationFailed,
)


def encode_failure(error: OperationFailed) -> dict[str, Any]:
    """An OperationFailed as a reply between instances."""
    if isinstance(error, CallErrorReply):
        return {
            "error": "callerror",
            "code": error.code,
            "description": error.description,
            "details": error.details,
        }
    if isinstance(error, CallTimedOut):
        return {"error": "timeout", "timeout": error.timeout}
    if isinstance(error, NotAccepted):
        return {"error": "not_accepted", "status": error.registration_status}
    if isinstance(error, InvalidReply):
        return {"error": "invalid_reply", "message": str(error)}
    return {"error": "not_connected"}


def decode_reply(charge_point_id: str, action: str, reply: dict[str, Any]) -> dict[str, Any]:
    """The charge point's answer from a holder's reply, or the failure it reports."""
    error = reply.get("error")
    if error is None:
        answer: dict[str, Any] = reply["answer"]
        return answer
    if error == "callerror":
        raise CallErrorReply(reply["code"], reply["description"], reply.get("details"))
    if error == "timeout":
        raise CallTimedOut(charge_point_id, action, reply["timeout"])
    if error == "not_accepted":
        raise NotAccepted(charge_point_id, reply["status"])
    if error == "invalid_reply":
        raise InvalidReply(reply["message"])
    raise NotConnected(charge_point_id)


@dataclass
class _Waiting:
    holder: str
    charge_point_id: str
    action: str
    future: asyncio.Future[dict[str, Any]]


class PendingCalls:
    """The calls this instance sent to other instances, waiting for their replies."""

    def __init__(self) -> None:
        self._waiting: dict[str, _Waiting] = {}

    def open(self, holder: str, charge_point_id: str, action: str) -> str:
        request_id = uuid.uuid4().hex
        future = asyncio.get_running_loop().create_future()
        self._waiting[request_id] = _Waiting(holder, charge_point_id, action, future)
        return request_id

    async def wait(self, request_id: str, wait_seconds: float) -> dict[str, Any]:
        waiting = self._waiting[request_id]
        try:
            reply = await asyncio.wait_for(waiting.future, wait_seconds)
        except TimeoutError:
            raise CallTimedOut(waiting.charge_point_id, waiting.action, wait_seconds) from None
        finally:
            self._waiting.pop(request_id, None)
        return decode_reply(waiting.charge_point_id, waiting.action, reply)

    def answered(self, request_id: str, reply: dict[str, Any]) -> None:
        waiting = self._waiting.get(request_id)
        if waiting is not None and not waiting.future.done():
            waiting.future.set_result(reply)

    def holder_gone(self, holder: str) -> None:
        """The holder died or left: its calls will never be answered."""
        for waiting in self._waiting.values():
            if waiting.holder == holder and not waiting.future.done():
                waiting.future.set_result({"error": "not_connected"})
