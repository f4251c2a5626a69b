"""Writes whose rows refer to a charge point's record, which may have gone meanwhile.

A charge point is registered on connect, and the rows of its messages refer to that
record. An operator may remove it while it is connected: its connection is closed then,
but a message already on its way (or one that arrives on another instance before the
event that closes the connection there) must not be refused with an InternalError and its
data lost. The charge point is registered again as UNKNOWN_CHARGE_POINTS registers an
unknown one on connecting (`accept`: Accepted, `pending`: Pending), and the write run once
more. Under `reject` it is not: the message is refused (NotRegistered), and the charger
keeps it to send again, as it would after any refusal of a transaction message.
"""

from __future__ import annotations

import logging
from typing import TypeVar

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ocpp_core.db.group_commit import GroupCommit, Work, write_one
from ocpp_core.db.models import ChargePoint
from ocpp_core.errors import NotRegistered

LOGGER = logging.getLogger(__name__)

T = TypeVar("T")

# The registration status an unknown charge point gets under each UNKNOWN_CHARGE_POINTS
# policy; None: it is not registered at all.
STATUS_BY_POLICY: dict[str, str | None] = {
    "accept": "Accepted",
    "pending": "Pending",
    "reject": None,
}


class ChargePointRecords:
    """The charge points' writes by group commit, with what they do when the charger's
    record has gone."""

    def __init__(self, writes: GroupCommit, unknown_policy: str) -> None:
        self.writes = writes
        # The status a removed charger is registered again with; None: refused.
        self.status = STATUS_BY_POLICY[unknown_policy]

    async def record(self, session: AsyncSession, charge_point_id: str) -> ChargePoint:
        """The charge point's record, registered again if it was removed."""
        cp = await session.get(ChargePoint, charge_point_id)
        if cp is not None:
            return cp
        if self.status is None:
            raise NotRegistered(charge_point_id)
        LOGGER.warning(
            "%s: removed while connected; registered again, %s", charge_point_id, self.status
        )
        cp = ChargePoint(id=charge_point_id, registration_status=self.status)
        session.add(cp)
        await session.flush()
        return cp

    async def run(self, charge_point_id: str, work: Work[T]) -> T:
        """Run `work` by group commit. When it fails on an integrity check, run it once
        more with the charge point's record made sure of first (the check that failed may
        be another: a StartTransaction raced in twice finds the first the second time)."""
        try:
            return await self.writes.run(work)
        except IntegrityError:
            pass

        async def again(session: AsyncSession) -> T:
            await self.record(session, charge_point_id)
            return await write_one(session, work)

        return await self.writes.run(again)
