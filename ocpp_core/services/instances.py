"""Instances sharing one PostgreSQL: which are alive, which holds which charge point.

An instance renews its row well within `ttl`; one that stops renewing (killed, frozen, cut
off) is dead once its row has expired, and the charge points it held count as not
connected (their rows go with it: ON DELETE CASCADE). Only connects and disconnects write
here, in batches, so 10,000 idle connections cost nothing. PostgreSQL only: with SQLite
there is one instance and nothing to share.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from sqlalchemy import delete, literal, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ocpp_core.db import outbox
from ocpp_core.db.models import (
    ChargePoint,
    ChargePointConnection,
    ClusterMessage,
    Instance,
    UTCDateTime,
    utcnow,
)
from ocpp_core.db.rowcount import rowcount


class InstanceService:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], ttl: float) -> None:
        self._sessions = sessions
        self._ttl = timedelta(seconds=ttl)

    # --- instances ------------------------------------------------------------------------

    async def register(self, instance_id: str) -> None:
        now = utcnow()
        async with self._sessions.begin() as session:
            await session.execute(
                pg_insert(Instance)
                .values(id=instance_id, started_at=now, expires_at=now + self._ttl)
                .on_conflict_do_update(
                    index_elements=[Instance.id], set_={"expires_at": now + self._ttl}
                )
            )

    async def renew(self, instance_id: str) -> bool:
        """Extend this instance's life; False if it had already been declared dead."""
        now = utcnow()
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(Instance)
                .where(Instance.id == instance_id, Instance.expires_at >= now)
                .values(expires_at=now + self._ttl)
            )
            return bool(rowcount(result))

    async def deregister(self, instance_id: str) -> None:
        """A clean shutdown: the instance and the connections it held are gone at once."""
        async with self._sessions.begin() as session:
            await session.execute(delete(Instance).where(Instance.id == instance_id))

    async def reap(self) -> None:
        """Forget dead instances (with their connections) and stale large messages."""
        now = utcnow()
        async with self._sessions.begin() as session:
            # Their charge points' disconnection goes in the outbox with the rows that
            # said they were connected (RETURNING: an instance reaping at the same time
            # finds them gone, and records nothing twice).
            dead = select(Instance.id).where(Instance.expires_at < now)
            gone = await session.execute(
                delete(ChargePointConnection)
                .where(ChargePointConnection.instance_id.in_(dead))
                .returning(ChargePointConnection.charge_point_id, ChargePointConnection.instance_id)
            )
            for charge_point_id, instance_id in gone:
                outbox.record(
                    session,
                    "disconnected",
                    charge_point_id,
                    instance=instance_id,
                    reason="instance gone",
                )
            await session.execute(delete(Instance).where(Instance.expires_at < now))
            await session.execute(
                delete(ClusterMessage).where(ClusterMessage.created_at < now - self._ttl * 2)
            )

    async def is_current(self, instance_id: str) -> bool:
        """Whether the instance's row is there and not expired."""
        async with self._sessions() as session:
            found = await session.scalar(
                select(Instance.id).where(
                    Instance.id == instance_id, Instance.expires_at >= utcnow()
                )
            )
            return found is not None

    async def alive(self) -> set[str]:
        async with self._sessions() as session:
            rows = await session.scalars(select(Instance.id).where(Instance.expires_at >= utcnow()))
            return set(rows.all())

    # --- charge point connections ---------------------------------------------------------

    async def record_connections(
        self, instance_id: str, claimed: Iterable[str], released: Iterable[str]
    ) -> None:
        """This instance now holds the `claimed` charge points' sockets (the newest
        connection wins) and no longer the `released` ones; a newer claim by another
        instance is left alone. Charge points removed meanwhile are skipped."""
        claimed, released = list(claimed), list(released)
        now = utcnow()
        async with self._sessions.begin() as session:
            if claimed:
                rows = select(
                    ChargePoint.id, literal(instance_id), literal(now, UTCDateTime)
                ).where(ChargePoint.id.in_(claimed))
                statement = pg_insert(ChargePointConnection).from_select(
                    ["charge_point_id", "instance_id", "connected_at"], rows
                )
                await session.execute(
                    statement.on_conflict_do_update(
                        index_elements=[ChargePointConnection.charge_point_id],
                        set_={
                            "instance_id": statement.excluded.instance_id,
                            "connected_at": statement.excluded.connected_at,
                        },
                    )
                )
            if released:
                await session.execute(
                    delete(ChargePointConnection).where(
                        ChargePointConnection.charge_point_id.in_(released),
                        ChargePointConnection.instance_id == instance_id,
                    )
                )

    async def holders(self, exclude: str) -> dict[str, str]:
        """Charge point id -> the live instance (other than `exclude`) holding its socket."""
        async with self._sessions() as session:
            rows = await session.execute(
                select(ChargePointConnection.charge_point_id, ChargePointConnection.instance_id)
                .join(Instance, Instance.id == ChargePointConnection.instance_id)
                .where(Instance.id != exclude, Instance.expires_at >= utcnow())
            )
            return {charge_point_id: instance for charge_point_id, instance in rows.all()}

    # --- messages too big for NOTIFY ------------------------------------------------------

    async def store_message(self, body: str) -> int:
        async with self._sessions.begin() as session:
            message = ClusterMessage(body=body, created_at=utcnow())
            session.add(message)
            await session.flush()
            return message.id

    async def load_message(self, message_id: int) -> str | None:
        """Read, not taken: an event message has a reader on every instance."""
        async with self._sessions() as session:
            return await session.scalar(
                select(ClusterMessage.body).where(ClusterMessage.id == message_id)
            )
