"""A raw OCPP-J charge point for tests: exact frames out, exact frames back."""

from __future__ import annotations

import itertools
import json
from typing import Any

from aiohttp import ClientWebSocketResponse, WSMsgType

_ids = itertools.count(1)


class RawChargePoint:
    def __init__(self, ws: ClientWebSocketResponse) -> None:
        self.ws = ws

    async def send_raw(self, text: str) -> None:
        await self.ws.send_str(text)

    async def receive(self, timeout: float = 5) -> list[Any]:
        msg = await self.ws.receive(timeout=timeout)
        assert msg.type == WSMsgType.TEXT, f"expected a text frame, got {msg.type!r} {msg.extra}"
        return json.loads(msg.data)

    async def call(
        self, action: str, payload: dict[str, Any], unique_id: str | None = None
    ) -> list:
        """Send a CALL and return the whole answer frame (CALLRESULT or CALLERROR)."""
        unique_id = unique_id or f"t{next(_ids)}"
        await self.send_raw(json.dumps([2, unique_id, action, payload]))
        frame = await self.receive()
        assert frame[1] == unique_id, f"answer to another message: {frame}"
        return frame

    async def result(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Send a CALL that must succeed; return the CALLRESULT payload."""
        frame = await self.call(action, payload)
        assert frame[0] == 3, f"{action} was refused: {frame}"
        return frame[2]

    async def boot(self, **extra: Any) -> dict[str, Any]:
        return await self.result(
            "BootNotification",
            {"chargePointVendor": "TestVendor", "chargePointModel": "TestModel", **extra},
        )

    async def start(
        self,
        id_tag: str = "T",
        meter_start: int = 0,
        timestamp: str = "2026-01-01T00:00:00Z",
        connector_id: int = 1,
    ) -> int:
        """A StartTransaction that must succeed; the transaction id it was given."""
        started = await self.result(
            "StartTransaction",
            {"connectorId": connector_id, "idTag": id_tag, "meterStart": meter_start,
             "timestamp": timestamp},
        )  # fmt: skip
        return started["transactionId"]

    async def status(self, connector_id: int, status: str, error_code: str = "NoError") -> None:
        await self.result(
            "StatusNotification",
            {"connectorId": connector_id, "errorCode": error_code, "status": status},
        )

    async def expect_call(self, action: str, timeout: float = 5) -> list[Any]:
        """Wait for the central system's CALL of `action`; return the frame."""
        frame = await self.receive(timeout)
        assert frame[0] == 2 and frame[2] == action, f"expected a {action} CALL, got {frame}"
        return frame

    async def answer(self, frame: list[Any], payload: dict[str, Any]) -> None:
        await self.send_raw(json.dumps([3, frame[1], payload]))

    async def nothing_within(self, seconds: float) -> bool:
        try:
            msg = await self.ws.receive(timeout=seconds)
        except TimeoutError:
            return True
        raise AssertionError(f"expected silence, got {msg.type!r} {msg.data!r}")
