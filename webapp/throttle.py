"""Login throttling: after repeated wrong passwords for a user name or from an address,
further attempts are refused for a while without even checking the password."""

from __future__ import annotations

import time
from collections import deque

MAX_FAILURES = 5
WINDOW_SECONDS = 15 * 60
LOCKOUT_SECONDS = 60


class LoginThrottle:
    def __init__(
        self,
        max_failures: int = MAX_FAILURES,
        window: float = WINDOW_SECONDS,
        lockout: float = LOCKOUT_SECONDS,
    ) -> None:
        self.max_failures = max_failures
        self.window = window
        self.lockout = lockout
        self._failures: dict[str, deque[float]] = {}
        self._locked_until: dict[str, float] = {}

    @staticmethod
    def keys(username: str, address: str | None) -> list[str]:
        return [f"user:{username.lower()}", f"addr:{address or '?'}"]

    def retry_after(self, keys: list[str]) -> int:
        """Seconds until these may try again; 0 if they may now."""
        now = time.monotonic()
        waits = [self._locked_until.get(key, 0) - now for key in keys]
        return max(0, int(max(waits) + 0.999))

    def failed(self, keys: list[str]) -> None:
        now = time.monotonic()
        for key in keys:
            failures = self._failures.setdefault(key, deque())
            failures.append(now)
            while failures and failures[0] < now - self.window:
                failures.popleft()
            if len(failures) >= self.max_failures:
                self._locked_until[key] = now + self.lockout
                failures.clear()
        if len(self._failures) > 10_000:  # bounded memory under a spray of names
            self._failures.clear()

    def succeeded(self, keys: list[str]) -> None:
        for key in keys[:1]:  # the user's count; the address may still be spraying others
            self._failures.pop(key, None)
