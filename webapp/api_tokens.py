"""`/api/tokens`: an account's API tokens (an admin's: everyone's).

A token cannot make tokens: one that leaked must not be able to outlive its revocation
by minting others. Making one takes a password (HTTP Basic) or the portal's session.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ocpp_core.errors import InvalidInput, NotFound
from ocpp_core.services.api_tokens import TokenView
from ocpp_core.services.users import UserView
from webapp.api import error_response, json_body, json_response
from webapp.auth import require_role, via_token
from webapp.keys import SERVICES
from webapp.path_ids import path_int


def token_json(token: TokenView) -> dict[str, Any]:
    return {
        "id": token.id,
        "name": token.name,
        "user": token.username,
        "role": token.role,
        "effective_role": token.effective_role,
        "prefix": token.prefix,
        "created_at": token.created_at,
        "last_used_at": token.last_used_at,
        "revoked_at": token.revoked_at,
    }


async def visible_token(request: web.Request, user: UserView, token_id: int) -> TokenView:
    """The token if `user` may see and revoke it (theirs, or any for an admin); another's
    is as unknown as one that never was."""
    token = await request.app[SERVICES].api_tokens.get(token_id)
    if token.user_id != user.id and not user.may("admin"):
        raise NotFound(f"token {token_id} does not exist")
    return token


async def list_tokens(request: web.Request) -> web.Response:
    user = await require_role(request, "viewer")
    owner = None if user.may("admin") else user.id
    tokens = await request.app[SERVICES].api_tokens.list(owner)
    return json_response([token_json(t) for t in tokens])


async def create_token(request: web.Request) -> web.Response:
    user = await require_role(request, "viewer")
    if via_token(request):
        return error_response(403, "an API token cannot create tokens: use a password")
    body = await json_body(request)
    unknown = sorted(body.keys() - {"name", "role"})
    if unknown:
        raise InvalidInput(f"unknown field(s): {', '.join(unknown)}")
    if "name" not in body:
        raise InvalidInput("missing field(s): name")
    name, role = body["name"], body.get("role")
    if not isinstance(name, str):
        raise InvalidInput("name must be a string")
    if role is not None and not isinstance(role, str):
        raise InvalidInput("role must be a string")
    created = await request.app[SERVICES].api_tokens.create(user.id, name, role)
    await audit_created(request, user.username, created.token)
    return json_response({**token_json(created.token), "token": created.secret}, status=201)


async def revoke_token(request: web.Request) -> web.Response:
    user = await require_role(request, "viewer")
    try:
        token_id = path_int(request, "token_id")
    except ValueError:
        raise NotFound(f"token {request.match_info['token_id']} does not exist") from None
    await visible_token(request, user, token_id)
    token, revoked_now = await request.app[SERVICES].api_tokens.revoke(token_id)
    if revoked_now:
        await audit_revoked(request, user.username, token)
    return web.Response(status=204)


def describe(token: TokenView) -> str:
    """A token as the audit log names it: never its secret."""
    return f"token {token.id} {token.name!r} ({token.prefix}...) of {token.username}"


async def audit_created(request: web.Request, actor: str, token: TokenView) -> None:
    await request.app[SERVICES].audit.record(
        actor, "create API token", describe(token), f"role {token.role}"
    )


async def audit_revoked(request: web.Request, actor: str, token: TokenView) -> None:
    await request.app[SERVICES].audit.record(actor, "revoke API token", describe(token))


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/api/tokens", list_tokens, name="api_tokens")
    r.add_post("/api/tokens", create_token)
    r.add_delete("/api/tokens/{token_id}", revoke_token)
