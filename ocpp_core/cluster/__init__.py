"""Instances of the central system that share one database.

`CentralSystem` asks its cluster where a charge point's socket is and sends operations for
charge points held elsewhere through it; the event bus forwards every event through it.
With SQLite there is one process by design (`SingleInstance`: nothing is shared); with
PostgreSQL any number of instances cooperate over LISTEN/NOTIFY (`PostgresCluster`).
"""

from __future__ import annotations

import uuid
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from ocpp_core.errors import NotConnected
from ocpp_core.events import EventBus
from ocpp_core.settings import Settings


class Node(Protocol):
    """What a cluster needs of the central system on its instance."""

    def connected_since(self, charge_point_id: str) -> float | None:
        """When (epoch seconds) this instance's connection opened, None if it has none."""

    def local_ids(self) -> list[str]: ...

    def taken_elsewhere(self, charge_point_id: str, connected_at: float) -> None:
        """Another instance has a newer connection for it: close this one if older."""

    async def serve_remote_call(
        self, charge_point_id: str, action: str, payload: dict[str, Any]
    ) -> dict[str, Any]:
        """Send a CALL another instance asked for; return the charge point's answer."""


class Cluster:
    """One instance on its own: every charge point it knows of is held here or nowhere."""

    # Whether this instance shares its database with others (and keeps a membership).
    clustered = False

    def __init__(self) -> None:
        self.instance_id = uuid.uuid4().hex

    def attach(self, node: Node, bus: EventBus) -> None:
        """Called once by the central system before `start`."""

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    async def membership(self) -> str | None:
        """What is wrong with this instance's membership, None if it is current (for the
        readiness check). One on its own has none to keep."""
        return None

    def claim(self, charge_point_id: str) -> None:
        """This instance holds the charge point's socket now."""

    def release(self, charge_point_id: str) -> None:
        """The socket closed."""

    def holder(self, charge_point_id: str) -> str | None:
        """The other live instance holding the charge point's socket, if any."""
        return None

    def held_elsewhere(self) -> frozenset[str]:
        return frozenset()

    async def call(
        self,
        holder: str,
        charge_point_id: str,
        action: str,
        payload: dict[str, Any],
        wait_seconds: float,
    ) -> dict[str, Any]:
        """Have `holder` send a CALL (JSON payload) and return the answer's payload."""
        raise NotConnected(charge_point_id)


SingleInstance = Cluster


def create_cluster(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> Cluster:
    if engine.dialect.name != "postgresql":
        return SingleInstance()
    from ocpp_core.cluster.postgres import PostgresCluster
    from ocpp_core.services.instances import InstanceService

    _, connect_kwargs = engine.dialect.create_connect_args(engine.url)
    return PostgresCluster(
        InstanceService(sessions, settings.instance_ttl), connect_kwargs, settings.instance_ttl
    )
