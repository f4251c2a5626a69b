"""Hypothesis against every portal form and API body with hostile values (huge
texts, huge and tiny numbers, NaN and infinities as text and as JSON, deep nesting, control
characters) sent in odd encodings (charsets, multipart, content types): never a 500, and a
request that failed left the database as it was (no partial write)."""

from __future__ import annotations

import io
import json
import weakref
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from yarl import URL

from ocpp_core.v16.operations import CATALOGUE
from tests.helpers import ADMIN, OPERATOR, Browserless, eventually
from tests.ocpp_client import RawChargePoint
from webapp.keys import CENTRAL_SYSTEM, ENGINE, SERVICES

FUZZ = settings(
    max_examples=100,
    deadline=None,
    # No explain phase: on a failure it runs the slow examples again for minutes.
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


class Huge(str):
    """A long text that hypothesis reports (and reprs, at every example) in a few words."""

    def __repr__(self) -> str:
        return f"Huge({self[:60]!r}, {len(self)} characters)"


def _reported_short(value: str) -> str:
    return Huge(value) if len(value) > 1000 else value


NUMBERS = ["0", "-0", "-1", "1.5", "nan", "NaN", "-nan", "inf", "-inf", "Infinity", "1e999",
           "-1e999", "1e30", "1e-400", "5e-324", "2147483647", "2147483648", "-2147483649",
           "9223372036854775808", "99999999999999999999", Huge("9" * 5000), "0x1F", "1_000", " 7 ",
           "\u0663", "\uff11\uff12"]  # fmt: skip
TEXTS = ["", " ", "=1+2", "@SUM(1)", "-1+2", "a/b", "..", ".", "a:b", "new", "<script>x</script>",
         "' OR 1=1 --", "\r\n", "\t", "\x01\x7f", "\u202e", "\ufeff", "2026-01-01T00:00",
         "0001-01-01T00:00:00+00:01", "9999-12-31T23:59:59-00:01", "Accepted", "admin", "viewer",
         "on", "1", "A", "W", "Hard", "TxProfile", "sixteen-chars-key!"]  # fmt: skip


hostile_text = st.one_of(
    st.sampled_from(NUMBERS + TEXTS),
    st.text(max_size=30),
    # Beyond every column and CiString: 21 (an id tag), 49 (a charge point id), 65, 256...
    st.builds(
        lambda char, length: Huge(char * length),
        st.sampled_from(["A", "9", "\u00e9", "\x01", "/", "%"]),
        st.sampled_from([21, 49, 65, 256, 5000, 200_000]),
    ),
    st.integers(-(2**70), 2**70).map(str),
    st.floats().map(str),
)

# --- the database as the requests may change it ------------------------------------------

# What a form or an API write may change (not the audit log, sessions or the journal of
# operations sent, which record attempts as such).
TABLES = ("users", "charge_points", "id_tags", "transactions", "connectors", "reservations",
          "charging_profiles", "configuration_keys")  # fmt: skip


async def _snapshot(client) -> dict[str, list[str]]:
    async with client.app[ENGINE].connect() as connection:
        return {
            table: sorted(
                repr(tuple(row))
                for row in (await connection.execute(text(f"SELECT * FROM {table}"))).all()
            )
            for table in TABLES
        }


async def _assert_whole(client, before: dict[str, list[str]], what: Any) -> None:
    """A request that failed (4xx) wrote nothing: every table as before it."""
    after = await _snapshot(client)
    changed = {t: (before[t], after[t]) for t in TABLES if before[t] != after[t]}
    assert not changed, (what, changed)


# --- what every example works on ----------------------------------------------------------

_WORLDS: weakref.WeakKeyDictionary[Any, dict[str, Any]] = weakref.WeakKeyDictionary()


async def _world(client, portal=None) -> dict[str, Any]:
    """Made once per test (a client): a charge point with two sessions (one with a reading
    no meter makes), an id tag, a user to change, and a logged-in admin."""
    world = _WORLDS.get(client)
    if world is not None:
        return world
    services = client.app[SERVICES]
    await services.charge_points.register("FORM")
    await services.id_tags.add("FUZZTAG")
    await services.users.add("fuzzuser", "fuzz-password", "viewer")
    ws = await client.ws_connect("/ocpp/FORM", protocols=("ocpp1.6",))
    cp = RawChargePoint(ws)
    await cp.boot()
    sessions = []
    for connector_id, reading in [(1, "1500"), (2, "1e999")]:
        transaction_id = await cp.start("FUZZTAG", meter_start=1000, connector_id=connector_id)
        await cp.result(
            "MeterValues",
            {
                "connectorId": connector_id,
                "transactionId": transaction_id,
                "meterValue": [
                    {"timestamp": "2026-01-01T00:00:10Z", "sampledValue": [{"value": reading}]}
                ],
            },
        )
        sessions.append(transaction_id)
    await ws.close()
    # Not connected from here on: operations are checked and refused, never waited for.
    central = client.app[CENTRAL_SYSTEM]

    async def gone() -> bool:
        return not central.is_connected("FORM")

    await eventually(gone)
    users = {u.username: u.id for u in await services.users.list()}
    world = {"sessions": sessions, "fuzzuser": users["fuzzuser"]}
    if portal is not None:
        world["admin"] = await portal("admin")
    _WORLDS[client] = world
    return world


# --- the portal's forms -------------------------------------------------------------------

OPERATION_FORMS = {
    f"/charge-points/FORM/operations/{path}": sorted(entry.form.readers)
    for path, entry in CATALOGUE.items()
    if entry.form is not None
}
PORTAL_FORMS: dict[str, list[str]] = {
    "/id-tags": ["id_tag", "expiry_date", "parent_id_tag", "blocked"],
    "/id-tags/FUZZTAG": ["expiry_date", "parent_id_tag", "blocked"],
    "/users": ["username", "password", "role"],
    "/users/{fuzzuser}/role": ["role"],
    "/users/{fuzzuser}/password": ["password"],
    "/charge-points": ["charge_point_id", "password"],
    "/charge-points/FORM/accept": [],
    "/charge-points/FORM/password": ["password"],
    "/charge-points/FORM/protocol": ["lenient", "ping_interval"],
    "/charge-points/FORM/remote-start": ["id_tag", "connector_id"],
    "/charge-points/FORM/remote-stop": ["transaction_id"],
    "/transactions/{session}/close": [],
    **OPERATION_FORMS,
}
ENCODINGS = ["form", "form", "form", "multipart", "latin-1", "utf-16", "bogus charset"]
form_cases = st.sampled_from(sorted(PORTAL_FORMS)).flatmap(
    lambda path: st.tuples(
        st.just(path),
        st.dictionaries(st.sampled_from(PORTAL_FORMS[path] or ["x"]), hostile_text, max_size=5),
        st.sampled_from(ENCODINGS),
        st.sampled_from(["0", "1", "-1", "2147483648", "1e999", "abc"]),
    )
)


async def _post(user: Browserless, path: str, fields: dict[str, str], encoding: str):
    """A form post as a browser could send it, in `encoding`, with the session's token."""
    fields = {**fields, "csrf_token": user.csrf}
    url = user.base + path
    if encoding == "multipart":
        writer = aiohttp.MultipartWriter("form-data")
        for name, value in fields.items():
            part = writer.append(value)
            part.set_content_disposition("form-data", name=name)
        kwargs: dict[str, Any] = {"data": writer}
    else:
        content_type = "application/x-www-form-urlencoded"
        charset = {"latin-1": "latin-1", "utf-16": "utf-16", "bogus charset": "bogus"}.get(encoding)
        body_charset = "utf-8" if charset in (None, "bogus") else charset
        body = urlencode(fields, encoding=body_charset, errors="replace")
        # A stream: aiohttp warns of (and the test run fails on) a large body as bytes.
        kwargs = {
            "data": io.BytesIO(body.encode(body_charset, errors="replace")),
            "headers": {
                "Content-Type": f"{content_type}; charset={charset}" if charset else content_type
            },
        }
    async with user.http.post(url, allow_redirects=False, **kwargs) as response:
        return response.status, await response.text()


@pytest.mark.timeout(300)
@FUZZ
@given(case=form_cases)
async def test_portal_forms_never_fail_with_a_500_nor_write_in_part(client, portal, case) -> None:
    path, fields, encoding, session_part = case
    world = await _world(client, portal)
    session = world["sessions"][0] if session_part == "0" else session_part
    path = path.format(fuzzuser=world["fuzzuser"], session=session)
    before = await _snapshot(client)
    status, html = await _post(world["admin"], path, fields, encoding)
    assert status < 500, (path, fields, encoding, status, html[-400:])
    if status >= 400:
        await _assert_whole(client, before, (path, fields, encoding, status, html[-300:]))
    if encoding == "bogus charset" and status != 413:  # 413: too large to be read at all
        assert status == 400 and "charset" in html, (path, status, html[-300:])


# The login form, anonymous, in every encoding: a page, a 4xx, never a 500. A few examples:
# each failed login is an argon2 check and counts against the address.
login_cases = st.tuples(
    st.dictionaries(st.sampled_from(["username", "password", "next"]), hostile_text, max_size=3),
    st.sampled_from(ENCODINGS),
)


@pytest.mark.timeout(300)
@settings(FUZZ, max_examples=20)
@given(case=login_cases)
async def test_login_form_never_fails_with_a_500(client, case) -> None:
    fields, encoding = case
    http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    try:
        guest = Browserless(http, str(client.make_url("")).rstrip("/"))
        await guest.refresh_csrf("/login")
        status, html = await _post(guest, "/login", fields, encoding)
    finally:
        await http.close()
    # 503: the login concurrency bound says "a few seconds", by design.
    assert status < 500 or status == 503, (fields, encoding, status, html[-400:])


# --- the API's bodies ---------------------------------------------------------------------

API_FIELDS = ["id_tag", "connector_id", "transaction_id", "type", "charging_profile",
              "cs_charging_profiles", "expiry_date", "reservation_id", "list_version",
              "update_type", "local_authorization_list", "key", "value", "blocked",
              "parent_id_tag", "vendor_id", "message_id", "data", "requested_message",
              "location", "retrieve_date", "start_time", "stop_time", "retries",
              "retry_interval", "duration", "charging_rate_unit", "id", "stack_level",
              "charging_profile_id", "charging_profile_purpose", "charging_profile_kind",
              "charging_schedule", "charging_schedule_period", "start_period", "limit",
              "log_type", "log", "request_id", "certificate", "certificate_type"]  # fmt: skip
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | hostile_text,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(API_FIELDS), inner, max_size=4)
    ),
    max_leaves=10,
)


def _nested(depth: int) -> str:
    return '{"id_tag": "T", "charging_profile": ' + "[" * depth + "]" * depth + "}"


# What JSON has no words for, as a careless client writes it anyway.
NON_JSON_NUMBERS = ["NaN", "Infinity", "-Infinity", "1e999", "-1e999", "1e-999", "5e-324",
                    "123456789012345678901234567890", Huge("1" + "0" * 400)]  # fmt: skip
raw_bodies = st.one_of(
    st.dictionaries(st.sampled_from(API_FIELDS), json_values, max_size=6)
    .map(json.dumps)
    .map(_reported_short),
    st.builds(
        lambda name, number: f'{{"{name}": {number}}}',
        st.sampled_from(API_FIELDS),
        st.sampled_from(NON_JSON_NUMBERS),
    ),
    st.sampled_from([5, 32, 33, 100, 500, 1100]).map(_nested).map(_reported_short),
    st.text(max_size=40),
)
CONTENT_TYPES = ["application/json", "application/json", "application/json; charset=bogus",
                 "text/plain", "application/x-www-form-urlencoded",
                 "application/x-www-form-urlencoded; charset=bogus", "multipart/form-data",
                 None]  # fmt: skip
API_WRITES = [
    ("POST", "/api/id-tags"),
    ("POST", "/api/charge-points/FORM/remote-start"),
    ("POST", "/api/charge-points/FORM/remote-stop"),
    ("POST", "/api/transactions/{session}/close"),
    *(("POST", f"/api/charge-points/FORM/{path}") for path in sorted(CATALOGUE)),
    ("DELETE", "/api/charge-points/{part}"),
    ("DELETE", "/api/id-tags/{part}"),
]
api_cases = st.tuples(
    st.sampled_from(API_WRITES),
    raw_bodies,
    st.sampled_from(CONTENT_TYPES),
    st.sampled_from([ADMIN, OPERATOR]),
    st.sampled_from(["0", "1", "2147483648", "1e999", "NOPE", "%2E%2E", "a%2Fb", "%00"]),
)


@pytest.mark.timeout(300)
@FUZZ
@given(case=api_cases)
async def test_api_bodies_never_fail_with_a_500_nor_write_in_part(client, case) -> None:
    (method, path), body, content_type, account, part = case
    world = await _world(client)
    session = world["sessions"][1] if part == "0" else part
    path = path.format(session=session, part=part)
    headers = dict(account)
    if content_type is not None:
        headers["Content-Type"] = content_type
    before = await _snapshot(client)
    url = URL(str(client.make_url("/")).rstrip("/") + path, encoded=True)
    data = io.BytesIO(body.encode("utf-8", "surrogatepass"))
    async with client.session.request(method, url, data=data, headers=headers) as response:
        status, answer = response.status, await response.text()
    assert status < 500, (method, path, body[:300], content_type, status, answer[-400:])
    if status >= 400:
        assert isinstance(json.loads(answer)["error"], str), answer
        await _assert_whole(client, before, (method, path, body[:300], content_type, status))
