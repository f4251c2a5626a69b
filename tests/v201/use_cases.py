"""What the use-case tests (tests/v201/test_use_cases_*.py) share: a 2.0.1 charging station
on a real WebSocket, the JSON API as an operator uses it, and an operation posted while
the test's station answers the CALL it makes.

Each test is named after its use case (OCPP 2.0.1 Part 2); its docstring quotes the OCTT
test case and requirement ids where they were checked against the test case descriptions
(Part 6), and otherwise states the use case's rule in words."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.conftest import ACCOUNTS, basic
from tests.ocpp_client import RawChargePoint

V201 = ("ocpp2.0.1",)


def iso(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat().replace("+00:00", "Z")


def now() -> str:
    return iso(datetime.now(UTC))


def later(minutes: int = 30) -> str:
    return iso(datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=minutes))


async def boot(cp: RawChargePoint, reason: str = "PowerUp", **station: Any) -> dict[str, Any]:
    """A BootNotification that gets an answer (whatever its status); the answer."""
    return await cp.result(
        "BootNotification",
        {
            "chargingStation": {"model": "UC-Model", "vendorName": "UC-Vendor", **station},
            "reason": reason,
        },
    )


async def status(cp: RawChargePoint, connector_status: str, evse: int = 1, connector: int = 1):
    return await cp.result(
        "StatusNotification",
        {
            "timestamp": now(),
            "connectorStatus": connector_status,
            "evseId": evse,
            "connectorId": connector,
        },
    )


async def station(connect, charge_point_id: str, evses: int = 1, **kwargs: Any) -> RawChargePoint:
    """A 2.0.1 station, booted and Accepted, connector 1 of each of its EVSEs Available."""
    cp = await connect(charge_point_id, protocols=V201, **kwargs)
    assert cp.ws.protocol == "ocpp2.0.1"
    answer = await boot(cp)
    assert answer["status"] == "Accepted", answer
    for evse in range(1, evses + 1):
        assert await status(cp, "Available", evse) == {}
    return cp


async def api_get(client, path: str, role: str = "viewer") -> Any:
    response = await client.get(path, headers=basic(*ACCOUNTS[role]))
    assert response.status == 200, await response.text()
    return await response.json()


async def post(client, path: str, body: dict[str, Any], role: str = "operator"):
    return await client.post(path, json=body, headers=basic(*ACCOUNTS[role]))


async def add_tag(client, id_tag: str, **fields: Any) -> None:
    response = await post(client, "/api/id-tags", {"id_tag": id_tag, **fields})
    assert response.status == 201, await response.text()


Answer = dict[str, Any] | Callable[[list[Any]], dict[str, Any]]


async def answered(
    client,
    cp: RawChargePoint,
    charge_point_id: str,
    name: str,
    body: dict[str, Any],
    answer: Answer,
    role: str = "operator",
) -> tuple[list[Any], int, dict[str, Any]]:
    """POST the operation `name` for the station, answer the CALL it makes with `answer`
    (a payload, or a function of the CALL); (the CALL, the HTTP status, the JSON body)."""
    url = f"/api/charge-points/{charge_point_id}/{name}"
    posting = asyncio.ensure_future(post(client, url, body, role))
    try:
        call = await cp.receive()
    except BaseException:
        posting.cancel()
        raise
    assert call[0] == 2, f"expected a CALL, got {call}"
    payload = answer(call) if callable(answer) else answer
    await cp.send_raw(json.dumps([3, call[1], payload]))
    response = await posting
    return call, response.status, await response.json()


async def refused(
    client, charge_point_id: str, name: str, body: dict[str, Any], role: str = "operator"
) -> tuple[int, str]:
    """POST an operation the API must refuse before anything is sent; (status, error)."""
    response = await post(client, f"/api/charge-points/{charge_point_id}/{name}", body, role)
    return response.status, (await response.json()).get("error", "")


async def eventually(check: Callable[[], Awaitable[Any]], seconds: float = 5) -> Any:
    """The first truthy result of `check`, polled (for what follows an answer)."""
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        result = await check()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not so within {seconds} s: {result!r}")
        await asyncio.sleep(0.02)


async def journal(client, charge_point_id: str) -> list[dict[str, Any]]:
    """The operations sent to a charge point, newest first, as the API shows them."""
    return await api_get(client, f"/api/charge-points/{charge_point_id}/operations")


async def charge_point(client, charge_point_id: str) -> dict[str, Any]:
    return await api_get(client, f"/api/charge-points/{charge_point_id}")
