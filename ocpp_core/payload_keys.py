"""OCPP payload keys between the wire's camelCase and Python's snake_case: the `ocpp`
library's conversions, each key's computed once."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from ocpp.charge_point import camel_to_snake_case, snake_to_camel_case


@lru_cache(maxsize=4096)
def snake_key(key: str) -> str:
    """One key in snake_case, as the library converts it."""
    converted: dict[str, None] = camel_to_snake_case({key: None})
    return next(iter(converted))


@lru_cache(maxsize=4096)
def _camel_key(key: str) -> str:
    converted: dict[str, None] = snake_to_camel_case({key: None})
    return next(iter(converted))


def snake_keys(payload: dict[str, Any]) -> dict[str, Any]:
    """The payload with its keys, at every depth, in snake_case: the library's
    camel_to_snake_case, each key's conversion computed once."""
    return {snake_key(key): _snake_value(value) for key, value in payload.items()}


def _snake_value(value: Any) -> Any:
    if isinstance(value, dict):
        return snake_keys(value)
    if isinstance(value, list):
        return [_snake_value(item) for item in value]
    return value


def camel_keys(payload: dict[str, Any]) -> dict[str, Any]:
    """The payload with its keys, at every depth, in camelCase: the library's
    snake_to_camel_case, each key's conversion computed once."""
    return {_camel_key(key): _camel_value(value) for key, value in payload.items()}


def _camel_value(value: Any) -> Any:
    if isinstance(value, dict):
        return camel_keys(value)
    if isinstance(value, list):
        return [_camel_value(item) for item in value]
    return value
