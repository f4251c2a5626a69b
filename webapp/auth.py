"""Who is asking and what they may do: operator accounts over HTTP Basic (scripts) or the
portal's encrypted session cookie (browsers), roles, and CSRF protection.

Cookie-authenticated state-changing requests need the session's CSRF token (form field
`csrf_token` or header `X-CSRF-Token`); Basic-authenticated ones cannot be forged by a
browser and need none.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Awaitable, Callable

from aiohttp import hdrs, web
from aiohttp_session import Session, get_session, new_session
from aiohttp_session.cookie_storage import EncryptedCookieStorage

from ocpp_core.services.users import UserView
from webapp.keys import LOGIN_THROTTLE, SERVICES, VERIFIED_LOGINS
from webapp.ocpp_route import basic_credentials

SESSION_COOKIE = "voltaro_session"
SESSION_MAX_AGE = 12 * 3600
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# argon2 is deliberately slow; a script polling the API must not pay it per request.
_CACHE_SECONDS = 60.0
_USER = web.RequestKey("user", UserView)
_VIA_SESSION = web.RequestKey("via_session", bool)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def session_storage(secret_key: str) -> EncryptedCookieStorage:
    # Fernet wants 32 bytes: derive them from SECRET_KEY, whatever its length.
    return EncryptedCookieStorage(
        hashlib.sha256(secret_key.encode()).digest(),
        cookie_name=SESSION_COOKIE,
        max_age=SESSION_MAX_AGE,
        httponly=True,
        samesite="Lax",
    )


def is_https(request: web.Request) -> bool:
    forwarded = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
    return request.secure or forwarded == "https"


@web.middleware
async def secure_session_cookie(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Mark the session cookie Secure when served over https (or behind a proxy that says
    so). Outermost middleware: it sees the cookie the session middleware set."""
    try:
        response = await handler(request)
    except web.HTTPException as error:
        if is_https(request) and SESSION_COOKIE in error.cookies:
            error.cookies[SESSION_COOKIE]["secure"] = True
        raise
    if is_https(request) and SESSION_COOKIE in response.cookies:
        response.cookies[SESSION_COOKIE]["secure"] = True
    return response


async def csrf_token(request: web.Request) -> str:
    """The session's CSRF token, created on first use (the login page has one too)."""
    session = await get_session(request)
    token = session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return token


async def log_in(request: web.Request, user: UserView) -> None:
    # A fresh session on login: no fixation of a session an attacker prepared.
    session = await new_session(request)
    session["user_id"] = user.id
    session["csrf"] = secrets.token_urlsafe(32)
    session["since"] = int(time.time())


async def log_out(request: web.Request) -> None:
    (await get_session(request)).invalidate()


async def _basic_user(request: web.Request) -> UserView | None:
    credentials = basic_credentials(request)
    if credentials is None:
        return None
    username, password = credentials
    # The lock comes first: a name or address that is locked out is refused even with a
    # password verified a moment ago.
    throttle = request.app[LOGIN_THROTTLE]
    keys = throttle.keys(username, request.remote)
    wait = throttle.retry_after(keys)
    if wait:
        raise _refusal(
            request, web.HTTPTooManyRequests, f"too many failed logins, retry in {wait} s"
        )
    verified = request.app[VERIFIED_LOGINS]
    key = (username, hashlib.sha256(password.encode()).digest())
    cached = verified.get(key)
    now = time.monotonic()
    if cached is not None and cached[1] > now:
        return cached[0]
    user = await request.app[SERVICES].users.authenticate(username, password)
    if user is None:
        throttle.failed(keys)
        return None
    throttle.succeeded(keys)
    if len(verified) > 1000:
        verified.clear()
    verified[key] = (user, now + _CACHE_SECONDS)
    return user


async def _session_user(request: web.Request) -> UserView | None:
    session: Session = await get_session(request)
    user_id = session.get("user_id")
    if user_id is None:
        return None
    # Looked up each time: a removed account or a changed role counts at once.
    user = await request.app[SERVICES].users.get(user_id)
    if user is None:
        session.invalidate()
    return user


async def current_user(request: web.Request) -> UserView | None:
    if _USER in request:
        return request[_USER]
    user = await _basic_user(request)
    via_session = False
    if user is None and hdrs.AUTHORIZATION not in request.headers:
        user = await _session_user(request)
        via_session = user is not None
    if user is not None:
        request[_USER] = user
        request[_VIA_SESSION] = via_session
    return user


def _wants_json(request: web.Request) -> bool:
    return request.path.startswith("/api/")


async def check_csrf(request: web.Request, always: bool = False) -> None:
    """Refuse (403) a state-changing request from a browser session without the session's
    token. `always`: also before anyone is logged in (the login form)."""
    if request.method in SAFE_METHODS:
        return
    if not always and not request.get(_VIA_SESSION, True):
        return
    expected = (await get_session(request)).get("csrf")
    sent = request.headers.get("X-CSRF-Token")
    if sent is None and request.content_type in (
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ):
        sent = (await request.post()).get("csrf_token")
    if not expected or not isinstance(sent, str) or not hmac.compare_digest(sent, expected):
        raise _refusal(request, web.HTTPForbidden, "missing or wrong CSRF token")


def _refusal(request: web.Request, error: type[web.HTTPException], message: str):
    if _wants_json(request):
        return error(text=f'{{"error": "{message}"}}', content_type="application/json")
    return error(text=f"{error.status_code} {message}\n")


async def require_role(request: web.Request, role: str) -> UserView:
    """The user making the request, if their role includes `role`: else 401 (API) or a
    redirect to the login page (portal), or 403. State-changing requests from a browser
    session must carry the CSRF token."""
    user = await current_user(request)
    if user is None:
        if _wants_json(request) or request.method not in SAFE_METHODS:
            if _wants_json(request):
                raise web.HTTPUnauthorized(
                    text='{"error": "operator credentials required"}',
                    content_type="application/json",
                    headers={hdrs.WWW_AUTHENTICATE: 'Basic realm="Voltaro"'},
                )
            raise web.HTTPForbidden(text="403 log in first\n")
        raise web.HTTPFound(request.app.router["login"].url_for().with_query(next=request.path_qs))
    await check_csrf(request)
    if not user.may(role):
        raise _refusal(request, web.HTTPForbidden, f"role {user.role} may not do this")
    return user
