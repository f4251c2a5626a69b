"""Hostile frames from a charge point: numbers no meter can mean and
nesting no OCPP message has are answered with a CALLERROR, and the connection stays up.

Before, a lenient charger's `"1e300000"` kept the event loop busy for seconds in
`int(Decimal(...))`, `1e999999` kWh raised decimal.Overflow, and 900 levels of nesting
raised RecursionError: each dropped the socket with a traceback.
"""

from __future__ import annotations

import time

import pytest

from webapp.keys import SERVICES

TIME = "2026-11-25T08:00:00Z"


async def _charger(client, connect, charge_point_id: str, lenient: bool):
    await client.app[SERVICES].charge_points.register(charge_point_id)
    await client.app[SERVICES].charge_points.set_protocol_settings(charge_point_id, lenient=lenient)
    cp = await connect(charge_point_id)
    await cp.boot()
    return cp


async def _refused(cp, action: str, payload: dict, unique_id: str) -> list:
    started = time.perf_counter()
    frame = await cp.call(action, payload, unique_id)
    print(f"{unique_id}: answered in {time.perf_counter() - started:.3f} s")
    assert frame[0] == 4, frame
    return frame


@pytest.mark.parametrize(
    "text",
    [
        "1e300000",  # int() of it is quadratic in the exponent
        "1e999999999",  # beyond Decimal's exponent range
        "9" * 100_000,  # a whole number of 100,000 digits
        "1." + "0" * 100_000,  # a whole number, written with 100,000 digits
        "2147483648",  # one more than an OCPP integer holds
    ],
)
async def test_a_huge_number_as_a_string_is_refused(client, connect, text: str) -> None:
    await client.app[SERVICES].id_tags.add("TAG")
    cp = await _charger(client, connect, "LAX-BIG", lenient=True)
    payload = {"connectorId": 1, "idTag": "TAG", "meterStart": text, "timestamp": TIME}
    frame = await _refused(cp, "StartTransaction", payload, "huge")
    assert frame[1:3] == ["huge", "TypeConstraintViolation"]
    assert "meterStart" in frame[4]["cause"]
    # Still served.
    assert "currentTime" in await cp.result("Heartbeat", {})
    # A number that fits is still read.
    payload["meterStart"] = "1e3"
    assert "transactionId" in await cp.result("StartTransaction", payload)


@pytest.mark.parametrize("text", ["1e999999", "1e400", "-1e999999999", "1" + "0" * 400])
async def test_a_kwh_reading_beyond_any_meter_is_refused(client, connect, text: str) -> None:
    cp = await _charger(client, connect, "LAX-KWH", lenient=True)
    payload = {
        "connectorId": 1,
        "meterValue": [{"timestamp": TIME, "sampledValue": [{"value": text, "unit": "kWh"}]}],
    }
    frame = await _refused(cp, "MeterValues", payload, "kwh")
    assert frame[1:3] == ["kwh", "PropertyConstraintViolation"]
    assert "meterValue.0.sampledValue.0.value" in frame[4]["cause"]
    assert "currentTime" in await cp.result("Heartbeat", {})
    # An ordinary kWh reading is still scaled and stored.
    payload["meterValue"][0]["sampledValue"][0]["value"] = "12.5"
    assert await cp.result("MeterValues", payload) == {}


def _nested_lists(depth: int) -> str:
    return "[" * depth + "]" * depth


def _nested_objects(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


# Where the nesting goes: a field's value, an unknown field, a frame with a NUL escape (whose
# payload is walked for NULs), and a sampled value's unit (a lenient charger's tolerated
# field).
DEEP_FRAMES = {
    "data": '[2,"deep","DataTransfer",{{"vendorId":"V","data":{deep}}}]',
    "extra": '[2,"deep","Heartbeat",{{"extra":{deep}}}]',
    "nul": '[2,"deep","DataTransfer",{{"vendorId":"V\\u0000","data":{deep}}}]',
    "unit": '[2,"deep","MeterValues",{{"connectorId":1,"meterValue":[{{"timestamp":"'
    + TIME
    + '","sampledValue":[{{"value":"1","unit":{deep}}}]}}]}}]',
}


@pytest.mark.parametrize("lenient", [False, True], ids=["strict", "lenient"])
@pytest.mark.parametrize("nesting", [_nested_lists, _nested_objects], ids=["lists", "objects"])
@pytest.mark.parametrize("where", sorted(DEEP_FRAMES))
async def test_a_deeply_nested_frame_is_a_formation_violation(
    client, connect, lenient: bool, nesting, where: str
) -> None:
    cp = await _charger(client, connect, "DEEP", lenient=lenient)
    await cp.send_raw(DEEP_FRAMES[where].format(deep=nesting(900)))
    answer = await cp.receive()
    assert answer[:3] == [4, "deep", "FormationViolation"], answer
    assert "nested more than" in answer[4]["cause"]
    assert "currentTime" in await cp.result("Heartbeat", {})


async def test_nesting_as_deep_as_ocpp_needs_is_still_served(client, connect) -> None:
    # SendLocalList-like depth in a DataTransfer-free CALL: a GetConfiguration answer and
    # MeterValues with many samples (more brackets than the depth bound, none deep).
    cp = await _charger(client, connect, "SHALLOW", lenient=False)
    samples = [{"value": str(i), "measurand": "Energy.Active.Import.Register"} for i in range(200)]
    payload = {"connectorId": 1, "meterValue": [{"timestamp": TIME, "sampledValue": samples}]}
    assert await cp.result("MeterValues", payload) == {}
