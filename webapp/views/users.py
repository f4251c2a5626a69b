"""`/users` (admin): add, change role, reset password, remove."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ocpp_core.errors import AlreadyExists, InvalidInput, NotFound
from ocpp_core.services.users import ROLES
from webapp.auth import require_role
from webapp.keys import SERVICES
from webapp.path_ids import path_int
from webapp.views.common import (
    Message,
    done,
    outcome_message,
    render,
    render_with_message,
    text_field,
)

# What the page says after a form post succeeded (views.common.done).
OUTCOMES = {
    "added": "User {username} added as {role}.",
    "role": "Role changed to {role}.",
    "password": "Password reset.",
    "removed": "User removed.",
}


async def _page(
    request: web.Request,
    message: Message | None = None,
    form: dict[str, Any] | None = None,
    status: int = 200,
) -> web.Response:
    context = {
        "nav": "users",
        "users": await request.app[SERVICES].users.list(),
        "roles": ROLES,
    }
    return await render_with_message(request, "users.html", context, message, form, status)


async def users_page(request: web.Request) -> web.Response:
    await require_role(request, "admin")
    return await _page(request, outcome_message(request, OUTCOMES))


async def add_user(request: web.Request) -> web.Response:
    me = await require_role(request, "admin")
    form = await request.post()
    username = text_field(form, "username")
    role = text_field(form, "role") or "operator"
    values = {"username": username, "role": role}
    password = str(form.get("password", ""))
    try:
        await request.app[SERVICES].users.add(
            username, password, role, new_only=True, actor=me.username
        )
    except AlreadyExists:
        return await _page(
            request, Message(f"User {username} exists already.", "error"), values, 400
        )
    except InvalidInput as error:
        return await _page(request, Message(str(error), "error"), values, 400)
    raise done(request, "users", "added", {"username": username, "role": role})


async def _change(
    request: web.Request, outcome: tuple[str, dict[str, str]], change: Any
) -> web.Response:
    try:
        await change
    except InvalidInput as error:
        return await _page(request, Message(str(error), "error"), None, 400)
    except NotFound as error:
        return await _page(request, Message(str(error), "error"), None, 404)
    raise done(request, "users", *outcome)


def _user_id(request: web.Request) -> int:
    try:
        return path_int(request, "user_id")
    except ValueError:
        raise web.HTTPNotFound(text="No such user\n") from None


async def change_role(request: web.Request) -> web.Response:
    me = await require_role(request, "admin")
    role = text_field(await request.post(), "role")
    users = request.app[SERVICES].users
    return await _change(
        request,
        ("role", {"role": role}),
        users.set_role(_user_id(request), role, actor=me.username),
    )


async def reset_password(request: web.Request) -> web.Response:
    me = await require_role(request, "admin")
    password = str((await request.post()).get("password", ""))
    users = request.app[SERVICES].users
    return await _change(
        request,
        ("password", {}),
        users.set_password(_user_id(request), password, actor=me.username),
    )


async def delete_user(request: web.Request) -> web.Response:
    me = await require_role(request, "admin")
    user_id = _user_id(request)
    if user_id == me.id:
        return await _page(request, Message("You cannot remove yourself.", "error"), None, 400)
    users = request.app[SERVICES].users
    return await _change(request, ("removed", {}), users.delete(user_id, actor=me.username))


async def audit_page(request: web.Request) -> web.Response:
    await require_role(request, "admin")
    entries = await request.app[SERVICES].audit.recent(limit=300)
    return await render(request, "audit.html", {"nav": "audit", "entries": entries})
