"""Salted password hashing (argon2id) for operators and charge point keys.

argon2 is slow and memory-hard on purpose (some 100 ms and 64 MiB a hash): it runs in a
pool of its own, never on the event loop, with few threads, so failed logins cannot starve
the chargers' messages or the machine's memory; and while too many wait, more are refused
at once rather than queued.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from ocpp_core.errors import InvalidInput

# A charge point's key (OCPP 1.6 security whitepaper: AuthorizationKey; 2.0.1:
# BasicAuthPassword): 16 to 40 characters.
KEY_MIN_LENGTH = 16
KEY_MAX_LENGTH = 40

_THREADS = 2
# Hashes waiting or running at once; beyond this a login is refused as busy.
MAX_PENDING = 64

T = TypeVar("T")

_hasher = PasswordHasher()
_pool = ThreadPoolExecutor(max_workers=_THREADS, thread_name_prefix="argon2")
_pending = 0


class Busy(Exception):
    """Too many password checks are waiting: try again shortly."""


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


async def _in_pool(function: Callable[..., T], *args: object) -> T:
    global _pending
    if _pending >= MAX_PENDING:
        raise Busy("too many password checks at once")
    _pending += 1
    try:
        return await asyncio.get_running_loop().run_in_executor(_pool, function, *args)
    finally:
        _pending -= 1


async def hash_password_async(password: str) -> str:
    """`hash_password` off the event loop. Raises Busy."""
    return await _in_pool(hash_password, password)


async def verify_password_async(password_hash: str, password: str) -> bool:
    """`verify_password` off the event loop. Raises Busy."""
    return await _in_pool(verify_password, password_hash, password)


@cache
def _dummy_hash() -> str:
    return hash_password("no such account")


async def verify_nothing(password: str) -> None:
    """Spend what a verification costs, so a login takes as long whether the name exists
    or not. The hash is made on first use: every start would otherwise wait for it."""
    await _in_pool(lambda: verify_password(_dummy_hash(), password))


def check_charge_point_key(key: str) -> None:
    """Raise InvalidInput unless `key` has the length OCPP allows a charge point's key."""
    if not KEY_MIN_LENGTH <= len(key) <= KEY_MAX_LENGTH:
        raise InvalidInput(
            f"a charge point key must be {KEY_MIN_LENGTH} to {KEY_MAX_LENGTH} characters, "
            f"got {len(key)}"
        )
