"""Who is asking and what they may do: operator accounts over HTTP Basic or an API token
(`Authorization: Bearer`, scripts) or the portal's encrypted session cookie (browsers),
roles, and CSRF protection.

Cookie-authenticated state-changing requests need the session's CSRF token (form field
`csrf_token` or header `X-CSRF-Token`); Basic- and token-authenticated ones cannot be
forged by a browser and need none.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Awaitable, Callable

import orjson
from aiohttp import hdrs, web
from aiohttp_session import Session, get_session, new_session
from aiohttp_session.cookie_storage import EncryptedCookieStorage
from yarl import URL

from ocpp_core.passwords import Busy, verify_nothing, verify_password_async
from ocpp_core.services.api_tokens import TokenRefused
from ocpp_core.services.users import UserView
from webapp.keys import (
    LOGIN_THROTTLE,
    SERVICES,
    TRUSTED_PROXIES,
    VERIFIED_LOGINS,
    VERIFIED_TOKENS,
)
from webapp.ocpp_route import basic_credentials

SESSION_COOKIE = "voltaro_session"
SESSION_MAX_AGE = 12 * 3600
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

_USER = web.RequestKey("user", UserView)
_VIA_SESSION = web.RequestKey("via_session", bool)
_TOKEN_ID = web.RequestKey("token_id", int)
# The throttle's name for bad bearer tokens, counted per client address like a login's
# name: ':' is in no user name, so it is no account's count.
BEARER_THROTTLE_NAME = ":bearer token"
# A token verified this recently gets through while its address is throttled (as Basic
# credentials do): a guesser behind the same router does not stop a working script.
VERIFIED_TOKEN_SECONDS = 60.0

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
    # A fresh session on login: no fixation of a session an attacker prepared. The cookie
    # names a session kept in the database, which logout and account changes delete.
    session = await new_session(request)
    session["sid"] = await request.app[SERVICES].users.open_session(user.id, SESSION_MAX_AGE)
    session["csrf"] = secrets.token_urlsafe(32)
    session["since"] = int(time.time())


async def log_out(request: web.Request) -> None:
    session = await get_session(request)
    session_id = session.get("sid")
    if isinstance(session_id, str):
        await request.app[SERVICES].users.close_session(session_id)
    session.invalidate()


def client_address(request: web.Request) -> str:
    return request.app[TRUSTED_PROXIES].client_address(request)


def _busy(request: web.Request) -> web.HTTPException:
    return _refusal(
        request, web.HTTPServiceUnavailable, "too many logins at once, retry shortly",
        headers={hdrs.RETRY_AFTER: "1"},
    )  # fmt: skip


async def _basic_user(request: web.Request) -> UserView | None:
    credentials = basic_credentials(request)
    if credentials is None:
        return None
    username, password = credentials
    users = request.app[SERVICES].users
    # Verified a moment ago: good while the account keeps that password (its role is read
    # now), whatever the throttle says of others guessing at the name.
    verified = request.app[VERIFIED_LOGINS]
    key = (username, hashlib.sha256(password.encode()).digest())
    cached = verified.get(key)
    if cached is not None:
        user_id, password_hash, until = cached
        if until > time.monotonic():
            account = await users.credentials(user_id)
            if account is not None and account.password_hash == password_hash:
                return account.user
        del verified[key]
    throttle = request.app[LOGIN_THROTTLE]
    attempt = throttle.key(username, client_address(request))
    wait = throttle.retry_after(attempt)
    if wait:
        raise _refusal(
            request, web.HTTPTooManyRequests, f"too many failed logins, retry in {wait} s",
            headers={hdrs.RETRY_AFTER: str(wait)},
        )  # fmt: skip
    try:
        account = await users.credentials_by_name(username)
        if account is None:
            await verify_nothing(password)
        elif await verify_password_async(account.password_hash, password):
            throttle.succeeded(attempt)
            if len(verified) > 1000:
                verified.clear()
            verified[key] = (account.user.id, account.password_hash, time.monotonic() + 60.0)
            return account.user
    except Busy:
        raise _busy(request) from None
    throttle.failed(attempt)
    return None


def bearer_token(request: web.Request) -> str | None:
    """The token of an `Authorization: Bearer` header, None without one."""
    scheme, _, token = request.headers.get(hdrs.AUTHORIZATION, "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


async def _token_user(request: web.Request) -> UserView | None:
    """The account an API token speaks for, with the token's role in force; None without
    a bearer token. A bad one is refused here (401 saying why), and counted against the
    client's address by the login throttle (429 while it holds, as for passwords)."""
    token = bearer_token(request)
    if token is None:
        return None
    throttle = request.app[LOGIN_THROTTLE]
    attempt = throttle.key(BEARER_THROTTLE_NAME, client_address(request))
    verified = request.app[VERIFIED_TOKENS]
    key = hashlib.sha256(token.encode()).digest()
    now = time.monotonic()
    wait = throttle.retry_after(attempt)
    if wait and verified.get(key, 0.0) <= now:
        raise _refusal(
            request, web.HTTPTooManyRequests, f"too many bad API tokens, retry in {wait} s",
            headers={hdrs.RETRY_AFTER: str(wait)},
        )  # fmt: skip
    try:
        found = await request.app[SERVICES].api_tokens.authenticate(token)
    except TokenRefused as refused:
        verified.pop(key, None)
        # No success clears the address's count: a script's good token must not reset
        # what a guesser behind the same address has spent.
        throttle.failed(attempt)
        challenge = f'Bearer realm="Voltaro", error="invalid_token", error_description="{refused}"'
        raise _refusal(
            request, web.HTTPUnauthorized, str(refused),
            headers={hdrs.WWW_AUTHENTICATE: challenge},
        ) from None  # fmt: skip
    if len(verified) > 1000:
        verified.clear()
    verified[key] = now + VERIFIED_TOKEN_SECONDS
    request[_TOKEN_ID] = found.token_id
    return found.user


def via_token(request: web.Request) -> bool:
    """Whether the request's user was authenticated by an API token."""
    return _TOKEN_ID in request


async def _session_user(request: web.Request) -> UserView | None:
    session: Session = await get_session(request)
    session_id = session.get("sid")
    if not isinstance(session_id, str):
        if session.get("user_id") is not None:  # a cookie from before server-side sessions
            session.invalidate()
        return None
    # Looked up each time: a closed session, a removed account or a changed role counts
    # at once, on every instance.
    user = await request.app[SERVICES].users.session_user(session_id)
    if user is None:
        session.invalidate()
    return user


async def current_user(request: web.Request) -> UserView | None:
    if _USER in request:
        return request[_USER]
    user = await _token_user(request)
    if user is None:
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
    sent: object = request.headers.get("X-CSRF-Token")
    if sent is None and request.content_type in (
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ):
        sent = (await request.post()).get("csrf_token")
    if not expected or not isinstance(sent, str) or not hmac.compare_digest(sent, expected):
        raise _refusal(request, web.HTTPForbidden, "missing or wrong CSRF token")


def _refusal(
    request: web.Request,
    error: type[web.HTTPException],
    message: str,
    headers: dict[str, str] | None = None,
) -> web.HTTPException:
    if _wants_json(request):
        body = orjson.dumps({"error": message}).decode()
        return error(text=body, content_type="application/json", headers=headers)
    return error(text=f"{error.status_code} {message}\n", headers=headers)


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
                    # Both ways in, one challenge each (RFC 9110 11.6.1).
                    headers=[
                        (hdrs.WWW_AUTHENTICATE, 'Basic realm="Voltaro"'),
                        (hdrs.WWW_AUTHENTICATE, 'Bearer realm="Voltaro"'),
                    ],
                )
            raise web.HTTPForbidden(text="403 log in first\n")
        raise web.HTTPFound(request.app.router["login"].url_for().with_query(next=request.path_qs))
    await check_csrf(request)
    if not user.may(role):
        raise _refusal(request, web.HTTPForbidden, f"role {user.role} may not do this")
    return user


@web.middleware
async def api_write_guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuse state-changing API requests a page of another site could make a browser
    send. A browser answers a 401 with the Basic credentials it cached for this site, so
    a cross-site form (`enctype="text/plain"` can carry a JSON-looking body) would act as
    the operator. Such a request says where it comes from (`Origin`, `Sec-Fetch-Site`),
    and a form cannot send `Content-Type: application/json`; scripts (curl, integrations)
    send no such header and the JSON type they already use."""
    if request.method in SAFE_METHODS or not request.path.startswith("/api/"):
        return await handler(request)
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None and site not in ("same-origin", "none"):
        raise _refusal(request, web.HTTPForbidden, f"cross-site request refused ({site})")
    origin = request.headers.get(hdrs.ORIGIN)
    if origin is not None and not _same_origin(request, origin):
        raise _refusal(request, web.HTTPForbidden, f"request from origin {origin} refused")
    # An empty body may come with any type (HTTP clients label even none): nothing to read.
    if request.body_exists and request.content_type != "application/json":
        raise _refusal(
            request, web.HTTPUnsupportedMediaType, "the body must be Content-Type: application/json"
        )
    return await handler(request)


def _same_origin(request: web.Request, origin: str) -> bool:
    """Whether `origin` is this site as the browser was addressing it (host and port;
    behind a TLS-terminating proxy the scheme it saw is not ours to compare)."""
    try:
        parsed = URL(origin)
    except ValueError:
        return False
    if not parsed.is_absolute() or parsed.raw_host is None:
        return False  # "null": a sandboxed or file page
    host = request.headers.get("X-Forwarded-Host", request.host).split(",")[0].strip()
    return parsed.raw_authority.lower() == host.lower() or (
        parsed.is_default_port() and parsed.raw_host.lower() == host.lower()
    )
