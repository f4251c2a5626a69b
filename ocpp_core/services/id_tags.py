"""Id tags: the authorisation table and the IdTagInfo answers derived from it. A tag is
one tag whatever its case (OCPP's CiString): found by `ci_string.same_tag`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, Select, String, bindparam, exists, func, literal_column, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ocpp_core.db.ci_string import same_tag
from ocpp_core.db.group_commit import GroupCommit
from ocpp_core.db.models import IdTag, Transaction, utcnow
from ocpp_core.errors import InvalidInput, NotFound
from ocpp_core.services import audit

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
    # The start of its latest session, and whether one is open now (listings only).
    last_used: datetime | None = None
    in_session: bool = False


@dataclass(frozen=True)
class IdTagPage:
    tags: list[IdTagView]
    total: int  # of the tags matching, on every page


def _last_used(id_tag: Any) -> Any:
    return (
        select(func.max(Transaction.start_time))
        .where(same_tag(Transaction.id_tag, id_tag))
        .scalar_subquery()
        .label("last_used")
    )


def _in_session(id_tag: Any) -> Any:
    return (
        exists()
        .where(same_tag(Transaction.id_tag, id_tag), Transaction.stop_time.is_(None))
        .label("in_session")
    )


def _find(id_tag: str) -> Select[IdTag]:
    return select(IdTag).where(same_tag(IdTag.id_tag, id_tag))


def spelled_otherwise(id_tag: str, stored: str) -> str:
    """Why `id_tag` cannot be added: the tag `stored` is the same one."""
    return (
        f"id tag {id_tag!r} exists already as {stored!r} (id tags are case-insensitive): "
        f"change or delete {stored!r}"
    )


def _check_tag(name: str, value: str | None) -> None:
    if value is not None and not isinstance(value, str):
        raise InvalidInput(f"{name} must be text")
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
        *,
        actor: str | None = None,
    ) -> IdTagView:
        """Create or replace an id tag. The same tag in another case is refused: it is
        that tag (OCPP compares them case-insensitively), to be changed as it is spelled."""
        return await self._save(
            id_tag, expiry_date, parent_id_tag, blocked, actor, "add id tag", existing=False
        )

    async def change(
        self,
        id_tag: str,
        expiry_date: datetime | None = None,
        parent_id_tag: str | None = None,
        blocked: bool = False,
        *,
        actor: str | None = None,
    ) -> IdTagView:
        """Change an id tag, given as it is spelled; NotFound if there is none."""
        return await self._save(
            id_tag, expiry_date, parent_id_tag, blocked, actor, "change id tag", existing=True
        )

    async def _save(
        self,
        id_tag: str,
        expiry_date: datetime | None,
        parent_id_tag: str | None,
        blocked: bool,
        actor: str | None,
        action: str,
        *,
        existing: bool,
    ) -> IdTagView:
        if id_tag is None:  # the column is NOT NULL: a database error (500) otherwise
            raise InvalidInput("id_tag must be given")
        _check_tag("id_tag", id_tag)
        _check_tag("parent_id_tag", parent_id_tag)
        for attempt in (1, 2):
            try:
                async with self._sessions.begin() as session:
                    tag = await session.scalar(_find(id_tag))
                    if tag is not None and tag.id_tag != id_tag:
                        raise InvalidInput(spelled_otherwise(id_tag, tag.id_tag))
                    if tag is None:
                        if existing:
                            raise NotFound(f"id tag {id_tag!r} does not exist")
                        tag = IdTag(id_tag=id_tag)
                        session.add(tag)
                    tag.expiry_date = expiry_date
                    tag.parent_id_tag = parent_id_tag
                    tag.blocked = blocked
                    tag.updated_at = utcnow()
                    audit.add(session, actor, action, id_tag)
                break
            except IntegrityError:
                # Added meanwhile by another request, in this spelling or another: the
                # second attempt replaces it, or says how it is spelled.
                if attempt == 2:
                    raise
        return IdTagView(id_tag, parent_id_tag, expiry_date, blocked)

    async def delete(self, id_tag: str, *, actor: str | None = None) -> None:
        """Delete the tag `id_tag` names, in whatever case."""
        async with self._sessions.begin() as session:
            tag = await session.scalar(_find(id_tag))
            if tag is None:
                raise NotFound(f"id tag {id_tag!r} does not exist")
            await session.delete(tag)
            audit.add(session, actor, "delete id tag", id_tag)

    async def list(self) -> list[IdTagView]:
        return (await self.search()).tags

    async def spelling(self, id_tag: str) -> str | None:
        """How the tag `id_tag` names (in whatever case) is stored; None if there is none."""
        async with self._sessions() as session:
            return await session.scalar(select(IdTag.id_tag).where(same_tag(IdTag.id_tag, id_tag)))

    async def search(
        self,
        text: str | None = None,
        limit: int | None = None,
        offset: int = 0,
        after: str | None = None,
    ) -> IdTagPage:
        """Tags whose id or parent contains `text` (any case), by id; with when each was
        last used and whether it is in a session now (read for the page's rows only).
        `after`: those whose id sorts after it (the next page; `total` counts them all)."""
        matching = select(IdTag)
        if text:
            matching = matching.where(
                IdTag.id_tag.icontains(text, autoescape=True)
                | IdTag.parent_id_tag.icontains(text, autoescape=True)
            )
        page = matching.subquery()
        rows = (
            select(
                page.c.id_tag,
                page.c.parent_id_tag,
                page.c.expiry_date,
                page.c.blocked,
                _last_used(page.c.id_tag),
                _in_session(page.c.id_tag),
            )
            .order_by(page.c.id_tag)
            .offset(offset)
            .limit(limit)
        )
        if after is not None:
            # By the column as stored, in the order of the ORDER BY (the same collation).
            rows = rows.where(page.c.id_tag > after)
        async with self._sessions() as session:
            total = await session.scalar(select(func.count()).select_from(page))
            found = (await session.execute(rows)).all()
        return IdTagPage([IdTagView(*row) for row in found], total or 0)

    async def authorize(self, id_tag: str) -> IdTagInfo:
        """Authorize's answer: the tag's own status. ConcurrentTx is StartTransaction's
        (OCPP 1.6 keeps it for StartTransaction.conf; 2.0.1 for TransactionEvent): a tag
        with a session open elsewhere is still a valid tag."""
        info = await self._writes.run(lambda session: self.info(session, id_tag))
        if info.status == "ConcurrentTx":
            return IdTagInfo("Accepted", info.expiry_date, info.parent_id_tag)
        return info

    async def status_of(self, id_tag: str) -> IdTagInfo:
        """What a session started with `id_tag` now would be answered: its status, or
        ConcurrentTx when it has a session open (an operator is told before sending)."""
        async with self._sessions() as session:
            return await self.info(session, id_tag)

    async def info(
        self, session: AsyncSession, id_tag: str, ignore: tuple[str, int] = ("", 0)
    ) -> IdTagInfo:
        """The IdTagInfo for `id_tag`, inside the caller's session.

        ConcurrentTx when the tag already has an open session elsewhere (other than
        `ignore`, the (charge point, transaction) being answered).
        """
        parameters = {"id_tag": id_tag, "owner": ignore[0], "ignore": ignore[1]}
        return info_of((await session.execute(TAG_FACTS, parameters)).one())


def info_of(facts: Row[*tuple[Any, ...]]) -> IdTagInfo:
    """The IdTagInfo of a row with TAG_FACTS' columns."""
    if facts.blocked is None:  # no such tag (the column itself is never NULL)
        return IdTagInfo("Invalid")
    if facts.blocked:
        return IdTagInfo("Blocked", facts.expiry_date, facts.parent_id_tag)
    if facts.expiry_date is not None and facts.expiry_date <= utcnow():
        return IdTagInfo("Expired", facts.expiry_date, facts.parent_id_tag)
    if facts.active:
        return IdTagInfo("ConcurrentTx", facts.expiry_date, facts.parent_id_tag)
    return IdTagInfo("Accepted", facts.expiry_date, facts.parent_id_tag)


# What an IdTagInfo is made of, in one row and one statement (on PostgreSQL every
# statement is a round trip inside a group commit's transaction, which every message in it
# waits for): the tag's columns, all NULL when there is no such tag, and whether it has an
# open session other than transaction `ignore` of charge point `owner` (0 and "": none).
# Built once: at every Authorize, StartTransaction and StopTransaction a statement made
# anew costs more to build and key for the cache than to run. `tag_facts(...)` adds the
# caller's columns; joins to the same row are the caller's, on TAG_ROW.
TAGS = IdTag.__table__
_TRANSACTIONS = Transaction.__table__
_ONE_ROW = select(literal_column("1").label("one")).subquery("one_row")
# The tag asked about, in the case the charger sent it.
ID_TAG = bindparam("id_tag", type_=String())
_ACTIVE = (
    exists()
    .where(
        same_tag(_TRANSACTIONS.c.id_tag, ID_TAG),
        _TRANSACTIONS.c.stop_time.is_(None),
        ~(
            (_TRANSACTIONS.c.id == bindparam("ignore"))
            & (_TRANSACTIONS.c.charge_point_id == bindparam("owner"))
        ),
    )
    .correlate(None)
)
TAG_ROW = _ONE_ROW.outerjoin(TAGS, same_tag(TAGS.c.id_tag, ID_TAG))


def tag_facts(*more: Any) -> Select[Any]:
    """TAG_FACTS with `more` columns; a caller joining more tables to TAG_ROW passes it to
    `select_from` itself."""
    return select(
        TAGS.c.blocked,
        TAGS.c.expiry_date,
        TAGS.c.parent_id_tag,
        _ACTIVE.label("active"),
        *more,
    ).select_from(TAG_ROW)


TAG_FACTS = tag_facts()
