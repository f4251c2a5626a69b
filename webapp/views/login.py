"""`/login` and `/logout`."""

from __future__ import annotations

from urllib.parse import urlsplit

from aiohttp import web

from ocpp_core.passwords import Busy
from webapp.auth import check_csrf, client_address, current_user, log_in, log_out
from webapp.keys import LOGIN_THROTTLE, SERVICES
from webapp.views.common import render, text_field


def _local(next_url: str) -> str:
    """`next_url` if it is a path on this site, else "/": never an open redirect.

    Judged as a browser reads it: browsers drop tabs and newlines from a URL and read a
    backslash as a slash, so `/%09/evil.example` (a tab) is `//evil.example`, another host."""
    if any(ord(c) < 0x20 or ord(c) == 0x7F or c == "\\" for c in next_url):
        return "/"
    parts = urlsplit(next_url)
    if parts.scheme or parts.netloc or not parts.path.startswith("/"):
        return "/"
    if parts.path.startswith("//"):
        return "/"
    return next_url


async def login_page(request: web.Request) -> web.Response:
    if await current_user(request) is not None:
        raise web.HTTPSeeOther(_local(request.query.get("next", "/")))
    context = {"next_url": _local(request.query.get("next", "/")), **await _no_account(request)}
    return await render(request, "login.html", context)


async def _no_account(request: web.Request) -> dict[str, bool]:
    """On a fresh install no one can log in: the page says how to create the first account."""
    return {"no_account": not await request.app[SERVICES].users.exist()}


async def login(request: web.Request) -> web.Response:
    form = await request.post()
    await check_csrf(request, always=True)
    username = text_field(form, "username", 64)
    password = form.get("password", "")
    next_url = _local(text_field(form, "next") or "/")
    throttle = request.app[LOGIN_THROTTLE]
    attempt = throttle.key(username, client_address(request))
    wait = throttle.retry_after(attempt)
    if wait:
        error = f"Too many failed logins. Try again in {wait} seconds."
        context = {"error": error, "username": username, "next_url": next_url}
        return await render(request, "login.html", context, status=429)
    user = None
    if username and isinstance(password, str) and password:
        try:
            user = await request.app[SERVICES].users.authenticate(username, password)
        except Busy:
            error = "Too many logins at this moment. Try again in a few seconds."
            context = {"error": error, "username": username, "next_url": next_url}
            return await render(request, "login.html", context, status=503)
    if user is None:
        throttle.failed(attempt)
        await request.app[SERVICES].audit.record(username or "?", "login failed", username or "?")
        return await render(
            request,
            "login.html",
            {
                "error": "Wrong user name or password.",
                "username": username,
                "next_url": next_url,
                **await _no_account(request),
            },
            status=401,
        )
    throttle.succeeded(attempt)
    await request.app[SERVICES].audit.record(user.username, "login", user.username)
    await log_in(request, user)
    raise web.HTTPSeeOther(next_url)


async def logout(request: web.Request) -> web.Response:
    user = await current_user(request)
    if user is not None:
        await check_csrf(request)
        await log_out(request)
    raise web.HTTPSeeOther(request.app.router["login"].url_for())
