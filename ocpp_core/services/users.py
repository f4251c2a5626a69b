"""Operator accounts: the people who use the portal and the JSON API."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ocpp_core.db.models import PortalSession, User, utcnow
from ocpp_core.errors import AlreadyExists, InvalidInput, NotFound
from ocpp_core.events import EventBus
from ocpp_core.passwords import hash_password_async, verify_nothing, verify_password_async
from ocpp_core.services import audit

ROLES = ("viewer", "operator", "admin")
MAX_USERNAME_LENGTH = 64
# The event that tells every instance an account's access changed (logged out elsewhere,
# new password, new role, removed): its open event streams end.
REVOKED = "user_revoked"


@dataclass(frozen=True)
class UserView:
    id: int
    username: str
    role: str

    def may(self, role: str) -> bool:
        """True if this user's role includes `role` (admin > operator > viewer)."""
        return ROLES.index(self.role) >= ROLES.index(role)


@dataclass(frozen=True)
class Credentials:
    """An account as it is now, with the hash its password was checked against."""

    user: UserView
    password_hash: str


class UserService:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], bus: EventBus) -> None:
        self._sessions = sessions
        self._bus = bus

    async def add(
        self,
        username: str,
        password: str,
        role: str = "operator",
        *,
        new_only: bool = False,
        actor: str | None = None,
    ) -> UserView:
        """Create the account, or update the password and role of an existing one.
        `new_only`: an existing account (made at the same moment too) is AlreadyExists,
        left as it is."""
        if not username or len(username) > MAX_USERNAME_LENGTH or ":" in username:
            raise InvalidInput(
                f"user name must be 1 to {MAX_USERNAME_LENGTH} characters without ':'"
            )
        if not password:
            raise InvalidInput("password must not be empty")
        if role not in ROLES:
            raise InvalidInput(f"role must be one of {', '.join(ROLES)}")
        existing = await self.credentials_by_name(username)
        if existing is not None and new_only:
            raise AlreadyExists(f"user {username!r} exists already")
        if (
            existing is not None
            and existing.user.role == role
            and await verify_password_async(existing.password_hash, password)
        ):
            # Unchanged (ADMIN_USER at every start): its sessions stay valid. Nothing is
            # written but the entry that says an operator asked for it.
            if actor is not None:
                async with self._sessions.begin() as session:
                    audit.add(session, actor, "add user", username, f"role {role}")
            return existing.user
        password_hash = await hash_password_async(password)
        try:
            return await self._save(username, password_hash, role, new_only, actor)
        except IntegrityError:
            if await self.credentials_by_name(username) is None:
                raise  # another check failed
            # Created at the same moment elsewhere (instances starting together with
            # ADMIN_USER, two admins): it exists now, so this is an update, or refused.
            if new_only:
                raise AlreadyExists(f"user {username!r} exists already") from None
            return await self._save(username, password_hash, role, new_only, actor)

    async def _save(
        self, username: str, password_hash: str, role: str, new_only: bool, actor: str | None
    ) -> UserView:
        async with self._sessions.begin() as session:
            user = (await session.scalars(select(User).where(User.username == username))).first()
            replaced = user is not None
            if user is None:
                user = User(username=username, password_hash=password_hash, role=role)
                session.add(user)
                await session.flush()
            elif new_only:
                raise AlreadyExists(f"user {username!r} exists already")
            else:
                user.password_hash = password_hash
                user.role = role
                await self._revoke(session, user.id)
            view = UserView(user.id, user.username, user.role)
            audit.add(session, actor, "add user", username, f"role {role}")
        if replaced:
            # A new account has no session or stream to end: only a replaced one's go.
            self._bus.publish(REVOKED, "", user_id=view.id)
        return view

    async def authenticate(self, username: str, password: str) -> UserView | None:
        """The account if the password is its own. Raises passwords.Busy."""
        found = await self.credentials_by_name(username)
        if found is None:
            await verify_nothing(password)
            return None
        if not await verify_password_async(found.password_hash, password):
            return None
        return found.user

    async def credentials_by_name(self, username: str) -> Credentials | None:
        async with self._sessions() as session:
            user = (await session.scalars(select(User).where(User.username == username))).first()
        return _credentials(user)

    async def credentials(self, user_id: int) -> Credentials | None:
        """The account now (None if removed): a cached verification of a password is good
        only while the hash it was checked against is still the account's."""
        async with self._sessions() as session:
            return _credentials(await session.get(User, user_id))

    async def get(self, user_id: int) -> UserView | None:
        found = await self.credentials(user_id)
        return found.user if found is not None else None

    # --- portal sessions ----------------------------------------------------------------

    async def open_session(self, user_id: int, lifetime: float) -> str:
        """A new browser session for the account; its id goes in the cookie."""
        session_id = secrets.token_urlsafe(32)
        now = utcnow()
        async with self._sessions.begin() as session:
            # Expired ones go now and then: at every login is often enough.
            await session.execute(delete(PortalSession).where(PortalSession.expires_at < now))
            session.add(
                PortalSession(
                    id=session_id,
                    user_id=user_id,
                    created_at=now,
                    expires_at=now + timedelta(seconds=lifetime),
                )
            )
        return session_id

    async def session_user(self, session_id: str) -> UserView | None:
        """Whose browser session this is, None if it was closed, revoked or has expired."""
        async with self._sessions() as session:
            row = (
                await session.execute(
                    select(User.id, User.username, User.role)
                    .join(PortalSession, PortalSession.user_id == User.id)
                    .where(PortalSession.id == session_id, PortalSession.expires_at > utcnow())
                )
            ).first()
        return UserView(row.id, row.username, row.role) if row is not None else None

    async def close_session(self, session_id: str) -> None:
        """Log a browser out. The account's open event streams end (the others'
        reconnections are let in again by their own sessions)."""
        async with self._sessions.begin() as session:
            user_id = await session.scalar(
                delete(PortalSession)
                .where(PortalSession.id == session_id)
                .returning(PortalSession.user_id)
            )
        if user_id is not None:
            self._bus.publish(REVOKED, "", user_id=user_id)

    @staticmethod
    async def _revoke(session: AsyncSession, user_id: int) -> None:
        await session.execute(delete(PortalSession).where(PortalSession.user_id == user_id))

    async def exist(self) -> bool:
        """Whether any operator account exists (a fresh install has none)."""
        async with self._sessions() as session:
            return await session.scalar(select(User.id).limit(1)) is not None

    async def list(self) -> list[UserView]:
        async with self._sessions() as session:
            users = (await session.scalars(select(User).order_by(User.username))).all()
        return [UserView(u.id, u.username, u.role) for u in users]

    async def set_role(self, user_id: int, role: str, *, actor: str | None = None) -> None:
        if role not in ROLES:
            raise InvalidInput(f"role must be one of {', '.join(ROLES)}")
        async with self._sessions.begin() as session:
            user = await self._existing(session, user_id)
            if user.role == "admin" and role != "admin":
                await self._keep_an_admin(session, user_id)
            if user.role != role:
                user.role = role
                await self._revoke(session, user_id)
            audit.add(session, actor, "change role", user.username, f"to {role}")
        self._bus.publish(REVOKED, "", user_id=user_id)

    async def set_password(self, user_id: int, password: str, *, actor: str | None = None) -> None:
        if not password:
            raise InvalidInput("password must not be empty")
        password_hash = await hash_password_async(password)
        async with self._sessions.begin() as session:
            user = await self._existing(session, user_id)
            user.password_hash = password_hash
            await self._revoke(session, user_id)
            audit.add(session, actor, "reset password", user.username)
        self._bus.publish(REVOKED, "", user_id=user_id)

    async def delete(self, user_id: int, *, actor: str | None = None) -> None:
        async with self._sessions.begin() as session:
            user = await self._existing(session, user_id)
            if user.role == "admin":
                await self._keep_an_admin(session, user_id)
            await self._revoke(session, user_id)
            audit.add(session, actor, "remove user", user.username)
            await session.delete(user)
        self._bus.publish(REVOKED, "", user_id=user_id)

    @staticmethod
    async def _existing(session: AsyncSession, user_id: int) -> User:
        user = await session.get(User, user_id)
        if user is None:
            raise NotFound(f"user {user_id} does not exist")
        return user

    @staticmethod
    async def _keep_an_admin(session: AsyncSession, leaving: int) -> None:
        others = await session.scalar(
            select(func.count()).select_from(User).where(User.role == "admin", User.id != leaving)
        )
        if not others:
            raise InvalidInput("the last admin cannot be removed or demoted")


def _credentials(user: User | None) -> Credentials | None:
    if user is None:
        return None
    return Credentials(UserView(user.id, user.username, user.role), user.password_hash)
