"""An open stream's watch on its account: ended when the account's access is revoked."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

from ocpp_core.events import Event, EventBus
from ocpp_core.services.users import REVOKED


@contextlib.contextmanager
def revocation(bus: EventBus, user_id: int) -> Iterator[asyncio.Event]:
    """An event set once `user_id`'s access is revoked (logged out, new password or role,
    removed, a token revoked). A listener, not a subscriber's queue: a queue drops its
    oldest events when a thousand frames pass while the stream sends, and the revocation
    with them."""
    revoked = asyncio.Event()

    def heard(event: Event) -> None:
        if event.data.get("user_id") == user_id:
            revoked.set()

    bus.add_listener(REVOKED, heard)
    try:
        yield revoked
    finally:
        bus.remove_listener(REVOKED, heard)
