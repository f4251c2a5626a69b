"""API tokens: named secrets an account gives its scripts for the JSON API.

A token is shown once, when it is made; only its SHA-256 is kept. It carries a role, the
owner's or a lower one, and the role in force is never above the owner's current one, so
demoting an account demotes its tokens and removing it (its tokens go with it) ends them.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ocpp_core.db.models import ApiToken, User, utcnow
from ocpp_core.db.rowcount import rowcount
from ocpp_core.errors import InvalidInput, NotFound
from ocpp_core.events import EventBus
from ocpp_core.services import audit
from ocpp_core.services.users import REVOKED, ROLES, UserView

# What every token starts with: a secret scanner (or a person) can tell one in a log or
# a repository, and a Basic password is never mistaken for one.
TOKEN_PREFIX = "vlt_"
# 32 random bytes, url-safe base64 without padding: 43 characters.
_SECRET_BYTES = 32
TOKEN_LENGTH = len(TOKEN_PREFIX) + 43
_TOKEN_PATTERN = re.compile(rf"{TOKEN_PREFIX}[A-Za-z0-9_-]{{43}}")
# The token's first characters, kept in clear: shown in lists to recognise it, and the
# index its row is found by (8 random characters, 48 bits: a handful of rows at most).
PREFIX_LENGTH = len(TOKEN_PREFIX) + 8
MAX_NAME_LENGTH = 64
# Tokens not revoked an account may hold: a script gone wrong cannot fill the table.
MAX_ACTIVE_TOKENS = 100
# last_used_at is written at most this often per token (and instance): a script polling
# the API every second costs one UPDATE a minute, not one a request.
LAST_USED_EVERY = 60.0
_MAX_TOUCHED = 10_000


@dataclass(frozen=True)
class TokenView:
    """A token as lists show it: never its secret."""

    id: int
    user_id: int
    username: str
    name: str
    role: str  # as granted
    effective_role: str  # as in force: never above the owner's current role
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


@dataclass(frozen=True)
class NewToken:
    """A token just made, with its secret: the only time the secret is known."""

    token: TokenView
    secret: str


@dataclass(frozen=True)
class TokenUser:
    """Who a valid token speaks for, with the role it has."""

    user: UserView
    token_id: int


def describe(token: TokenView) -> str:
    """A token as the audit log names it: never its secret."""
    return f"token {token.id} {token.name!r} ({token.prefix}...) of {token.username}"


class TokenRefused(Exception):
    """The token is malformed, unknown or revoked; the message says which."""


def digest(secret: str) -> str:
    """SHA-256, not argon2: the secret is 32 random bytes, which no fast hashing can guess
    back from its digest (argon2 protects guessable passwords), and argon2's cost would
    be paid by every API request. Unkeyed, so SECRET_KEY can change without ending them."""
    return hashlib.sha256(secret.encode()).hexdigest()


def lower_role(first: str, second: str) -> str:
    return min(first, second, key=ROLES.index)


# No control character (Unicode Cc), and not only blanks: the rule the API's document
# states as this pattern.
_CONTROL = r"\x00-\x1f\x7f-\x9f"
NAME_PATTERN = rf"^[^{_CONTROL}]*[^\s{_CONTROL}][^{_CONTROL}]*$"
_NAME = re.compile(NAME_PATTERN)


def check_name(name: str) -> str:
    """The name, stripped: 1 to MAX_NAME_LENGTH characters as given, not only blanks, and
    no control character."""
    if not name.strip() or len(name) > MAX_NAME_LENGTH:
        raise InvalidInput(f"a token's name must be 1 to {MAX_NAME_LENGTH} characters")
    if not _NAME.match(name):
        raise InvalidInput("a token's name must not hold control characters")
    return name.strip()


class ApiTokenService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        bus: EventBus,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sessions = sessions
        self._bus = bus
        self.clock = clock  # time.monotonic; tests move it
        # token id -> when this instance last wrote its last_used_at.
        self._touched: dict[int, float] = {}

    async def create(
        self, user_id: int, name: str, role: str | None = None, *, actor: str | None = None
    ) -> NewToken:
        """A new token of the account, with the account's role unless a lower one is
        asked for. InvalidInput for a bad name, a role above the owner's, too many."""
        name = check_name(name)
        if role is not None and role not in ROLES:
            raise InvalidInput(f"role must be one of {', '.join(ROLES)}")
        secret = TOKEN_PREFIX + secrets.token_urlsafe(_SECRET_BYTES)
        async with self._sessions.begin() as session:
            owner = await session.get(User, user_id)
            if owner is None:
                raise NotFound(f"user {user_id} does not exist")
            role = role or owner.role
            if ROLES.index(role) > ROLES.index(owner.role):
                raise InvalidInput(
                    f"a token of {owner.username} cannot have role {role}: "
                    f"it is above the account's role {owner.role}"
                )
            active = await session.scalar(
                select(func.count())
                .select_from(ApiToken)
                .where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
            )
            if (active or 0) >= MAX_ACTIVE_TOKENS:  # None only to the type checker
                raise InvalidInput(
                    f"{owner.username} has {MAX_ACTIVE_TOKENS} tokens already: revoke one first"
                )
            token = ApiToken(
                user_id=user_id,
                name=name,
                role=role,
                prefix=secret[:PREFIX_LENGTH],
                secret_hash=digest(secret),
                created_at=utcnow(),
            )
            session.add(token)
            await session.flush()
            view = _view(token, owner.username, owner.role)
            audit.add(session, actor, "create API token", describe(view), f"role {view.role}")
        return NewToken(view, secret)

    async def list(self, user_id: int | None = None) -> list[TokenView]:
        """The account's tokens (everyone's for None), newest first, revoked ones too."""
        query = (
            select(ApiToken, User.username, User.role)
            .join(User, User.id == ApiToken.user_id)
            .order_by(ApiToken.id.desc())
        )
        if user_id is not None:
            query = query.where(ApiToken.user_id == user_id)
        async with self._sessions() as session:
            rows = (await session.execute(query)).all()
        return [_view(token, username, role) for token, username, role in rows]

    async def get(self, token_id: int) -> TokenView:
        async with self._sessions() as session:
            return await self._get(session, token_id)

    @staticmethod
    async def _get(session: AsyncSession, token_id: int) -> TokenView:
        row = (
            await session.execute(
                select(ApiToken, User.username, User.role)
                .join(User, User.id == ApiToken.user_id)
                .where(ApiToken.id == token_id)
            )
        ).first()
        if row is None:
            raise NotFound(f"token {token_id} does not exist")
        return _view(*row)

    async def revoke(self, token_id: int, *, actor: str | None = None) -> TokenView:
        """Revoke the token (one revoked already stays as it was, and is not audited
        again). Event streams opened with it end: its account's are told to (the portal's
        reconnect by their session)."""
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(ApiToken)
                .where(ApiToken.id == token_id, ApiToken.revoked_at.is_(None))
                .values(revoked_at=utcnow())
            )
            revoked_now = rowcount(result) == 1
            view = await self._get(session, token_id)
            if revoked_now:
                audit.add(session, actor, "revoke API token", describe(view))
        self._touched.pop(token_id, None)
        if revoked_now:
            self._bus.publish(REVOKED, "", user_id=view.user_id)
        return view

    async def authenticate(self, secret: str) -> TokenUser:
        """Whom the token speaks for, with its role in force. Raises TokenRefused."""
        if not _TOKEN_PATTERN.fullmatch(secret):
            raise TokenRefused("malformed API token")
        async with self._sessions() as session:
            rows = (
                await session.execute(
                    select(
                        ApiToken.id,
                        ApiToken.secret_hash,
                        ApiToken.role,
                        ApiToken.revoked_at,
                        User.id.label("user_id"),
                        User.username,
                        User.role.label("owner_role"),
                    )
                    .join(User, User.id == ApiToken.user_id)
                    .where(ApiToken.prefix == secret[:PREFIX_LENGTH])
                )
            ).all()
        wanted = digest(secret)
        # Every row of the prefix compared in constant time: how long a comparison takes
        # says nothing of how much of the digest matched.
        found = None
        for row in rows:
            if hmac.compare_digest(row.secret_hash, wanted):
                found = row
        if found is None:
            raise TokenRefused("unknown API token")
        if found.revoked_at is not None:
            raise TokenRefused("API token revoked")
        await self._touch(found.id)
        role = lower_role(found.role, found.owner_role)
        return TokenUser(UserView(found.user_id, found.username, role), found.id)

    async def _touch(self, token_id: int) -> None:
        now = self.clock()
        last = self._touched.get(token_id)
        if last is not None and now - last < LAST_USED_EVERY:
            return
        if len(self._touched) > _MAX_TOUCHED:
            self._touched.clear()
        self._touched[token_id] = now
        async with self._sessions.begin() as session:
            await session.execute(
                update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=utcnow())
            )


def _view(token: ApiToken, username: str, owner_role: str) -> TokenView:
    return TokenView(
        id=token.id,
        user_id=token.user_id,
        username=username,
        name=token.name,
        role=token.role,
        effective_role=lower_role(token.role, owner_role),
        prefix=token.prefix,
        created_at=token.created_at,
        last_used_at=token.last_used_at,
        revoked_at=token.revoked_at,
    )
