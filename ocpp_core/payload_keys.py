"""OCPP payload keys between the wire's camelCase and Python's snake_case: the `ocpp`
library's conversions, each key's computed once."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from ocpp.charge_point import camel_to_snake_case, snake_to_camel_case


@lru_cache(maxsize=4096)
def _snake_key(key: str) -> str:
    return next(iter(camel_to_snake_case({key: None})))


@lru_cache(maxsize=4096)
def _camel_key(key: str) -> str:
    return next(iter(snake_to_camel_case({key: None})))


def snake_keys(data: Any) -> Any:
    """The library's camel_to_snake_case, each key's conversion computed once."""
    if isinstance(data, dict):
        return {_snake_key(key): snake_keys(value) for key, value in data.items()}
    if isinstance(data, list):
        return [snake_keys(value) for value in data]
    return data


def camel_keys(data: Any) -> Any:
    """The library's snake_to_camel_case, each key's conversion computed once."""
    if isinstance(data, dict):
        return {_camel_key(key): camel_keys(value) for key, value in data.items()}
    if isinstance(data, list):
        return [camel_keys(value) for value in data]
    return data
