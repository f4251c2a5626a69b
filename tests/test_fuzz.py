"""Hypothesis against the OCPP endpoint and the JSON API: random, mutated and valid input
never crashes the server (no InternalError), never gets a 500, never leaves a row that
contradicts itself."""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import weakref
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema
from ocpp.v16.enums import Action
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ocpp_core.db.models import Transaction
from ocpp_core.payload_checks import bounded_schema, nul_cause
from ocpp_core.settings import Settings
from ocpp_core.v16.operations import CATALOGUE
from tests.helpers import ADMIN, OPERATOR, tenths
from tests.ocpp_client import RawChargePoint
from tests.operation_requests import OPERATIONS
from webapp.app import create_app
from webapp.keys import ENGINE, SERVICES

OCPP_1_6_ERRORS = {
    "NotImplemented",
    "NotSupported",
    "InternalError",
    "ProtocolError",
    "SecurityError",
    "FormationViolation",
    "PropertyConstraintViolation",
    "OccurenceConstraintViolation",
    "TypeConstraintViolation",
    "GenericError",
}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)
field_names = st.sampled_from(
    ["idTag", "connectorId", "meterStart", "meterStop", "timestamp", "transactionId", "status",
     "errorCode", "meterValue", "sampledValue", "value", "chargePointVendor", "chargePointModel",
     "vendorId", "reservationId", "reason", "transactionData"]
)  # fmt: skip
payloads = st.dictionaries(field_names | st.text(max_size=10), json_values, max_size=6)
actions = st.sampled_from([a.value for a in Action]) | st.text(max_size=20)
message_ids = st.text(min_size=1, max_size=40) | st.integers() | st.none()

frames = st.one_of(
    # A CALL with a real or made-up action and a mutated payload.
    st.builds(lambda i, a, p: json.dumps([2, i, a, p]), message_ids, actions, payloads),
    # Any JSON at all, and frames of the wrong shape or type.
    json_values.map(json.dumps),
    st.lists(json_values, max_size=6).map(json.dumps),
    st.builds(
        lambda t, rest: json.dumps([t, *rest]),
        st.integers(-2, 9),
        st.lists(json_values, max_size=4),
    ),
    # Broken text, sometimes with a readable id in front.
    st.text(max_size=60),
    st.builds(
        lambda i, tail: f'[2,"{i}",{tail}', st.text("abc123", min_size=1, max_size=8), st.text()
    ),
)  # fmt: skip

FUZZ = settings(
    max_examples=120,
    deadline=None,
    # No explain phase: on a failure it ran the slow examples again for minutes, past the
    # test's timeout, before the failing example was printed.
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


async def _assert_consistent(client) -> None:
    async with AsyncSession(client.app[ENGINE]) as session:
        for tx in (await session.scalars(select(Transaction))).all():
            assert (tx.meter_stop is None) == (tx.stop_time is None), tx.id
            assert tx.charge_point_id == "FUZZ"


async def _survives(client, frame: str, lenient: bool = False) -> None:
    await client.app[SERVICES].charge_points.register("FUZZ")
    await client.app[SERVICES].charge_points.set_protocol_settings("FUZZ", lenient=lenient)
    ws = await client.ws_connect("/ocpp/FUZZ", protocols=("ocpp1.6",))
    cp = RawChargePoint(ws)
    try:
        await cp.send_raw(frame)
        await cp.send_raw('[2,"probe","Heartbeat",{}]')
        # Whatever came of the fuzz frame (a CALLERROR, a CALLRESULT, or nothing), the
        # connection is up and the probe is answered.
        for _ in range(3):
            answer = await cp.receive(timeout=10)
            assert answer[0] in (3, 4), answer
            if answer[0] == 4:
                assert answer[2] in OCPP_1_6_ERRORS, answer
                assert isinstance(answer[3], str) and isinstance(answer[4], dict)
                # Only what was checked reaches the handlers and the database: whatever
                # the frame, never a crash.
                assert answer[2] != "InternalError", (frame, answer)
            if answer[1] == "probe" and answer[0] == 3:
                break
        else:
            raise AssertionError("the probe was never answered")
    finally:
        await ws.close()
    await _assert_consistent(client)


@pytest.mark.timeout(600)
@FUZZ
@given(frame=frames)
async def test_ocpp_endpoint_survives_any_frame(client, frame: str) -> None:
    await _survives(client, frame)


# Valid frames with the deviations real chargers make: numbers as strings or floats, odd
# units, long texts.
sloppy_numbers = st.one_of(
    st.integers(0, 10**6),
    st.integers(0, 10**6).map(str),
    st.floats(0, 1e6, allow_nan=False).map(str),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
)
sloppy_units = st.sampled_from(["Wh", "kWh", "kwh", "KWH", "Hz", "W", "kW", "", "x" * 20, 5])
sloppy_frames = st.one_of(
    st.builds(
        lambda c, m, u, v: json.dumps([2, "s", "MeterValues", {
            "connectorId": c, "meterValue": [{"timestamp": "2026-11-25T08:00:00Z",
            "sampledValue": [{"value": v, "unit": u, "measurand": m}]}]}]),
        sloppy_numbers, st.sampled_from(["Energy.Active.Import.Register", "Frequency", "?"]),
        sloppy_units, sloppy_numbers,
    ),
    st.builds(
        lambda c, m: json.dumps([2, "s", "StartTransaction", {
            "connectorId": c, "idTag": "T", "meterStart": m, "timestamp": "2026-11-25T08:00:00Z"}]),
        sloppy_numbers, sloppy_numbers,
    ),
    st.builds(
        lambda serial: json.dumps([2, "s", "BootNotification", {
            "chargePointVendor": "V", "chargePointModel": "M", "chargePointSerialNumber": serial}]),
        st.text(max_size=300),
    ),
)  # fmt: skip


@pytest.mark.timeout(600)
@FUZZ
@given(frame=frames | sloppy_frames)
async def test_lenient_charge_point_survives_any_frame(client, frame: str) -> None:
    await _survives(client, frame, lenient=True)


API_PATHS = [
    "/api/charge-points/OFF/remote-start",
    "/api/charge-points/OFF/remote-stop",
    *(f"/api/charge-points/OFF/{operation}" for operation in sorted(CATALOGUE)),
    "/api/id-tags",
    "/api/transactions/1/close",
]
bodies = st.one_of(
    payloads.map(json.dumps),
    st.dictionaries(
        st.sampled_from(["id_tag", "connector_id", "transaction_id", "type", "charging_profile",
                         "cs_charging_profiles", "expiry_date", "reservation_id", "list_version",
                         "update_type", "local_authorization_list", "key", "value", "blocked",
                         "parent_id_tag", "vendor_id", "message_id", "data", "requested_message",
                         "location", "retrieve_date", "start_time", "stop_time", "retries",
                         "retry_interval", "duration", "charging_rate_unit", "id",
                         "charging_profile_purpose", "stack_level", "log_type", "log",
                         "request_id", "certificate", "certificate_type",
                         "certificate_hash_data", "firmware", "cs_charging_profiles"]),
        json_values,
        max_size=5,
    ).map(json.dumps),
    st.text(max_size=40),
)  # fmt: skip


@pytest.mark.timeout(600)
@FUZZ
@given(path=st.sampled_from(API_PATHS), body=bodies)
async def test_json_api_never_fails_with_a_500(client, path: str, body: str) -> None:
    await client.app[SERVICES].charge_points.register("OFF")
    response = await client.post(
        path, data=body, headers={**OPERATOR, "Content-Type": "application/json"}
    )
    assert response.status in (200, 201, 400, 404, 409), (response.status, await response.text())
    answer: Any = await response.json()
    if response.status >= 400:
        assert isinstance(answer["error"], str) and answer["error"]


async def test_huge_decimal_in_a_charging_profile_is_checked_not_a_500(client) -> None:
    # multipleOf 0.1 on 1e27 once overflowed decimal's 28 digits (found by
    # tests/test_schema_checks.py): checked exactly now, so it reaches "not connected".
    await client.app[SERVICES].charge_points.register("OFF")
    profile = {
        "charging_profile_id": 1,
        "stack_level": 0,
        "charging_profile_purpose": "TxProfile",
        "charging_profile_kind": "Relative",
        "charging_schedule": {
            "charging_rate_unit": "A",
            "charging_schedule_period": [{"start_period": 0, "limit": 16.0}],
            "min_charging_rate": 1e27,
        },
    }
    response = await client.post(
        "/api/charge-points/OFF/remote-start",
        json={"id_tag": "T", "connector_id": 1, "charging_profile": profile},
        headers=OPERATOR,
    )
    assert response.status == 409, await response.text()


# Every CALL a charge point may send, generated from the library's OCPP 1.6 schemas with
# OCPP's 32-bit integers, reaches the handlers, where random frames rarely get (found so
# far: a reading longer than its column, a NUL character in an idTag).
CHARGE_POINT_ACTIONS = [
    "Authorize", "BootNotification", "DataTransfer", "DiagnosticsStatusNotification",
    "FirmwareStatusNotification", "Heartbeat", "MeterValues", "StartTransaction",
    "StatusNotification", "StopTransaction", "SecurityEventNotification", "SignCertificate",
    "LogStatusNotification", "SignedFirmwareStatusNotification",
]  # fmt: skip


valid_calls = st.one_of(
    [
        from_schema(bounded_schema(action)).map(
            lambda payload, action=action: json.dumps([2, "valid", action, payload])
        )
        for action in CHARGE_POINT_ACTIONS
    ]
)


@pytest.mark.timeout(600)
@FUZZ
@given(frame=valid_calls, lenient=st.booleans())
async def test_a_valid_call_never_meets_an_internal_error(
    client, frame: str, lenient: bool
) -> None:
    await _survives(client, frame, lenient)


# The same inside a session: MeterValues and StopTransaction for the session just started,
# with whatever readings the schema allows (energy from any two 32-bit meter readings).
# One strategy per action, built once (a flatmap built it again for every draw).
session_calls = st.tuples(
    st.one_of(
        [
            st.tuples(st.just(action), from_schema(bounded_schema(action)))
            for action in ["MeterValues", "StopTransaction"]
        ]
    ),
    st.integers(0, 2**31 - 1),
)


@pytest.mark.timeout(600)
@FUZZ
@given(case=session_calls)
async def test_a_valid_call_in_a_session_never_meets_an_internal_error(client, case) -> None:
    (action, payload), meter_start = case
    await client.app[SERVICES].charge_points.register("FUZZ")
    await client.app[SERVICES].id_tags.add("FUZZ-TAG")
    ws = await client.ws_connect("/ocpp/FUZZ", protocols=("ocpp1.6",))
    cp = RawChargePoint(ws)
    try:
        await cp.boot()
        started = await cp.result(
            "StartTransaction",
            {"connectorId": 1, "idTag": "FUZZ-TAG", "meterStart": meter_start,
             "timestamp": "2026-11-25T08:00:00Z"},
        )  # fmt: skip
        payload = {**payload, "transactionId": started["transactionId"]}
        if action == "MeterValues":
            payload["connectorId"] = 1
        answer = await cp.call(action, payload)
        assert answer[0] == 3 or answer[2] != "InternalError", (payload, answer)
    finally:
        await ws.close()
    await _assert_consistent(client)


# An operation from the API, answered by the charge point with any answer its 1.6 schema
# allows: stored and returned, never a 500.
# One strategy per operation, built once (a flatmap built it again for every draw).
answered_operations = st.one_of(
    [
        st.tuples(
            st.just(operation),
            from_schema(bounded_schema(OPERATIONS[operation][1] + "Response")).map(tenths),
        )
        for operation in sorted(OPERATIONS)
    ]
)
_RESERVATION_IDS = itertools.count(1000)


@pytest.mark.timeout(600)
@FUZZ
@given(case=answered_operations)
async def test_any_valid_answer_to_an_operation_is_taken(client, case) -> None:
    operation, answer = case
    body, action, _ = OPERATIONS[operation]
    if operation == "reserve-now":  # an id already used would be refused before sending
        body = {**body, "reservation_id": next(_RESERVATION_IDS)}
    await client.app[SERVICES].charge_points.register("FUZZ-OP")
    ws = await client.ws_connect("/ocpp/FUZZ-OP", protocols=("ocpp1.6",))
    cp = RawChargePoint(ws)
    try:
        await cp.boot()
        request = asyncio.ensure_future(
            client.post(
                f"/api/charge-points/FUZZ-OP/{operation}",
                data=json.dumps(body),
                headers={**OPERATOR, "Content-Type": "application/json"},
            )
        )
        await cp.answer(await cp.expect_call(action), answer)
        response = await request
        text = await response.text()
        if nul_cause(answer) is None:
            assert response.status == 200, (operation, answer, text)
        else:  # the one thing a valid answer may not hold (test_remote_operations.py)
            assert response.status == 502 and "NUL character" in text, (operation, text)
    finally:
        await ws.close()


# Every operation's portal form, with any text in any of its fields: the page answers with
# the form's outcome (a message), never a 500. The charge point is registered, not
# connected, so every check before sending runs and nothing is sent.
form_text = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["0", "-1", "1e400", "nan", "inf", "-0", "2147483648", "1.5", " 7 ",
                     "0001-01-01T00:00:00+00:01", "9999-12-31T23:59:59-00:01",
                     "2026-01-01T00:00", "Hard", "A", "Accepted", "ftp://x/y"]),
)  # fmt: skip
PORTAL_FORM_FIELDS = {
    path: sorted(entry.form.readers)
    for path, entry in CATALOGUE.items()
    if entry.form is not None and entry.form.readers
}
form_cases = st.sampled_from(sorted(PORTAL_FORM_FIELDS)).flatmap(
    lambda operation: st.tuples(
        st.just(operation),
        st.dictionaries(st.sampled_from(PORTAL_FORM_FIELDS[operation]), form_text, max_size=5),
    )
)


# One login per test run, not per example: a login hashes the password, slowly on purpose.
# Weakly keyed by the test's client, so a later test never gets an earlier one's session.
_LOGINS: weakref.WeakKeyDictionary[Any, dict[str, Any]] = weakref.WeakKeyDictionary()


async def _logged_in(client, portal, role: str) -> Any:
    logins = _LOGINS.setdefault(client, {})
    if role not in logins:
        logins[role] = await portal(role)
    return logins[role]


@pytest.mark.timeout(600)
@FUZZ
@given(case=form_cases)
async def test_operation_forms_never_fail_with_a_500(client, portal, case) -> None:
    operation, fields = case
    await client.app[SERVICES].charge_points.register("FORM")
    operator = await _logged_in(client, portal, "operator")
    status, html = await operator.post(f"/charge-points/FORM/operations/{operation}", fields)
    assert status < 500, (operation, fields, html[:300])


# Every page and API address that reads, with anything in its path parts and its query:
# a page, a 400 or a 404, never a 500.
def _routes(method: str, leave_out: tuple[str, ...]) -> list[str]:
    """The app's addresses for `method` (`/transactions/{transaction_id}`), some left out."""
    app = create_app(Settings(secret_key="fuzz"))
    return sorted(
        {
            address
            for route in app.router.routes()
            if route.method == method
            and (address := route.resource.get_info().get("formatter") or route.resource.canonical)
            and not address.startswith(leave_out)
        }
    )


def _filled(route: str, part: str) -> str:
    """The address with `part` in each of its variable parts."""
    return re.sub(r"\{[^}]+\}", lambda _: quote(part, safe=""), route)


GET_ROUTES = _routes("GET", ("/ocpp/", "/events", "/static"))
QUERY_NAMES = ["charge_point_id", "id_tag", "from", "to", "active", "page", "limit", "x"]
path_parts = st.one_of(
    st.text(min_size=1, max_size=24),
    st.sampled_from(["1", "0", "-1", "2147483648", "99999999999999999999", "CP-1", "T"]),
)
queries = st.dictionaries(st.sampled_from(QUERY_NAMES), form_text, max_size=4)
addresses = st.builds(
    lambda route, part, query: (_filled(route, part), query),
    st.sampled_from(GET_ROUTES),
    path_parts,
    queries,
)


@pytest.mark.timeout(600)
@FUZZ
@given(address=addresses)
async def test_no_address_answers_a_500(client, address) -> None:
    path, query = address
    await client.app[SERVICES].charge_points.register("CP-1")
    response = await client.get(path, params=query, headers=ADMIN)
    assert response.status < 500, (path, query, (await response.text())[:300])


# Every portal form, with any text in its path parts and fields: a page with a message, a
# redirect, a 400 or a 404, never a 500. (/logout is left out: it would end the session
# the other examples use.)
POST_ROUTES = _routes("POST", ("/api/", "/logout", "/charge-points/{charge_point_id}/op"))
FORM_NAMES = ["charge_point_id", "id_tag", "parent_id_tag", "expiry_date", "blocked", "username",
              "password", "role", "connector_id", "transaction_id", "registration_status",
              "lenient", "ping_interval", "next", "id", "x"]  # fmt: skip
posts = st.builds(
    lambda route, part, fields: (_filled(route, part), fields),
    st.sampled_from(POST_ROUTES),
    path_parts,
    st.dictionaries(st.sampled_from(FORM_NAMES), form_text, max_size=5),
)


@pytest.mark.timeout(600)
@FUZZ
@given(post=posts)
async def test_no_form_answers_a_500(client, portal, post) -> None:
    path, fields = post
    await client.app[SERVICES].charge_points.register("CP-1")
    admin = await _logged_in(client, portal, "admin")
    status, html = await admin.post(path, fields, allow_redirects=False)
    assert status < 500, (path, fields, html[:300])


# A charger and an operator at once: each step sends a valid CALL (often naming the
# charger's own session, connector and tag) while an administrator changes what it
# refers to (removes the charger, closes the session, deletes or blocks the tag, switches
# lenient mode...). Found so far: a charger removed while connected met InternalErrors.
OPERATOR_POSTS = [
    ("/charge-points/{cp}/remove", {}),
    ("/charge-points/{cp}/accept", {}),
    ("/charge-points/{cp}/protocol", {"lenient": "on"}),
    ("/charge-points/{cp}/protocol", {"ping_interval": "0"}),
    ("/charge-points/{cp}/password", {"password": "sixteen-chars-key"}),
    ("/charge-points", {"charge_point_id": "{cp}"}),
    ("/id-tags", {"id_tag": "MIX-TAG"}),
    ("/id-tags/MIX-TAG", {"blocked": "1"}),
    ("/id-tags/MIX-TAG", {"expiry_date": "2020-01-01T00:00"}),
    ("/id-tags/MIX-TAG/delete", {}),
    ("/transactions/{session}/close", {}),
]


def _steered(payload: dict[str, Any], steer: bool) -> dict[str, Any]:
    """The payload, its tag, connector and session made the charger's own (`{session}`
    is filled in when it is sent)."""
    if not steer:
        return payload
    mine = {"idTag": "MIX-TAG", "connectorId": 1, "transactionId": "{session}"}
    return {key: mine.get(key, value) for key, value in payload.items()}


# One strategy per action, built once (a flatmap would build it for every draw).
mixed_calls = st.one_of(
    [
        st.tuples(
            st.just(action),
            st.builds(_steered, from_schema(bounded_schema(action)), st.booleans()),
        )
        for action in CHARGE_POINT_ACTIONS
    ]
)
mixed_steps = st.lists(
    st.tuples(
        mixed_calls,
        # Removal the most often: it changes the most under the charger's feet.
        st.none() | st.just(OPERATOR_POSTS[0]) | st.sampled_from(OPERATOR_POSTS),
        st.sampled_from(["together", "operator first", "charger first"]),
    ),
    min_size=2,
    max_size=6,
)


_MIXED_IDS = itertools.count(1)


class _Charger:
    """The charger of the mixed test (a new one each example: one with a session cannot
    be removed); it reconnects after a removal closed its socket."""

    def __init__(self, client, with_session: bool) -> None:
        self.client = client
        self.id = f"MIX-{next(_MIXED_IDS)}"
        self.with_session = with_session
        self.cp: RawChargePoint | None = None
        self.session = 0

    async def connect(self) -> None:
        services = self.client.app[SERVICES]
        await services.charge_points.register(self.id)  # back after a removal,
        await services.charge_points.set_password(self.id, None)  # without the key set
        ws = await self.client.ws_connect(f"/ocpp/{self.id}", protocols=("ocpp1.6",))
        self.cp = RawChargePoint(ws)
        await self.cp.boot()
        if not self.with_session:
            return
        self.with_session = False  # one is enough
        started = await self.cp.call(
            "StartTransaction",
            {"connectorId": 1, "idTag": "MIX-TAG", "meterStart": 0,
             "timestamp": "2026-11-25T08:00:00Z"},
        )  # fmt: skip
        assert started[0] == 3 or started[2] != "InternalError", started
        if started[0] == 3:
            self.session = started[2]["transactionId"]

    async def send(self, action: str, payload: dict[str, Any]) -> None:
        if self.cp is None or self.cp.ws.closed:
            await self.connect()
        assert self.cp is not None
        if payload.get("transactionId") == "{session}":
            payload = {**payload, "transactionId": self.session}
        try:
            await self.cp.send_raw(json.dumps([2, "mixed", action, payload]))
        except ConnectionResetError:
            return  # removed just before: its socket is closing
        message = await self.cp.ws.receive(timeout=10)
        if message.type != aiohttp.WSMsgType.TEXT:
            return  # removed meanwhile: its socket closed
        answer = json.loads(message.data)
        assert answer[0] == 3 or answer[2] != "InternalError", (action, payload, answer)

    async def close(self) -> None:
        if self.cp is not None:
            await self.cp.ws.close()


async def _operator(admin, path: str, fields: dict[str, str]) -> None:
    status, html = await admin.post(path, fields, allow_redirects=False)
    assert status < 500, (path, fields, html[:300])


@pytest.mark.timeout(600)
@settings(FUZZ, max_examples=60)
@given(steps=mixed_steps, with_session=st.booleans())
async def test_a_charger_and_an_operator_at_once_never_meet_an_error(
    client, portal, steps, with_session: bool
) -> None:
    admin = await _logged_in(client, portal, "admin")
    await client.app[SERVICES].id_tags.add("MIX-TAG")  # as new: not blocked, no expiry
    charger = _Charger(client, with_session)
    try:
        await charger.connect()
        for call, post, order in steps:
            work = [charger.send(*call)]
            if post is not None:
                path = post[0].replace("{session}", str(charger.session))
                path = path.replace("{cp}", charger.id)
                fields = {name: v.replace("{cp}", charger.id) for name, v in post[1].items()}
                operator = _operator(admin, path, fields)
                work.insert(0 if order == "operator first" else len(work), operator)
            if order == "together":
                await asyncio.gather(*work)
            else:
                for one in work:
                    await one
    finally:
        await charger.close()
    async with AsyncSession(client.app[ENGINE]) as session:
        for tx in (await session.scalars(select(Transaction))).all():
            assert (tx.meter_stop is None) == (tx.stop_time is None), tx.id
