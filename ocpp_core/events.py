"""The event bus: services publish after commit, subscribers (SSE streams) read.

Events carry ids and values only (JSON-able), never ORM objects. Each subscriber has its
own bounded queue; a subscriber that does not keep up loses its oldest events rather than
slowing the charge points down. Delivery is in-process; with several instances on one
PostgreSQL, `forward` hands each published event to the cluster too (`ocpp_core.cluster`),
which delivers it on the other instances.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True)
class Event:
    kind: str
    charge_point_id: str
    data: dict[str, Any] = field(default_factory=dict)


Listener = Callable[[Event], None]
Forward = Callable[[Event], None]


class EventBus:
    def __init__(self, queue_size: int = 1000) -> None:
        self._queue_size = queue_size
        self._subscribers: set[asyncio.Queue[Event]] = set()
        self._listeners: dict[str, list[Listener]] = {}
        self._watchers: list[Listener] = []
        # Set by a cluster of instances: sends this instance's events to the others.
        self.forward: Forward | None = None

    def add_listener(self, kind: str, listener: Listener) -> None:
        """Call `listener` at once, in the publisher's turn, for every event of `kind`: for
        the central system's own reactions (a setting that applies to a live connection)."""
        self._listeners.setdefault(kind, []).append(listener)

    def remove_listener(self, kind: str, listener: Listener) -> None:
        """Stop calling a listener added with `add_listener`."""
        listeners = self._listeners.get(kind, [])
        if listener in listeners:
            listeners.remove(listener)

    def add_watcher(self, watcher: Listener) -> None:
        """Call `watcher` at once for every event of any kind, in the publisher's turn: for
        what must see every event (a subscriber's queue may drop its oldest)."""
        self._watchers.append(watcher)

    def publish(self, kind: str, charge_point_id: str, **data: Any) -> None:
        """An event of this instance: delivered here, and forwarded to the other instances."""
        event = Event(kind, charge_point_id, data)
        self.deliver(event)
        if self.forward is not None:
            self.forward(event)

    def deliver(self, event: Event) -> None:
        """Hand an event to this instance's listeners and subscribers only."""
        for listener in (*self._listeners.get(event.kind, ()), *self._watchers):
            try:
                listener(event)
            except Exception:
                LOGGER.exception("listener for %s events failed", event.kind)
        for queue in self._subscribers:
            if queue.full():
                queue.get_nowait()  # drop the oldest: a slow reader must not block producers
            queue.put_nowait(event)

    @asynccontextmanager
    async def subscribe(self) -> AsyncIterator[asyncio.Queue[Event]]:
        queue: asyncio.Queue[Event] = asyncio.Queue(self._queue_size)
        self._subscribers.add(queue)
        try:
            yield queue
        finally:
            self._subscribers.discard(queue)

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)
