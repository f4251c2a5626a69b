"""Requests carrying the NUL character (U+0000) are refused before any view sees them.

PostgreSQL's text cannot hold NUL: an id tag, a user name or a search with one reached the
database and failed with a 500 (SQLite stored it, a tag no charger could ever present). No
field of the portal or the API means one, so the address, the query, form fields and JSON
bodies are checked here, once, and the request is answered 400 with where the NUL was.
"""

from __future__ import annotations

import orjson
from aiohttp import web
from aiohttp.typedefs import Handler

from ocpp_core.frames import dotted, nul_paths
from webapp.api import error_response

_FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")


async def nul_in(request: web.Request) -> str | None:
    """What in the request holds a NUL character, said for the user; None if nothing."""
    if "\x00" in request.path:
        return "the address"
    for name, value in request.query.items():
        if "\x00" in name or "\x00" in value:
            return f"query parameter {name!r}"
    if not request.body_exists:
        return None
    if request.content_type in _FORMS:
        # Read once: the view's own `request.post()` gets the same parsed form.
        for name, value in (await request.post()).items():
            if "\x00" in name or (isinstance(value, str) and "\x00" in value):
                return f"field {name!r}"
        return None
    body = await request.read()  # kept by aiohttp for the view
    if b"\x00" in body:
        return "the body"
    if b"\\u0000" in body:
        try:
            paths = nul_paths(orjson.loads(body))
        except orjson.JSONDecodeError:
            return None  # not JSON: the view refuses it for that
        if paths:
            return f"field {dotted(paths[0])}"
    return None


@web.middleware
async def refuse_nul(request: web.Request, handler: Handler) -> web.StreamResponse:
    where = await nul_in(request)
    if where is None:
        return await handler(request)
    message = f"{where} contains the NUL character (U+0000)"
    if request.path.startswith("/api/"):
        return error_response(400, message)
    return web.Response(status=400, text=message + "\n")
