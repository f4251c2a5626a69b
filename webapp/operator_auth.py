"""Who is asking: operator accounts over HTTP Basic (the portal's session comes later)."""

from __future__ import annotations

import hashlib
import time

from aiohttp import web

from ocpp_core.services.users import UserView
from webapp.keys import SERVICES
from webapp.ocpp_route import basic_credentials

# argon2 is deliberately slow; a script polling the API must not pay it per request.
_CACHE_SECONDS = 60.0
_USER = web.RequestKey("user", UserView)
_verified: dict[tuple[str, bytes], tuple[UserView, float]] = {}


async def current_user(request: web.Request) -> UserView | None:
    if _USER in request:
        return request[_USER]
    credentials = basic_credentials(request)
    if credentials is None:
        return None
    username, password = credentials
    key = (username, hashlib.sha256(password.encode()).digest())
    cached = _verified.get(key)
    now = time.monotonic()
    if cached is not None and cached[1] > now:
        user: UserView | None = cached[0]
    else:
        user = await request.app[SERVICES].users.authenticate(username, password)
        if user is not None:
            if len(_verified) > 1000:
                _verified.clear()
            _verified[key] = (user, now + _CACHE_SECONDS)
    if user is not None:
        request[_USER] = user
    return user


async def require_role(request: web.Request, role: str) -> UserView:
    """The operator making the request, if their role includes `role`: else 401 / 403."""
    user = await current_user(request)
    if user is None:
        raise web.HTTPUnauthorized(
            text='{"error": "operator credentials required"}',
            content_type="application/json",
            headers={"WWW-Authenticate": 'Basic realm="Voltaro"'},
        )
    if not user.may(role):
        raise web.HTTPForbidden(
            text=f'{{"error": "role {user.role} may not do this"}}',
            content_type="application/json",
        )
    return user
