"""API tokens over real HTTP: made through the API, the portal and the CLI, shown once,
used as `Authorization: Bearer`, held to the owner's role, revoked, throttled when bad;
HTTP Basic keeps working beside them."""

from __future__ import annotations

import re

import pytest
from aiohttp import encode_basic_auth

from ocpp_core.settings import Settings
from tests.helpers import ACCOUNTS, ADMIN, API_TOKEN, OPERATOR, VIEWER, bearer
from tests.server_process import run_cli
from webapp.app import create_app
from webapp.keys import LOGIN_THROTTLE, SERVICES


async def _create(client, auth: dict[str, str], **body) -> dict:
    response = await client.post("/api/tokens", json=body, headers=auth)
    assert response.status == 201, await response.text()
    return await response.json()


async def _user_id(client, name: str) -> int:
    return next(u.id for u in await client.app[SERVICES].users.list() if u.username == name)


async def _audit(client) -> list[tuple[str, str, str]]:
    return [(e.actor, e.action, e.target) for e in await client.app[SERVICES].audit.recent()]


async def test_create_use_list_and_revoke_through_the_api(client) -> None:
    made = await _create(client, OPERATOR, name="nightly export")
    secret = made["token"]
    assert API_TOKEN.fullmatch(secret)
    assert made["role"] == made["effective_role"] == "operator"
    assert made["user"] == "oper" and made["prefix"] == secret[:12]
    assert made["last_used_at"] is None and made["revoked_at"] is None

    # The list shows it, and never its secret again.
    response = await client.get("/api/tokens", headers=OPERATOR)
    assert response.status == 200
    assert secret not in await response.text()
    [listed] = await response.json()
    assert listed["id"] == made["id"] and listed["name"] == "nightly export"
    assert "token" not in listed and listed["last_used_at"] is None

    # Used as a bearer token, with no CSRF token: it acts as its owner.
    assert (await client.get("/api/charge-points", headers=bearer(secret))).status == 200
    response = await client.post("/api/id-tags", json={"id_tag": "BYTOKEN"}, headers=bearer(secret))
    assert response.status == 201
    [listed] = await (await client.get("/api/tokens", headers=bearer(secret))).json()
    assert listed["last_used_at"] is not None
    assert ("oper", "add id tag", "BYTOKEN") in await _audit(client)

    response = await client.delete(f"/api/tokens/{made['id']}", headers=OPERATOR)
    assert response.status == 204
    response = await client.get("/api/charge-points", headers=bearer(secret))
    assert response.status == 401
    assert (await response.json()) == {"error": "API token revoked"}
    assert response.headers["WWW-Authenticate"].startswith('Bearer realm="Voltaro"')
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
    [listed] = await (await client.get("/api/tokens", headers=OPERATOR)).json()
    assert listed["revoked_at"] is not None

    # Revoking again changes nothing and records nothing more.
    assert (await client.delete(f"/api/tokens/{made['id']}", headers=OPERATOR)).status == 204
    audit = await _audit(client)
    described = f"token {made['id']} 'nightly export' ({secret[:12]}...) of oper"
    assert ("oper", "create API token", described) in audit
    assert audit.count(("oper", "revoke API token", described)) == 1
    assert not any(secret in target for _, _, target in audit)


async def test_a_token_never_exceeds_its_owners_role(client) -> None:
    viewer_token = (await _create(client, VIEWER, name="dash"))["token"]
    assert (await client.get("/api/id-tags", headers=bearer(viewer_token))).status == 200
    response = await client.post(
        "/api/id-tags", json={"id_tag": "NOPE"}, headers=bearer(viewer_token)
    )
    assert response.status == 403
    assert (await response.json())["error"] == "role viewer may not do this"

    # An operator's token made with a lower role is held to it.
    lowered = await _create(client, OPERATOR, name="read only", role="viewer")
    assert lowered["role"] == "viewer"
    response = await client.post(
        "/api/id-tags", json={"id_tag": "NOPE"}, headers=bearer(lowered["token"])
    )
    assert response.status == 403

    # Above one's own role, or no role at all: 400 with the reason.
    response = await client.post(
        "/api/tokens", json={"name": "x", "role": "admin"}, headers=OPERATOR
    )
    assert response.status == 400
    assert "above the account's role operator" in (await response.json())["error"]
    response = await client.post(
        "/api/tokens", json={"name": "x", "role": "operator"}, headers=VIEWER
    )
    assert response.status == 400
    assert "above the account's role viewer" in (await response.json())["error"]
    for body, reason in [
        ({"name": "x", "role": "root"}, "role must be one of"),
        ({}, "missing field(s): name"),
        ({"name": "  "}, "1 to 64 characters"),
        ({"name": "x" * 65}, "1 to 64 characters"),
        ({"name": 5}, "name must be a string"),
        ({"name": "x", "scope": "all"}, "unknown field(s): scope"),
    ]:
        response = await client.post("/api/tokens", json=body, headers=OPERATOR)
        assert response.status == 400, body
        assert reason in (await response.json())["error"]
    # Nothing was made by the refused requests.
    names = {t.name for t in await client.app[SERVICES].api_tokens.list()}
    assert names == {"dash", "read only"}


async def test_a_token_cannot_make_tokens(client) -> None:
    secret = (await _create(client, ADMIN, name="automation"))["token"]
    response = await client.post("/api/tokens", json={"name": "more"}, headers=bearer(secret))
    assert response.status == 403
    assert "cannot create tokens" in (await response.json())["error"]
    # It may see and revoke tokens, its own included.
    [mine] = await (await client.get("/api/tokens", headers=bearer(secret))).json()
    assert (await client.delete(f"/api/tokens/{mine['id']}", headers=bearer(secret))).status == 204
    assert (await client.get("/api/tokens", headers=bearer(secret))).status == 401


async def test_demoting_the_owner_demotes_the_token_and_removing_ends_it(client) -> None:
    made = await _create(client, OPERATOR, name="ops script")
    token = bearer(made["token"])
    users = client.app[SERVICES].users
    oper = await _user_id(client, "oper")
    response = await client.post("/api/id-tags", json={"id_tag": "A"}, headers=token)
    assert response.status == 201

    await users.set_role(oper, "viewer")
    response = await client.post("/api/id-tags", json={"id_tag": "B"}, headers=token)
    assert response.status == 403
    assert (await client.get("/api/id-tags", headers=token)).status == 200
    [listed] = await (await client.get("/api/tokens", headers=ADMIN)).json()
    assert listed["role"] == "operator" and listed["effective_role"] == "viewer"
    # Promoted again, the token has what it was granted, never more.
    await users.set_role(oper, "admin")
    [listed] = await (await client.get("/api/tokens", headers=ADMIN)).json()
    assert listed["effective_role"] == "operator"
    response = await client.delete("/api/charge-points/CPX", headers=token)
    assert response.status == 403

    await users.delete(oper)
    response = await client.get("/api/id-tags", headers=token)
    assert response.status == 401
    assert (await response.json())["error"] == "unknown API token"
    assert await client.app[SERVICES].api_tokens.list() == []


async def test_each_account_sees_its_own_tokens_and_an_admin_all(client) -> None:
    theirs = await _create(client, OPERATOR, name="operator's")
    mine = await _create(client, VIEWER, name="viewer's")
    [seen] = await (await client.get("/api/tokens", headers=VIEWER)).json()
    assert seen["id"] == mine["id"]
    response = await client.delete(f"/api/tokens/{theirs['id']}", headers=VIEWER)
    assert response.status == 404
    assert (await response.json())["error"] == f"token {theirs['id']} does not exist"
    assert (await client.delete("/api/tokens/999999", headers=VIEWER)).status == 404
    assert (await client.delete("/api/tokens/x", headers=VIEWER)).status == 404
    assert (await client.get("/api/tokens")).status == 401

    every = await (await client.get("/api/tokens", headers=ADMIN)).json()
    assert {t["user"] for t in every} == {"oper", "view"}
    assert (await client.delete(f"/api/tokens/{theirs['id']}", headers=ADMIN)).status == 204
    assert ("admin", "revoke API token") in [(a, b) for a, b, _ in await _audit(client)]
    response = await client.get("/api/charge-points", headers=bearer(theirs["token"]))
    assert response.status == 401


async def test_bad_tokens_are_refused_with_their_reason(client) -> None:
    good = (await _create(client, OPERATOR, name="real"))["token"]
    forged = good[:12] + ("A" if good[12] != "A" else "B") + good[13:]  # same prefix
    for token, reason in [
        ("not-a-token", "malformed API token"),
        (good + "x", "malformed API token"),
        (forged, "unknown API token"),
        ("vlt_" + "a" * 43, "unknown API token"),
    ]:
        response = await client.get("/api/charge-points", headers=bearer(token))
        assert response.status == 401, token
        assert (await response.json()) == {"error": reason}
        assert f'error_description="{reason}"' in response.headers["WWW-Authenticate"]
    # A portal page says so too (no redirect to a login the script cannot use).
    response = await client.get("/", headers=bearer(forged), allow_redirects=False)
    assert response.status == 401 and "unknown API token" in await response.text()
    # Without any credentials the API names both ways in.
    response = await client.get("/api/charge-points")
    assert response.status == 401
    assert response.headers.getall("WWW-Authenticate") == [
        'Basic realm="Voltaro"',
        'Bearer realm="Voltaro"',
    ]


async def test_last_used_is_written_at_most_once_a_minute(client) -> None:
    tokens = client.app[SERVICES].api_tokens
    now = [5000.0]
    tokens.clock = lambda: now[0]
    made = await _create(client, OPERATOR, name="poller")
    for _ in range(3):
        assert (await client.get("/api/id-tags", headers=bearer(made["token"]))).status == 200
    [first] = await tokens.list()
    assert first.last_used_at is not None
    now[0] += 30
    assert (await client.get("/api/id-tags", headers=bearer(made["token"]))).status == 200
    [same] = await tokens.list()
    assert same.last_used_at == first.last_used_at  # no write within the minute
    now[0] += 31
    assert (await client.get("/api/id-tags", headers=bearer(made["token"]))).status == 200
    [later] = await tokens.list()
    assert later.last_used_at > first.last_used_at


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # As on a PaaS: the router is the peer, the client is in X-Forwarded-For.
    return Settings(**{**settings.__dict__, "forwarded_allow_ips": ("127.0.0.1",)})


async def test_bad_tokens_count_against_the_address_like_failed_logins(client) -> None:
    clock = Clock()
    client.app[LOGIN_THROTTLE].clock = clock
    working = (await _create(client, OPERATOR, name="working"))["token"]
    fresh = (await _create(client, OPERATOR, name="fresh"))["token"]
    guesser = {"X-Forwarded-For": "203.0.113.9"}

    async def status(token: str, address: dict[str, str] = guesser) -> int:
        return (await client.get("/api/id-tags", headers=bearer(token, **address))).status

    assert await status(working) == 200  # a script behind the same router, verified
    for n in range(5):
        assert await status(f"vlt_{n:043d}") == 401
    # Held back: no token from that address is even checked...
    assert await status("vlt_" + "z" * 43) == 429
    response = await client.get("/api/id-tags", headers=bearer(fresh, **guesser))
    assert response.status == 429 and response.headers["Retry-After"] == "1"
    assert "too many bad API tokens" in (await response.json())["error"]
    # ...but one verified within the minute keeps working, other addresses are not held
    # back, and the accounts' passwords are counted apart.
    assert await status(working) == 200
    assert await status("vlt_" + "x" * 43, {"X-Forwarded-For": "198.51.100.4"}) == 401
    login, password = ACCOUNTS["operator"]
    headers = {"Authorization": encode_basic_auth(login, password), **guesser}
    assert (await client.get("/api/id-tags", headers=headers)).status == 200
    # The wait doubles as for logins; waited out, the token is checked again.
    clock.now += 1.5
    assert await status("vlt_" + "y" * 43) == 401
    assert await status(fresh) == 429
    clock.now += 2.5
    assert await status(fresh) == 200


async def _form_secret(html: str) -> str:
    match = API_TOKEN.search(html)
    assert match, "no token on the page"
    return match.group(0)


async def test_portal_creates_shows_once_lists_and_revokes(client, portal) -> None:
    operator = await portal("operator")
    status, html = await operator.get("/tokens")
    assert status == 200 and "No token yet." in html and "API tokens" in html
    assert "<option selected>operator</option>" in html and "<option>admin</option>" not in html

    status, html = await operator.post("/tokens", {"name": "grafana", "role": "viewer"})
    assert status == 200
    secret = await _form_secret(html)
    assert "Copy it now: it is not shown again." in html
    assert 'data-copy="new-token"' in html and "Token grafana created with role viewer." in html

    status, html = await operator.get("/tokens")
    assert secret not in html and API_TOKEN.search(html) is None
    assert f"<code>{secret[:12]}…</code>" in html and "grafana" in html
    row = re.search(r'<tr id="token-(\d+)">(.*?)</tr>', html, re.S)
    assert row and ">never<" in row.group(2)  # last used
    token_id = row.group(1)

    assert (await client.get("/api/id-tags", headers=bearer(secret))).status == 200
    _, html = await operator.get("/tokens")
    row = re.search(r'<tr id="token-\d+">(.*?)</tr>', html, re.S)
    assert ">never<" not in row.group(1) and " UTC<" in row.group(1)

    # Bad input: a message on the page, nothing made.
    status, html = await operator.post("/tokens", {"name": "", "role": "viewer"})
    assert status == 400 and "1 to 64 characters" in html
    status, html = await operator.post("/tokens", {"name": "x", "role": "admin"})
    assert status == 400 and "above the account&#39;s role operator" in html
    assert len(await client.app[SERVICES].api_tokens.list()) == 1
    # Every form carries the CSRF token.
    status, _ = await operator.post("/tokens", {"name": "forged"}, csrf=False)
    assert status == 403
    status, _ = await operator.post(f"/tokens/{token_id}/revoke", csrf=False)
    assert status == 403

    # Revoked from the page (HTMX): the row answers in its new state.
    assert 'hx-confirm="Revoke token grafana?' in html
    status, row_html = await operator.post(
        f"/tokens/{token_id}/revoke", headers={"HX-Request": "true"}
    )
    assert status == 200 and row_html.lstrip().startswith(f'<tr id="token-{token_id}">')
    assert "revoked " in row_html and "Revoke</button>" not in row_html
    assert (await client.get("/api/id-tags", headers=bearer(secret))).status == 401
    actions = [(a, b) for a, b, _ in await _audit(client)]
    assert ("oper", "create API token") in actions and ("oper", "revoke API token") in actions

    # Another account's token is no one else's to revoke; an admin sees and revokes all.
    viewer = await portal("viewer")
    status, html = await viewer.get("/tokens")
    assert status == 200 and "grafana" not in html
    status, _ = await viewer.post(f"/tokens/{token_id}/revoke")
    assert status == 404
    admin = await portal("admin")
    _, html = await admin.get("/tokens")
    assert "grafana" in html and "<td>oper</td>" in html


async def test_token_commands_of_the_cli(database_url, aiohttp_client) -> None:
    code, out = await run_cli(database_url, "user", "add", "ci", "--password", "pw")
    assert code == 0, out
    code, out = await run_cli(
        database_url, "token", "create", "--user", "ci", "--name", "deploys", "--role", "viewer"
    )
    assert code == 0, out
    secret = out.splitlines()[0]
    assert API_TOKEN.fullmatch(secret)
    assert "not shown again" in out
    code, out = await run_cli(
        database_url, "token", "create", "--user", "ci", "--name", "x", "--role", "admin"
    )
    assert code == 2 and "above the account's role operator" in out
    code, out = await run_cli(database_url, "token", "create", "--user", "nobody", "--name", "x")
    assert code == 2 and "user nobody does not exist" in out

    app = create_app(Settings(database_url=database_url, secret_key="x"))
    client = await aiohttp_client(app)
    assert (await client.get("/api/id-tags", headers=bearer(secret))).status == 200
    response = await client.post("/api/id-tags", json={"id_tag": "T"}, headers=bearer(secret))
    assert response.status == 403  # a viewer's token
    basic = {"Authorization": encode_basic_auth("ci", "pw")}
    assert (await client.get("/api/id-tags", headers=basic)).status == 200

    code, out = await run_cli(database_url, "token", "list")
    assert code == 0, out
    assert secret not in out
    [header, line] = out.strip().splitlines()
    assert header.split("\t")[:5] == ["id", "user", "name", "prefix", "role"]
    token_id, user, name, prefix, role, _created, last_used, revoked = line.split("\t")
    assert (user, name, prefix, role) == ("ci", "deploys", secret[:12] + "...", "viewer")
    assert last_used != "never" and revoked == "-"

    code, out = await run_cli(database_url, "token", "revoke", token_id)
    assert code == 0 and f"token {token_id} 'deploys' of ci revoked" in out
    assert (await client.get("/api/id-tags", headers=bearer(secret))).status == 401
    code, out = await run_cli(database_url, "token", "revoke", "4242")
    assert code == 2 and "token 4242 does not exist" in out
    actions = [(e.actor, e.action) for e in await app[SERVICES].audit.recent()]
    assert ("cli", "create API token") in actions and ("cli", "revoke API token") in actions
