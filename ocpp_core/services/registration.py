"""Writes whose rows refer to a charge point's record, which may have gone meanwhile.

A charge point is registered on connect, and the rows of its messages refer to that
record. An operator may remove it while it is connected: its connection is closed then,
but a message already on its way (or one that arrives on another instance before the
event that closes the connection there) must not be refused with an InternalError and its
data lost. The charge point is registered again, Pending, and the write run once more.
"""

from __future__ import annotations

import logging
from typing import TypeVar

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ocpp_core.db.group_commit import GroupCommit, Work, write_one
from ocpp_core.db.models import ChargePoint

LOGGER = logging.getLogger(__name__)

T = TypeVar("T")


async def get_or_create(session: AsyncSession, charge_point_id: str) -> ChargePoint:
    """The charge point's record; registered again, Pending, if it was removed."""
    cp = await session.get(ChargePoint, charge_point_id)
    if cp is None:
        LOGGER.warning("%s: removed while connected; registered again, Pending", charge_point_id)
        cp = ChargePoint(id=charge_point_id, registration_status="Pending")
        session.add(cp)
        await session.flush()
    return cp


async def run_registered(writes: GroupCommit, charge_point_id: str, work: Work[T]) -> T:
    """Run `work` by group commit. When it fails on an integrity check, run it once more
    with the charge point's record made sure of first (the check that failed may be
    another: a StartTransaction raced in twice finds the first the second time)."""
    try:
        return await writes.run(work)
    except IntegrityError:
        pass

    async def again(session: AsyncSession) -> T:
        await get_or_create(session, charge_point_id)
        return await write_one(session, work)

    return await writes.run(again)
