"""Id tags: the authorisation table and the IdTagInfo answers derived from it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ocpp_core.db.group_commit import GroupCommit
from ocpp_core.db.models import IdTag, Transaction, utcnow
from ocpp_core.errors import InvalidInput, NotFound

MAX_ID_TAG_LENGTH = 20  # CiString20Type


@dataclass(frozen=True)
class IdTagInfo:
    status: str
    expiry_date: datetime | None = None
    parent_id_tag: str | None = None


@dataclass(frozen=True)
class IdTagView:
    id_tag: str
    parent_id_tag: str | None
    expiry_date: datetime | None
    blocked: bool


def _check_tag(name: str, value: str | None) -> None:
    if value is not None and not (0 < len(value) <= MAX_ID_TAG_LENGTH):
        raise InvalidInput(f"{name} must be 1 to {MAX_ID_TAG_LENGTH} characters")


class IdTagService:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], writes: GroupCommit) -> None:
        self._sessions = sessions
        # Authorize is read with the charge points' writes: the same connection, no wait
        # of its own for it (SQLite has one), and on SQLite no thread hop per statement.
        self._writes = writes

    async def add(
        self,
        id_tag: str,
        expiry_date: datetime | None = None,
        parent_id_tag: str | None = None,
        blocked: bool = False,
    ) -> IdTagView:
        """Create or replace an id tag."""
        _check_tag("id_tag", id_tag)
        _check_tag("parent_id_tag", parent_id_tag)
        async with self._sessions.begin() as session:
            tag = await session.get(IdTag, id_tag)
            if tag is None:
                tag = IdTag(id_tag=id_tag)
                session.add(tag)
            tag.expiry_date = expiry_date
            tag.parent_id_tag = parent_id_tag
            tag.blocked = blocked
            tag.updated_at = utcnow()
        return IdTagView(id_tag, parent_id_tag, expiry_date, blocked)

    async def delete(self, id_tag: str) -> None:
        async with self._sessions.begin() as session:
            tag = await session.get(IdTag, id_tag)
            if tag is None:
                raise NotFound(f"id tag {id_tag!r} does not exist")
            await session.delete(tag)

    async def list(self) -> list[IdTagView]:
        async with self._sessions() as session:
            tags = (await session.scalars(select(IdTag).order_by(IdTag.id_tag))).all()
        return [IdTagView(t.id_tag, t.parent_id_tag, t.expiry_date, t.blocked) for t in tags]

    async def authorize(self, id_tag: str) -> IdTagInfo:
        return await self._writes.run(lambda session: self.info(session, id_tag))

    async def info(
        self, session: AsyncSession, id_tag: str, ignore_transaction: int | None = None
    ) -> IdTagInfo:
        """The IdTagInfo for `id_tag`, inside the caller's session.

        ConcurrentTx when the tag already has an open session elsewhere (other than
        `ignore_transaction`, the one being answered).
        """
        tag = (await session.execute(_TAG, {"id_tag": id_tag})).first()
        if tag is None:
            return IdTagInfo("Invalid")
        if tag.blocked:
            return IdTagInfo("Blocked", tag.expiry_date, tag.parent_id_tag)
        if tag.expiry_date is not None and tag.expiry_date <= utcnow():
            return IdTagInfo("Expired", tag.expiry_date, tag.parent_id_tag)
        if ignore_transaction is None:
            active = await session.execute(_ACTIVE, {"id_tag": id_tag})
        else:
            active = await session.execute(
                _ACTIVE_OTHER, {"id_tag": id_tag, "ignore": ignore_transaction}
            )
        if active.first() is not None:
            return IdTagInfo("ConcurrentTx", tag.expiry_date, tag.parent_id_tag)
        return IdTagInfo("Accepted", tag.expiry_date, tag.parent_id_tag)


# Built once: at every Authorize, StartTransaction and StopTransaction a statement made
# anew costs more to build and key for the cache than to run.
_TAGS = IdTag.__table__
_TRANSACTIONS = Transaction.__table__
_TAG = select(_TAGS.c.blocked, _TAGS.c.expiry_date, _TAGS.c.parent_id_tag).where(
    _TAGS.c.id_tag == bindparam("id_tag")
)
_ACTIVE = (
    select(_TRANSACTIONS.c.id)
    .where(_TRANSACTIONS.c.id_tag == bindparam("id_tag"), _TRANSACTIONS.c.stop_time.is_(None))
    .limit(1)
)
_ACTIVE_OTHER = _ACTIVE.where(_TRANSACTIONS.c.id != bindparam("ignore"))
