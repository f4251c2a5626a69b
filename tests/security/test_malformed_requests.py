"""A request the server cannot read is a 400 with the reason and one log
line, before authentication, on the API (`{"error": ...}`) and on the portal; never a 500
with thousands of lines of traceback."""

from __future__ import annotations

import logging

import pytest

from tests.helpers import OPERATOR
from webapp.keys import SERVICES

DEEP = 500  # beyond Python's recursion limit for a recursive walk, within orjson's 1024

# (content type, body, what the reason names): each was a 500 before authentication.
MALFORMED = {
    "deep JSON with a NUL": (
        "application/json",
        ("[" * DEEP + '"\\u0000"' + "]" * DEEP).encode(),
        "nested",
    ),
    "unknown form charset": (
        "application/x-www-form-urlencoded; charset=bogus",
        b"username=a&password=b",
        "charset",
    ),
    "form not in its charset": (
        "application/x-www-form-urlencoded; charset=utf-16",
        b"a=b",  # an odd number of bytes is no UTF-16
        "charset",
    ),
    "multipart without a boundary": ("multipart/form-data", b"--x\r\n\r\n", "boundary"),
    "multipart with a nameless field": (
        "multipart/form-data; boundary=x",
        b"--x\r\nContent-Disposition: form-data\r\n\r\nvalue\r\n--x--\r\n",
        "form",
    ),
}
PATHS = ["/api/id-tags", "/api/charge-points/CP/reset", "/login", "/id-tags", "/users"]


def _trouble(records: list[logging.LogRecord]) -> list[logging.LogRecord]:
    return [r for r in records if r.exc_info or r.levelno >= logging.ERROR]


@pytest.mark.parametrize("case", sorted(MALFORMED))
async def test_unreadable_requests_are_a_400_with_one_log_line(client, caplog, case) -> None:
    content_type, body, reason = MALFORMED[case]
    for path in PATHS:
        caplog.clear()
        with caplog.at_level(logging.INFO):
            # Anonymous: refused for what it is before anyone is asked who sends it.
            response = await client.post(path, data=body, headers={"Content-Type": content_type})
        text = await response.text()
        assert not _trouble(caplog.records), [r.getMessage()[:200] for r in caplog.records]
        if path.startswith("/api/") and not content_type.startswith("application/json"):
            # API writes take JSON only (the cross-site guard): refused for that, unread.
            assert response.status == 415, (path, response.status, text[-300:])
            assert "application/json" in (await response.json())["error"]
            continue
        assert response.status == 400, (path, response.status, text[-300:])
        if path.startswith("/api/"):
            assert reason in (await response.json())["error"], (path, text)
        else:
            assert reason in text, (path, text)
        lines = [r for r in caplog.records if r.name.startswith("webapp")]
        assert len(lines) == 1 and reason in lines[0].getMessage(), [r.getMessage() for r in lines]
        assert "\n" not in lines[0].getMessage()


# Authenticated, deep JSON reached the views: a recursive schema check ran out of stack.
DEEP_BODIES = {
    "array": "[" * DEEP + "]" * DEEP,
    "object": '{"id_tag":' * DEEP + "1" + "}" * DEEP,
    "in a charging profile": (
        '{"id_tag": "T", "charging_profile":' + '{"a":' * DEEP + "1" + "}" * DEEP + "}"
    ),
}


@pytest.mark.parametrize("shape", sorted(DEEP_BODIES))
async def test_deeply_nested_json_is_refused_by_the_api(client, caplog, shape) -> None:
    await client.app[SERVICES].charge_points.register("CP")
    for path in [
        "/api/id-tags",
        "/api/charge-points/CP/remote-start",
        "/api/charge-points/CP/reset",
    ]:
        caplog.clear()
        with caplog.at_level(logging.INFO):
            response = await client.post(
                path,
                data=DEEP_BODIES[shape],
                headers={**OPERATOR, "Content-Type": "application/json"},
            )
        text = await response.text()
        assert response.status == 400, (path, response.status, text[-300:])
        assert "nested more than 32 levels" in (await response.json())["error"], text
        assert not _trouble(caplog.records), [r.getMessage()[:200] for r in caplog.records]
        lines = [r for r in caplog.records if r.name.startswith("webapp")]
        assert len(lines) == 1 and "nested" in lines[0].getMessage()
