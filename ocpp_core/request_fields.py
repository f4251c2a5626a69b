"""A request body's fields against those it may have: the JSON API's bodies and the
OCPP 1.6 requests built from them."""

from __future__ import annotations

from collections.abc import Set
from typing import Any

from ocpp_core.errors import InvalidInput


def check_fields(body: dict[str, Any], required: Set[str], optional: Set[str]) -> dict[str, Any]:
    """`body` if it has every required field and none it may not have."""
    missing = sorted(required - body.keys())
    if missing:
        raise InvalidInput(f"missing field(s): {', '.join(missing)}")
    unknown = sorted(body.keys() - required - optional)
    if unknown:
        raise InvalidInput(f"unknown field(s): {', '.join(unknown)}")
    return body
