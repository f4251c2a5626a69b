"""The 2.0.1 reports and notifications kept as sent (NotifyEvent, NotifyChargingLimit,
NotifyEVChargingNeeds, NotifyCustomerInformation, ...), each with a one-line summary."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ocpp_core.db.models import ChargePointNotification
from ocpp_core.db.newest import newest
from ocpp_core.events import EventBus
from ocpp_core.services.budget import STORED_TEXT_CHARS, StorageBudget, bounded
from ocpp_core.services.registration import ChargePointRecords


@dataclass(frozen=True)
class NotificationView:
    id: int
    action: str
    request_id: int | None
    summary: str
    payload: dict[str, Any]
    received_at: datetime


class NotificationService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        bus: EventBus,
        registration: ChargePointRecords,
        budget: StorageBudget,
    ) -> None:
        self._sessions = sessions
        self._bus = bus
        self._registration = registration
        self._budget = budget

    async def record(
        self,
        charge_point_id: str,
        action: str,
        summary: str,
        payload: dict[str, Any],
        request_id: int | None = None,
    ) -> None:
        text = orjson.dumps(payload).decode()
        if len(text) > STORED_TEXT_CHARS:
            # Kept truncated and said so, as every stored field (services.budget).
            text = orjson.dumps({"truncated": bounded(text)}).decode()

        async def work(session: AsyncSession) -> None:
            session.add(
                ChargePointNotification(
                    charge_point_id=charge_point_id,
                    action=action,
                    request_id=request_id,
                    summary=bounded(summary),
                    payload=text,
                )
            )

        await self._registration.run(charge_point_id, work)
        self._budget.note("charge_point_notifications", charge_point_id)
        self._bus.publish("notification", charge_point_id, action=action, summary=summary)

    async def recent(
        self, charge_point_id: str, limit: int = 50, action: str | None = None
    ) -> list[NotificationView]:
        where = [ChargePointNotification.charge_point_id == charge_point_id]
        if action is not None:
            where.append(ChargePointNotification.action == action)
        query = newest(ChargePointNotification, *where, limit=limit)
        async with self._sessions() as session:
            rows = (await session.scalars(query)).all()
        return [
            NotificationView(
                r.id, r.action, r.request_id, r.summary, orjson.loads(r.payload), r.received_at
            )
            for r in rows
        ]
