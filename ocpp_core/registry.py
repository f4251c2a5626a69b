"""Which charge points are connected to this process, and their protocol handlers."""

from __future__ import annotations

from typing import Generic, Protocol, TypeVar


class Connected(Protocol):
    id: str


T = TypeVar("T", bound=Connected)


class ConnectionRegistry(Generic[T]):
    """The live connections by charge point id. The newest connection for an id wins, and
    removing an old one never removes its replacement (ts-ocpp #19)."""

    def __init__(self) -> None:
        self._connections: dict[str, T] = {}

    def add(self, connection: T) -> T | None:
        """Register `connection`; return the one it replaces, which the caller closes."""
        previous = self._connections.get(connection.id)
        self._connections[connection.id] = connection
        return previous if previous is not connection else None

    def remove(self, connection: T) -> bool:
        """Unregister `connection` if it is still the current one for its id."""
        if self._connections.get(connection.id) is connection:
            del self._connections[connection.id]
            return True
        return False

    def get(self, charge_point_id: str) -> T | None:
        return self._connections.get(charge_point_id)

    def is_connected(self, charge_point_id: str) -> bool:
        return charge_point_id in self._connections

    def ids(self) -> list[str]:
        return list(self._connections)

    def values(self) -> list[T]:
        return list(self._connections.values())

    def __len__(self) -> int:
        return len(self._connections)
