"""The API's OpenAPI document: a valid OpenAPI 3.1 document, describing exactly the API
routes the server has, each operation's body the OCPP schema its request is checked
against; served at /api/openapi.json, browsable at /api/docs; and the README's API section
names exactly the paths it has. (tests/test_openapi_fuzz.py holds the server to it.)"""

from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path

import pytest
from openapi_spec_validator import validate

from ocpp_core.central_system import CATALOGUES
from ocpp_core.dialects import DIALECTS
from ocpp_core.payload_keys import camel_keys
from ocpp_core.settings import Settings
from tests.helpers import ADMIN, OPERATOR, VIEWER
from webapp.app import create_app
from webapp.keys import API_DOCUMENT
from webapp.openapi import described_paths

ROOT = Path(__file__).resolve().parent.parent
APP = create_app(Settings(database_url="sqlite+aiosqlite://", secret_key="document-only"))
DOCUMENT = APP[API_DOCUMENT]


def test_the_document_is_valid_openapi_3_1() -> None:
    validate(DOCUMENT)
    assert DOCUMENT["openapi"].startswith("3.1")
    schemes = DOCUMENT["components"]["securitySchemes"]
    assert {(s["type"], s["scheme"]) for s in schemes.values()} == {
        ("http", "basic"),
        ("http", "bearer"),
    }


def test_it_describes_every_api_route_and_no_other() -> None:
    routes = {
        (route.method, route.resource.canonical)
        for route in APP.router.routes()
        if route.resource is not None
        and route.resource.canonical.startswith("/api/")
        and route.method != "HEAD"
    }
    assert routes == described_paths(DOCUMENT)


def test_an_operation_is_a_route_of_each_name_either_version_has() -> None:
    names = {name for catalogue in CATALOGUES.values() for name in catalogue}
    posted = {path.rsplit("/", 1)[1] for method, path in described_paths(DOCUMENT)
              if method == "POST" and path.startswith("/api/charge-points/")}  # fmt: skip
    assert names | {"remote-start", "remote-stop"} == posted


def _component(reference: dict) -> dict:
    return DOCUMENT["components"]["schemas"][reference["$ref"].rsplit("/", 1)[1]]


@pytest.mark.parametrize(
    ("version", "name"),
    [(version, name) for version, catalogue in CATALOGUES.items() for name in catalogue],
)
def test_an_operations_body_is_its_ocpp_schema_in_snake_case(version: str, name: str) -> None:
    """Property names, required ones and the types of each, as the package's schema has
    them once `camel_keys` (what the server does to a body) has turned them back."""
    entry = CATALOGUES[version][name]
    dialect = DIALECTS[version]
    package = json.loads(
        resources.files(dialect.schemas)
        .joinpath(f"{dialect.request_schema(entry.action)}.json")
        .read_text()
    )
    body = DOCUMENT["paths"][f"/api/charge-points/{{charge_point_id}}/{name}"]["post"]
    schema = body["requestBody"]["content"]["application/json"]["schema"]
    alternatives = schema.get("anyOf", [schema])
    [described] = [
        s if "$ref" not in s else _component(s)
        for s in alternatives
        if f"OCPP {version} " in (s if "$ref" not in s else _component(s))["description"]
    ]
    properties = camel_keys(dict.fromkeys(described["properties"]))
    assert list(properties) == list(package["properties"])
    required = set(camel_keys(dict.fromkeys(described.get("required", []))))
    fills = set(camel_keys(dict.fromkeys(entry.fills)))
    assert required == set(package.get("required", [])) - fills
    for key, value in package["properties"].items():
        mine = described["properties"][
            next(k for k in described["properties"] if camel_keys({k: 0}) == {key: 0})
        ]
        assert mine.get("type") == value.get("type"), key


def test_the_readme_names_every_documented_path_and_no_other() -> None:
    """Every method and path of the README's JSON API section is in the document, and
    every one of the document in the README: the operations by their names in the
    `{operation}` row."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("\n## JSON API\n", 1)[1].split("\n## ", 1)[0]
    # Line by line: a table cell's nested code spans leave a line's backticks unpaired.
    spans = [span for line in section.splitlines() for span in re.findall(r"`([^`]+)`", line)]
    mentioned = {
        (method, _generic(path))
        for span in spans
        for method, path in re.findall(r"\b(GET|POST|PUT|PATCH|DELETE) (/api/[^\s`?]*)", span)
    }
    row = next(line for line in section.splitlines() if "/{operation}` |" in line)
    named = {name for name in re.findall(r"`([a-z]+(?:-[a-z]+)+|reset)`", row)}
    mentioned.discard(("POST", "/api/charge-points/{}/{}"))
    mentioned |= {("POST", f"/api/charge-points/{{}}/{name}") for name in named}
    documented = {(method, _generic(path)) for method, path in described_paths(DOCUMENT)}
    assert sorted(documented - mentioned) == [], "documented, not in the README"
    assert sorted(mentioned - documented) == [], "in the README, not documented"


def _generic(path: str) -> str:
    return re.sub(r"\{[^}]*\}", "{}", path)


async def test_the_document_and_the_page_are_served(client) -> None:
    response = await client.get("/api/openapi.json", headers=VIEWER)
    assert response.status == 200 and await response.json() == client.app[API_DOCUMENT]
    assert (await client.get("/api/openapi.json")).status == 401

    page = await client.get("/api/docs", headers=VIEWER)
    assert page.status == 200 and page.content_type == "text/html"
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    html = await page.text()
    assert "<script>" not in html and " style=" not in html  # the CSP runs neither
    for local in re.findall(r'(?:src|href)="(/static/[^"]+)"', html):
        asset = await client.get(local)
        assert asset.status == 200, local
    vendored = re.search(r"/static/vendor/([^/]+)/", html)[1]
    assert (ROOT / "static" / "vendor" / vendored / "LICENSE").exists()


async def test_a_method_a_path_lacks_is_a_405_that_says_what_it_allows(client) -> None:
    """Found by the fuzz test: the JSON 405 dropped aiohttp's `Allow` header."""
    response = await client.request("PATCH", "/api/id-tags", headers=ADMIN)
    assert response.status == 405
    assert set(response.headers["Allow"].split(",")) == {"GET", "HEAD", "POST"}
    assert (await response.json())["error"]


async def test_an_unknown_operation_is_a_404_naming_it(client) -> None:
    response = await client.post("/api/charge-points/CP1/fly", json={}, headers=OPERATOR)
    assert response.status == 404
    assert (await response.json())["error"] == "unknown operation 'fly'"
    # A path that is no operation's keeps the methods it has.
    response = await client.post("/api/charge-points/CP1/status-history", json={}, headers=ADMIN)
    assert response.status == 405


async def test_a_token_name_is_refused_only_for_what_the_document_says(client) -> None:
    """Found by the fuzz test: a name the document allowed (a no-break space in it) was a
    400; the rule is now the document's pattern: no control character, not only blanks."""
    for name, status in [
        ("grafana\u00a0prod", 201),
        ("  padded  ", 201),
        ("bell\u0007", 400),
        ("next\u0085line", 400),
        ("   ", 400),
    ]:
        response = await client.post("/api/tokens", json={"name": name}, headers=ADMIN)
        assert response.status == status, (name, await response.text())
        if status == 201:
            assert (await response.json())["name"] == name.strip()
