"""Ids of stored records (sessions, users) in URLs.

Their columns hold 32-bit integers: a longer number in a URL could be no record, and the
database refused to compare with it (a 500 on both databases), so it is refused here as
any id that is not a number is.
"""

from __future__ import annotations

from aiohttp import web

from ocpp_core.payload_checks import INT32_MAX, INT32_MIN


def path_int(request: web.Request, name: str) -> int:
    """The id in the URL's `name` part; ValueError if it is no number a record can have."""
    value = int(request.match_info[name])
    if not INT32_MIN <= value <= INT32_MAX:
        raise ValueError(f"{name} {value} is beyond 32 bits")
    return value
