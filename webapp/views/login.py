"""`/login` and `/logout`."""

from __future__ import annotations

from aiohttp import web

from webapp.auth import check_csrf, current_user, log_in, log_out
from webapp.keys import LOGIN_THROTTLE, SERVICES
from webapp.views.common import render, text_field


def _local(next_url: str) -> str:
    # Only paths on this site: never an open redirect to another host.
    if next_url.startswith("/") and not next_url.startswith("//") and "\\" not in next_url:
        return next_url
    return "/"


async def login_page(request: web.Request) -> web.Response:
    if await current_user(request) is not None:
        raise web.HTTPSeeOther(_local(request.query.get("next", "/")))
    return await render(request, "login.html", {"next_url": _local(request.query.get("next", "/"))})


async def login(request: web.Request) -> web.Response:
    form = await request.post()
    await check_csrf(request, always=True)
    username = text_field(form, "username", 64)
    password = form.get("password", "")
    next_url = _local(text_field(form, "next") or "/")
    throttle = request.app[LOGIN_THROTTLE]
    keys = throttle.keys(username, request.remote)
    wait = throttle.retry_after(keys)
    if wait:
        error = f"Too many failed logins. Try again in {wait} seconds."
        context = {"error": error, "username": username, "next_url": next_url}
        return await render(request, "login.html", context, status=429)
    user = None
    if username and isinstance(password, str) and password:
        user = await request.app[SERVICES].users.authenticate(username, password)
    if user is None:
        throttle.failed(keys)
        await request.app[SERVICES].audit.record(username or "?", "login failed", username or "?")
        return await render(
            request,
            "login.html",
            {"error": "Wrong user name or password.", "username": username, "next_url": next_url},
            status=401,
        )
    throttle.succeeded(keys)
    await request.app[SERVICES].audit.record(user.username, "login", user.username)
    await log_in(request, user)
    raise web.HTTPSeeOther(next_url)


async def logout(request: web.Request) -> web.Response:
    user = await current_user(request)
    if user is not None:
        await check_csrf(request)
        await log_out(request)
    raise web.HTTPSeeOther(request.app.router["login"].url_for())
