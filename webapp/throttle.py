"""Throttling of failed logins (operators) and failed keys (charge points).

Failures are counted per (name, client address): someone guessing from one address slows
only their own guesses at that name, never the account's owner elsewhere or other names
from the same address. The first few failures in a window cost nothing; after them each
further one doubles the wait before the next attempt is even checked (1 s, 2 s, 4 s, ...
up to a cap), so a guesser gets a handful of tries an hour and a user who mistyped waits
seconds, not a lockout.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

LOGGER = logging.getLogger(__name__)

FREE_FAILURES = 5
WINDOW_SECONDS = 15 * 60
MAX_WAIT_SECONDS = 15 * 60
# Keys kept at most: a spray of names from many addresses must not grow memory for ever.
MAX_KEYS = 100_000


@dataclass
class _Failures:
    count: int
    last: float
    until: float


class Throttle:
    def __init__(
        self,
        what: str,
        free: int = FREE_FAILURES,
        window: float = WINDOW_SECONDS,
        max_wait: float = MAX_WAIT_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.what = what  # "login", "charge point key": said in the log
        self.free = free
        self.window = window
        self.max_wait = max_wait
        self.clock = clock
        self._failures: dict[tuple[str, str], _Failures] = {}

    @staticmethod
    def key(name: str, address: str) -> tuple[str, str]:
        return name.lower(), address

    def retry_after(self, key: tuple[str, str]) -> int:
        """Seconds until `key` may try again; 0 if it may now."""
        failures = self._failures.get(key)
        if failures is None:
            return 0
        wait = failures.until - self.clock()
        return max(0, int(wait + 0.999))

    def failed(self, key: tuple[str, str]) -> None:
        now = self.clock()
        failures = self._failures.get(key)
        if failures is None or now - failures.last > self.window:
            failures = self._failures[key] = _Failures(0, now, now)
        failures.count += 1
        failures.last = now
        beyond = failures.count - self.free
        if beyond >= 0:
            wait = min(self.max_wait, 2.0**beyond)
            failures.until = now + wait
            LOGGER.warning(
                "%s for %r from %s failed %d times in a row: next attempt in %d s",
                self.what,
                key[0],
                key[1],
                failures.count,
                wait,
            )
        if len(self._failures) > MAX_KEYS:
            self._forget_old(now)

    def succeeded(self, key: tuple[str, str]) -> None:
        self._failures.pop(key, None)

    def _forget_old(self, now: float) -> None:
        for key, failures in list(self._failures.items()):
            if now - failures.last > self.window and failures.until <= now:
                del self._failures[key]
        if len(self._failures) > MAX_KEYS:  # all recent: keep the newest half
            newest = sorted(self._failures.items(), key=lambda item: item[1].last)
            self._failures = dict(newest[len(newest) // 2 :])
