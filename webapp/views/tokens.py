"""`/tokens`: an account's API tokens (an admin's: everyone's). Making one shows its
secret on the answer to that form, and never again."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ocpp_core.errors import InvalidInput, NotFound
from ocpp_core.services.users import ROLES, UserView
from webapp.api_tokens import visible_token
from webapp.auth import require_role, via_token
from webapp.keys import SERVICES
from webapp.path_ids import path_int
from webapp.views.common import Message, is_htmx, render_partial, render_with_message, text_field


async def _page(
    request: web.Request,
    user: UserView,
    message: Message | None = None,
    form: dict[str, Any] | None = None,
    status: int = 200,
    secret: str | None = None,
) -> web.Response:
    owner = None if user.may("admin") else user.id
    context = {
        "nav": "tokens",
        "tokens": await request.app[SERVICES].api_tokens.list(owner),
        # A token may have the account's role or a lower one.
        "roles": ROLES[: ROLES.index(user.role) + 1],
        "secret": secret,
    }
    return await render_with_message(request, "tokens.html", context, message, form, status)


async def tokens_page(request: web.Request) -> web.Response:
    return await _page(request, await require_role(request, "viewer"))


async def create_token(request: web.Request) -> web.Response:
    user = await require_role(request, "viewer")
    if via_token(request):
        raise web.HTTPForbidden(text="403 an API token cannot create tokens: use a password\n")
    form = await request.post()
    name = text_field(form, "name")
    role = text_field(form, "role") or None
    values = {"name": name, "role": role}
    try:
        created = await request.app[SERVICES].api_tokens.create(
            user.id, name, role, actor=user.username
        )
    except InvalidInput as error:
        return await _page(request, user, Message(str(error), "error"), values, 400)
    done = Message(f"Token {created.token.name} created with role {created.token.role}.")
    return await _page(request, user, done, secret=created.secret)


async def revoke_token(request: web.Request) -> web.Response:
    user = await require_role(request, "viewer")
    try:
        token = await visible_token(request, user, path_int(request, "token_id"))
    except (ValueError, NotFound):
        raise web.HTTPNotFound(text="No such token\n") from None
    token = await request.app[SERVICES].api_tokens.revoke(token.id, actor=user.username)
    if is_htmx(request):  # the row, in its new state, replaces itself
        html = await render_partial(request, "_token_row.html", {"token": token})
        return web.Response(text=html, content_type="text/html")
    return await _page(request, user, Message(f"Token {token.name} revoked."))
