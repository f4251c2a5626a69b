"""The `ocpp` package's routing as this central system reads it: which `@on` handler
answers an action and which `@after` hook follows it, for a handler class.

The library builds its route map per instance (`ChargePoint.__init__`), a cost paid by
each of thousands of connections; here it is built once per class, with the class's plain
functions, and read under the library's private keys `_on_action` and `_after_action`.
This is the only module that knows them: tests/test_library_internals.py fails when an
upgrade changes them. The handlers are decorated with this module's `on` and `after`, the
library's own decorators typed: the library has no type information, and a handler it
wraps would otherwise lose its signature to the type checker.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import ocpp.routing
from ocpp.routing import create_route_map

ON_KEY = "_on_action"
AFTER_KEY = "_after_action"

Handler = TypeVar("Handler", bound=Callable[..., Any])


def on(action: str, *, skip_schema_validation: bool = False) -> Callable[[Handler], Handler]:
    """The library's `@on`: marks the handler of the CALL `action` a charge point sends."""
    # The library's wrapper passes the arguments through and returns what the handler
    # returns, under the handler's name: the signature is the handler's.
    decorator: Callable[[Handler], Handler] = ocpp.routing.on(
        action, skip_schema_validation=skip_schema_validation
    )
    return decorator


def after(action: str) -> Callable[[Handler], Handler]:
    """The library's `@after`: marks what runs once the answer to `action` is sent."""
    decorator: Callable[[Handler], Handler] = ocpp.routing.after(action)
    return decorator


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
