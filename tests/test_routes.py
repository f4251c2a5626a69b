"""Routes by name: every route of the app has one, the pages are the one table in
webapp/routes.py, and templates and scripts build addresses from names (`url(...)`,
`static(...)`), never by writing a path or patching one."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ocpp_core.settings import Settings
from webapp.app import create_app
from webapp.routes import ROUTES, STATIC_ROUTE

ROOT = Path(__file__).resolve().parent.parent
APP = create_app(Settings(database_url="sqlite+aiosqlite://", secret_key="routes-only"))
TEMPLATES = sorted((ROOT / "templates").glob("*.html"))
SCRIPTS = sorted((ROOT / "static").glob("*.js"))  # the portal's own; vendor/ is a CDN copy

# An attribute that takes an address, given one that starts with "/": a path written out.
WRITTEN_PATH = re.compile(
    r"""\b(href|src|action|formaction|hx-(?:get|post|put|patch|delete)|sse-connect|"""
    r"""data-[\w-]+)\s*=\s*["']\s*/[^"']*["']?""",
    re.IGNORECASE,
)
# `{{ url('x') | replace('ID', ...) }}`, `url(...).replace(...)`: an address patched as text.
PATCHED_URL = re.compile(r"\burl\(\s*'[^']+'(?:[^()]|\([^()]*\))*\)\s*(?:\|\s*replace|\.replace)\b")
# A quoted string starting with "/" in a script, or a placeholder replaced in one.
SCRIPT_PATH = re.compile(r"""["'`]/""")
SCRIPT_PLACEHOLDER = re.compile(r"""\.replace(?:All)?\(\s*["'`][A-Z][A-Z0-9_]{2,}["'`]""")
# `url('name', part=..., query_=...)` in a template.
URL_CALL = re.compile(r"\burl\(\s*'([^']+)'((?:[^()]|\([^()]*\))*)\)")


def written_paths(text: str) -> list[str]:
    return [match.group(0) for match in WRITTEN_PATH.finditer(text)]


def test_every_route_has_a_name() -> None:
    unnamed = [
        (route.method, route.resource.canonical if route.resource else None)
        for route in APP.router.routes()
        if route.name is None
    ]
    assert unnamed == []


def test_every_route_but_the_apis_is_in_the_table() -> None:
    served = {
        (route.method, route.resource.canonical)
        for route in APP.router.routes()
        if route.resource is not None
        and not route.resource.canonical.startswith("/api/")
        and route.name != STATIC_ROUTE
        and route.method != "HEAD"
    }
    assert served == {(route.method, route.path) for route in ROUTES}
    assert {route.name for route in ROUTES} <= set(APP.router.named_resources())
    assert len({route.name for route in ROUTES}) == len(ROUTES), "names are unique"


def test_the_checks_below_find_what_they_look_for() -> None:
    """The scans catch a written path and a patched address (and let names through)."""
    assert written_paths('<a href="/id-tags">') == ['href="/id-tags"']
    assert written_paths("<form hx-post='/charge-points/CP1/accept'>")
    assert written_paths('<div data-url="/charge-points/OPERATION">')
    assert (
        written_paths("<a href=\"{{ url('id_tags') }}\"><img src=\"{{ static('x.png') }}\">") == []
    )
    assert PATCHED_URL.search("{{ url('cp_operation', operation='OPERATION') | replace('X', y) }}")
    assert PATCHED_URL.search("{{ url('cp_log', charge_point_id='ID').replace('ID', cp) }}")
    assert PATCHED_URL.search("{{ url('dashboard', query_={'q': 'Q'}) | replace('Q', q) }}")
    assert not PATCHED_URL.search("{{ url('dashboard') }} {{ flag.replace('_', ' ') }}")
    assert SCRIPT_PATH.search('fetch("/api/charge-points")')
    assert SCRIPT_PLACEHOLDER.search("form.dataset.url.replace('OPERATION', name)")


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda path: path.name)
def test_templates_write_no_path(template: Path) -> None:
    text = template.read_text()
    assert written_paths(text) == [], "build it with url(name, ...) or static(file)"
    assert PATCHED_URL.findall(text) == [], "a pattern for a script: url(...) in a data-*"


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda path: path.name)
def test_templates_name_routes_that_exist_with_their_parts(template: Path) -> None:
    for name, arguments in URL_CALL.findall(template.read_text()):
        assert name in APP.router.named_resources(), f"no route named {name!r}"
        resource = APP.router[name]
        parts = set(re.findall(r"\{(\w+)\}", resource.canonical))
        given = set(re.findall(r"\b(\w+)\s*=(?!=)", arguments)) - {"query_"}
        assert given == parts, (name, resource.canonical, arguments)


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda path: path.name)
def test_scripts_write_no_path(script: Path) -> None:
    text = script.read_text()
    assert SCRIPT_PATH.findall(text) == [], "read the address from a data-* attribute"
    assert SCRIPT_PLACEHOLDER.findall(text) == []
