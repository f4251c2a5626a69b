"""The cycle collector's policy for a server holding thousands of long-lived connections.

CPython 3.11's full collections walk every tracked object, so with thousands of
connections each one is a long pause of every charge point's answer; and while connections
pile up (start, a reconnect storm after a restart) they come often and find next to nothing.

So what survives a full collection is frozen (`gc.freeze`): it is alive, and the next full
collections walk only what came after. Frozen objects that become garbage held in a cycle
(a closed connection's, say) are not collected while frozen; so once the frozen heap has
grown to `thaw_factor` times what the last real collection left alive, everything is
thawed and collected once, which bounds what can wait uncollected to that factor, at one
full pause per doubling of the heap.

While the heap is still growing fast (a reconnect storm), a due thaw waits until the growth
has settled, `max_wait` seconds at most: a storm that doubles the heap several times then
pays one full pause once the charge points are back, not one per doubling within it.

The collector is the process's, not an application's: what a policy counts of the frozen heap
outlives it. An application started after another in the same process (the tests start one
per test) carries on from the counts the one before left, with the heap still frozen, rather
than walking all of it again at its start.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from typing import Any

LOGGER = logging.getLogger(__name__)


class _FrozenHeap:
    """What this process's policies know of the frozen heap."""

    def __init__(self) -> None:
        # Frozen since the last real full collection, counted as they are frozen:
        # gc.get_freeze_count() walks the whole frozen list, too slow for every full
        # collection. Frozen objects freed since by reference counting are still counted,
        # which can only bring the thaw forward.
        self.frozen = 0
        self.alive_after_thaw = 0  # frozen objects after the last real full collection
        self.left_frozen = False  # a policy froze the heap and has gone, leaving it so
        # It went with a thaw due (the heap had grown past the factor): the next one makes
        # it at its start, or apps shorter than the settling would put it off for ever.
        self.thaw_owed = False


_HEAP = _FrozenHeap()


class CollectorPolicy:
    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        thaw_factor: float = 2.0,
        settle: float = 2.0,
        settled_growth: float = 0.05,
        max_wait: float = 30.0,
    ) -> None:
        self._loop = loop
        self._thaw_factor = thaw_factor
        # A due thaw waits while the frozen heap grew by over `settled_growth` of itself
        # in the last `settle` seconds, and `max_wait` seconds at most.
        self._settle = settle
        self._settled_growth = settled_growth
        self._max_wait = max_wait
        self._due_since = 0.0
        self._seen = 0
        self._check: asyncio.TimerHandle | None = None
        self._thaw_pending = False
        self._thawing = False
        self._installed = False
        self.thaws = 0

    @property
    def installed(self) -> bool:
        return self._installed

    def install(self, fresh: bool = False) -> None:
        """Collect and freeze what start-up loaded, then freeze after each full collection.
        After an earlier policy of this process: collect and freeze only what came since,
        and thaw once the heap has grown enough since that policy's last thaw; unless
        `fresh`, which thaws and collects all first (its counts then start from its own)."""
        self._installed = True
        carry_on = _HEAP.left_frozen and not (fresh or _HEAP.thaw_owed)
        _HEAP.left_frozen = _HEAP.thaw_owed = False
        if not carry_on:
            self._thaw()
        gc.callbacks.append(self._after_collection)
        if carry_on:
            gc.collect()  # walks the unfrozen part only; survivors frozen (and counted) below

    def uninstall(self) -> None:
        """Stop freezing. The heap stays frozen, with its counts, for the next policy of
        this process (a thaw that was due is then its own to make, at its start)."""
        if not self._installed:
            return
        self._installed = False
        if self._after_collection in gc.callbacks:
            gc.callbacks.remove(self._after_collection)
        if self._check is not None:
            self._check.cancel()
            self._check = None
        _HEAP.left_frozen = True
        _HEAP.thaw_owed = self._thaw_pending

    def _after_collection(self, phase: str, info: dict[str, Any]) -> None:
        if phase != "stop" or info["generation"] != 2 or self._thawing or not self._installed:
            return
        # Right after a full collection the young generations are empty: only survivors,
        # all in the oldest one, are frozen. (gc.collect would do nothing here, the
        # collector being busy.)
        _HEAP.frozen += len(gc.get_objects(generation=2))
        gc.freeze()
        if not self._thaw_pending and _HEAP.frozen > self._thaw_factor * _HEAP.alive_after_thaw:
            self._thaw_pending = True
            # A collection can run on any thread (aiosqlite's): the thaw runs on the loop.
            try:
                self._loop.call_soon_threadsafe(self._thaw_due)
            except RuntimeError:
                pass  # the loop closed as the app went: the next policy makes the thaw

    def _thaw_due(self) -> None:
        if not self._installed:
            return  # scheduled from another thread just before uninstall: freeze no more
        self._due_since = self._loop.time()
        self._seen = _HEAP.frozen
        self._check = self._loop.call_later(self._settle, self._thaw_once_settled)

    def _thaw_once_settled(self) -> None:
        growing = _HEAP.frozen > self._seen * (1 + self._settled_growth)
        if growing and self._loop.time() - self._due_since < self._max_wait:
            self._seen = _HEAP.frozen
            self._check = self._loop.call_later(self._settle, self._thaw_once_settled)
            return
        self._check = None
        self._thaw()

    def _thaw(self) -> None:
        # The collection below calls back, which must not count what it leaves (listing the
        # whole heap): that is counted once, below.
        self._thawing = True
        started = time.perf_counter()
        gc.unfreeze()
        try:
            collected = gc.collect()
        finally:
            self._thawing = False
        gc.freeze()
        _HEAP.alive_after_thaw = _HEAP.frozen = gc.get_freeze_count()
        self._thaw_pending = False
        self.thaws += 1
        LOGGER.debug(
            "full collection: %d objects alive, %d collected, %.0f ms",
            _HEAP.alive_after_thaw,
            collected,
            (time.perf_counter() - started) * 1000,
        )
