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
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from typing import Any

LOGGER = logging.getLogger(__name__)


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
        self._alive_after_thaw = 0  # frozen objects after the last real full collection
        # Frozen since, counted as they are frozen: gc.get_freeze_count() walks the whole
        # frozen list, too slow for every full collection.
        # Frozen objects freed since by reference counting are still counted, which can
        # only bring the thaw forward.
        self._frozen = 0
        self._thaw_pending = False
        self._thawing = False
        self._installed = False
        self.thaws = 0

    @property
    def installed(self) -> bool:
        return self._installed

    def install(self) -> None:
        """Collect and freeze what start-up loaded, then freeze after each full collection."""
        self._installed = True
        self._thaw()
        gc.callbacks.append(self._after_collection)

    def uninstall(self) -> None:
        """Stop freezing, and thaw everything (the next full collection walks it all)."""
        self._installed = False
        if self._after_collection in gc.callbacks:
            gc.callbacks.remove(self._after_collection)
        if self._check is not None:
            self._check.cancel()
            self._check = None
        gc.unfreeze()

    def _after_collection(self, phase: str, info: dict[str, Any]) -> None:
        if phase != "stop" or info["generation"] != 2 or self._thawing:
            return
        # Right after a full collection the young generations are empty: only survivors,
        # all in the oldest one, are frozen. (gc.collect would do nothing here, the
        # collector being busy.)
        self._frozen += len(gc.get_objects(generation=2))
        gc.freeze()
        if not self._thaw_pending and self._frozen > self._thaw_factor * self._alive_after_thaw:
            self._thaw_pending = True
            # A collection can run on any thread (aiosqlite's): the thaw runs on the loop.
            self._loop.call_soon_threadsafe(self._thaw_due)

    def _thaw_due(self) -> None:
        if not self._installed:
            return  # scheduled from another thread just before uninstall: freeze no more
        self._due_since = self._loop.time()
        self._seen = self._frozen
        self._check = self._loop.call_later(self._settle, self._thaw_once_settled)

    def _thaw_once_settled(self) -> None:
        growing = self._frozen > self._seen * (1 + self._settled_growth)
        if growing and self._loop.time() - self._due_since < self._max_wait:
            self._seen = self._frozen
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
        self._alive_after_thaw = self._frozen = gc.get_freeze_count()
        self._thaw_pending = False
        self.thaws += 1
        LOGGER.debug(
            "full collection: %d objects alive, %d collected, %.0f ms",
            self._alive_after_thaw,
            collected,
            (time.perf_counter() - started) * 1000,
        )
