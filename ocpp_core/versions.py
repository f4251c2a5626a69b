"""The OCPP versions served on the one endpoint, and which one a connection speaks.

A version is its WebSocket subprotocol, a `dialects.Dialect` and a handler module; adding
one (`ocpp2.1`) is an entry here, a dialect, a handler and its operation catalogue.
"""

from __future__ import annotations

from collections.abc import Iterable

# Subprotocol -> version, as stored and shown.
SUBPROTOCOLS = {"ocpp1.6": "1.6", "ocpp2.0.1": "2.0.1"}
VERSIONS = tuple(SUBPROTOCOLS.values())
SUBPROTOCOL_OF = {version: subprotocol for subprotocol, version in SUBPROTOCOLS.items()}


def choose(offered: Iterable[str], pinned: str | None = None) -> str | None:
    """The version to speak: the first subprotocol the client offered that we serve (its
    order is its preference), or only the pinned version if the charge point has one.
    None: nothing offered that may be spoken."""
    for subprotocol in offered:
        version = SUBPROTOCOLS.get(subprotocol.strip())
        if version is not None and (pinned is None or version == pinned):
            return version
    return None


def offered_subprotocols(header: str) -> list[str]:
    """The `Sec-WebSocket-Protocol` request header's list, in the client's order."""
    return [item.strip() for item in header.split(",") if item.strip()]
