"""`/api/tokens`: an account's API tokens (an admin's: everyone's).

A token cannot make tokens: one that leaked must not be able to outlive its revocation
by minting others. Making one takes a password (HTTP Basic) or the portal's session.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ocpp_core.errors import NotFound
from ocpp_core.services.api_tokens import TokenView
from ocpp_core.services.users import UserView
from webapp import api_objects
from webapp.api_json import error_response, json_response
from webapp.api_objects import array
from webapp.auth import via_token
from webapp.endpoints import Answer, Body, Call, Endpoint, Parameter
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


async def list_tokens(request: web.Request, call: Call) -> web.Response:
    owner = None if call.user.may("admin") else call.user.id
    tokens = await request.app[SERVICES].api_tokens.list(owner)
    return json_response([token_json(t) for t in tokens])


async def create_token(request: web.Request, call: Call) -> web.Response:
    if via_token(request):
        return error_response(403, "an API token cannot create tokens: use a password")
    name, role = call.body["name"], call.body.get("role")
    created = await request.app[SERVICES].api_tokens.create(
        call.user.id, name, role, actor=call.user.username
    )
    return json_response({**token_json(created.token), "token": created.secret}, status=201)


async def revoke_token(request: web.Request, call: Call) -> web.Response:
    try:
        token_id = path_int(request, "token_id")
    except ValueError:
        raise NotFound(f"token {request.match_info['token_id']} does not exist") from None
    await visible_token(request, call.user, token_id)
    await request.app[SERVICES].api_tokens.revoke(token_id, actor=call.user.username)
    return web.Response(status=204)


ENDPOINTS = [
    Endpoint(
        "GET",
        "/api/tokens",
        list_tokens,
        "viewer",
        "Your API tokens (an admin: everyone's), newest first; never a secret",
        Answer(200, "the tokens", array(api_objects.TOKEN)),
        tag="tokens",
    ),
    Endpoint(
        "POST",
        "/api/tokens",
        create_token,
        "viewer",
        "Create an API token of yours",
        Answer(201, "the token with its secret, shown this once", api_objects.NEW_TOKEN),
        body=Body(api_objects.TOKEN_BODY),
        description="Not with an API token (403): with a password or the portal's session. "
        "A role above yours is a 400.",
        tag="tokens",
        basic_only=True,
    ),
    Endpoint(
        "DELETE",
        "/api/tokens/{token_id}",
        revoke_token,
        "viewer",
        "Revoke a token (yours; an admin: anyone's; another's is a 404)",
        Answer(204, "revoked"),
        path_parameters=(Parameter("token_id", {"type": "integer"}, "the token's id", "path"),),
        tag="tokens",
    ),
]
