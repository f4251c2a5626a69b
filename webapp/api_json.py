"""The JSON API's answers and bodies as JSON: one encoder for every answer, one reader of
request bodies."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import orjson
from aiohttp import web

from ocpp_core.errors import InvalidInput
from ocpp_core.frame_decoding import nested_deeper_than
from ocpp_core.timeutil import format_datetime

LOGGER = logging.getLogger(__name__)

# No request nests deeper than a charging profile's schedule periods (5 levels): a body
# far deeper is no request, and is refused before anything walks it.
MAX_JSON_DEPTH = 32


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return format_datetime(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")


def json_response(data: Any, status: int = 200) -> web.Response:
    return web.Response(
        body=orjson.dumps(data, default=_default, option=orjson.OPT_UTC_Z),
        status=status,
        content_type="application/json",
    )


def error_response(status: int, message: str) -> web.Response:
    return json_response({"error": message}, status)


async def json_body(request: web.Request) -> dict[str, Any]:
    try:
        body = orjson.loads(await request.read())
    except orjson.JSONDecodeError as error:
        raise InvalidInput(f"body is not valid JSON: {error}") from None
    if nested_deeper_than(body, MAX_JSON_DEPTH):
        LOGGER.warning(
            "refused %s %r: body nested more than %d levels deep",
            request.method,
            request.path,
            MAX_JSON_DEPTH,
        )
        raise InvalidInput(f"body is nested more than {MAX_JSON_DEPTH} levels deep")
    if not isinstance(body, dict):
        raise InvalidInput("body must be a JSON object")
    return body
