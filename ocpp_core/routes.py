"""The `ocpp` package's routing as this central system reads it: which `@on` handler
answers an action and which `@after` hook follows it, for a handler class.

The library builds its route map per instance (`ChargePoint.__init__`), a cost paid by
each of thousands of connections; here it is built once per class, with the class's plain
functions, and read under the library's private keys `_on_action` and `_after_action`.
This is the only module that knows them: tests/test_library_internals.py fails when an
upgrade changes them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ocpp.routing import create_route_map

ON_KEY = "_on_action"
AFTER_KEY = "_after_action"


@dataclass(frozen=True, slots=True)
class Route:
    """An action's handler and its follow-up, each called with the connection first."""

    on: Callable[..., Any] | None
    after: Callable[..., Any] | None


def routes_of(handler_class: type) -> dict[str, Route]:
    """Action -> Route of the `@on`/`@after` methods of `handler_class`."""
    return {
        action: Route(entry.get(ON_KEY), entry.get(AFTER_KEY))
        for action, entry in create_route_map(handler_class).items()
    }
