"""What the use-case tests (tests/v201/test_use_cases_*.py) share beside the station of
tests/v201/charging_station.py: the JSON API as an operator uses it, and an operation
posted while the test's station answers the CALL it makes.

Each test is named after its use case (OCPP 2.0.1 Part 2); its docstring quotes the OCTT
test case and requirement ids where they were checked against the test case descriptions
(Part 6), and otherwise states the use case's rule in words."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.helpers import ACCOUNTS, basic, get_json, iso, post
from tests.ocpp_client import RawChargePoint


def later(minutes: int = 30) -> str:
    """A moment `minutes` from now, to the second, as OCPP writes it."""
    return iso(datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=minutes))


async def add_tag(client, id_tag: str, **fields: Any) -> None:
    """Add an id tag through the API, as an operator."""
    status, answer = await post(client, "/api/id-tags", {"id_tag": id_tag, **fields})
    assert status == 201, answer


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
    posting = asyncio.ensure_future(post(client, url, body, basic(*ACCOUNTS[role])))
    try:
        call = await cp.receive()
    except BaseException:
        posting.cancel()
        raise
    assert call[0] == 2, f"expected a CALL, got {call}"
    payload = answer(call) if callable(answer) else answer
    await cp.send_raw(json.dumps([3, call[1], payload]))
    status, answered_with = await posting
    return call, status, answered_with


async def refused(
    client, charge_point_id: str, name: str, body: dict[str, Any], role: str = "operator"
) -> tuple[int, str]:
    """POST an operation the API must refuse before anything is sent; (status, error)."""
    url = f"/api/charge-points/{charge_point_id}/{name}"
    status, answer = await post(client, url, body, basic(*ACCOUNTS[role]))
    return status, answer.get("error", "")


async def charge_point(client, charge_point_id: str) -> dict[str, Any]:
    """A charge point as the API shows it to a viewer."""
    return await get_json(client, f"/api/charge-points/{charge_point_id}", role="viewer")
