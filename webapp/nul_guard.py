"""Requests carrying the NUL character (U+0000) are refused before any view sees them.

PostgreSQL's text cannot hold NUL: an id tag, a user name or a search with one reached the
database and failed with a 500 (SQLite stored it, a tag no charger could ever present). No
field of the portal or the API means one, so the address, the query, form fields and JSON
bodies are checked here, once, and the request is answered 400 with where the NUL was.

Reading them, a form aiohttp cannot parse (an unknown charset, multipart without a
boundary) and JSON nested too deep to walk are refused here too: 400 with the reason and
one log line, where they were 500s with a traceback each, before any authentication.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from aiohttp import hdrs, web
from aiohttp.typedefs import Handler

from ocpp_core.frame_decoding import nested_deeper_than
from ocpp_core.payload_checks import dotted, nul_paths
from webapp.api_json import MAX_JSON_DEPTH, error_response

LOGGER = logging.getLogger(__name__)

_FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")


class Unreadable(Exception):
    """A request whose form or body cannot be read: answered 400 with the reason."""


async def _form(request: web.Request) -> Any:
    """The parsed form; Unreadable when aiohttp cannot parse it, which it reports with
    exceptions that were 500s (and a traceback each) before any authentication."""
    charset = (request.charset or "")[:40]
    try:
        return await request.post()
    except LookupError:
        raise Unreadable(f"the form's charset {charset!r} is unknown") from None
    except UnicodeDecodeError:
        raise Unreadable(f"the form is not in its charset {charset or 'utf-8'!r}") from None
    except (ValueError, RuntimeError):  # aiohttp's multipart reader raises both
        content_type = request.headers.get(hdrs.CONTENT_TYPE, "").lower()
        if request.content_type == "multipart/form-data" and "boundary=" not in content_type:
            raise Unreadable("the multipart form has no boundary") from None
        raise Unreadable("the form cannot be read as its Content-Type says") from None


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
        for name, value in (await _form(request)).items():
            if "\x00" in name or (isinstance(value, str) and "\x00" in value):
                return f"field {name!r}"
        return None
    body = await request.read()  # kept by aiohttp for the view
    if b"\x00" in body:
        return "the body"
    if b"\\u0000" in body:
        try:
            decoded = orjson.loads(body)
        except orjson.JSONDecodeError:
            return None  # not JSON: the view refuses it for that
        # Bounded before the (recursive) walk: 500 levels exhausted Python's stack.
        if nested_deeper_than(decoded, MAX_JSON_DEPTH):
            raise Unreadable(f"the body is nested more than {MAX_JSON_DEPTH} levels deep")
        paths = nul_paths(decoded)
        if paths:
            return f"field {dotted(paths[0])}"
    return None


def _refusal(request: web.Request, message: str) -> web.Response:
    if request.path.startswith("/api/"):
        return error_response(400, message)
    return web.Response(status=400, text=message + "\n")


@web.middleware
async def refuse_nul(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        where = await nul_in(request)
    except Unreadable as error:
        # One line, not a traceback: anyone may send these, logged in or not. The path as
        # repr: it may hold (decoded) control characters.
        LOGGER.warning(
            "refused %s %r from %s: %s", request.method, request.path, request.remote, error
        )
        return _refusal(request, str(error))
    if where is None:
        return await handler(request)
    return _refusal(request, f"{where} contains the NUL character (U+0000)")
