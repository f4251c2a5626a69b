"""Operator accounts: the people who use the portal and the JSON API."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ocpp_core.db.models import User
from ocpp_core.errors import InvalidInput, NotFound
from ocpp_core.passwords import hash_password, verify_password

ROLES = ("viewer", "operator", "admin")
MAX_USERNAME_LENGTH = 64


@dataclass(frozen=True)
class UserView:
    id: int
    username: str
    role: str

    def may(self, role: str) -> bool:
        """True if this user's role includes `role` (admin > operator > viewer)."""
        return ROLES.index(self.role) >= ROLES.index(role)


@cache
def _dummy_hash() -> str:
    """Verified against for unknown names, so a login takes as long whether the name
    exists or not. Made on first use: argon2 takes 100 ms, and every start would wait."""
    return hash_password("no such user")


class UserService:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def add(self, username: str, password: str, role: str = "operator") -> UserView:
        """Create the account, or update the password and role of an existing one."""
        if not username or len(username) > MAX_USERNAME_LENGTH or ":" in username:
            raise InvalidInput(
                f"user name must be 1 to {MAX_USERNAME_LENGTH} characters without ':'"
            )
        if not password:
            raise InvalidInput("password must not be empty")
        if role not in ROLES:
            raise InvalidInput(f"role must be one of {', '.join(ROLES)}")
        password_hash = hash_password(password)
        try:
            return await self._save(username, password_hash, role)
        except IntegrityError:
            # Created at the same moment elsewhere (instances starting together with
            # ADMIN_USER): it exists now, so this is an update.
            return await self._save(username, password_hash, role)

    async def _save(self, username: str, password_hash: str, role: str) -> UserView:
        async with self._sessions.begin() as session:
            user = (await session.scalars(select(User).where(User.username == username))).first()
            if user is None:
                user = User(username=username, password_hash=password_hash, role=role)
                session.add(user)
            else:
                user.password_hash = password_hash
                user.role = role
            await session.flush()
            return UserView(user.id, user.username, user.role)

    async def authenticate(self, username: str, password: str) -> UserView | None:
        async with self._sessions() as session:
            user = (await session.scalars(select(User).where(User.username == username))).first()
        if user is None:
            verify_password(_dummy_hash(), password)
            return None
        if not verify_password(user.password_hash, password):
            return None
        return UserView(user.id, user.username, user.role)

    async def get(self, user_id: int) -> UserView | None:
        async with self._sessions() as session:
            user = await session.get(User, user_id)
        return UserView(user.id, user.username, user.role) if user is not None else None

    async def list(self) -> list[UserView]:
        async with self._sessions() as session:
            users = (await session.scalars(select(User).order_by(User.username))).all()
        return [UserView(u.id, u.username, u.role) for u in users]

    async def set_role(self, user_id: int, role: str) -> None:
        if role not in ROLES:
            raise InvalidInput(f"role must be one of {', '.join(ROLES)}")
        async with self._sessions.begin() as session:
            user = await self._existing(session, user_id)
            if user.role == "admin" and role != "admin":
                await self._keep_an_admin(session, user_id)
            user.role = role

    async def set_password(self, user_id: int, password: str) -> None:
        if not password:
            raise InvalidInput("password must not be empty")
        password_hash = hash_password(password)
        async with self._sessions.begin() as session:
            (await self._existing(session, user_id)).password_hash = password_hash

    async def delete(self, user_id: int) -> None:
        async with self._sessions.begin() as session:
            user = await self._existing(session, user_id)
            if user.role == "admin":
                await self._keep_an_admin(session, user_id)
            await session.delete(user)

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
