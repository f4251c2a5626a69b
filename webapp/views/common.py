"""What every portal view needs: rendering with the user's context, form parsing."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from ocpp_core.central_system import LiveChargePoint
from ocpp_core.charge_point_state import OFFLINE, STATUSES
from ocpp_core.errors import NotFound
from ocpp_core.fleet_index import FleetIndex, FleetQuery
from ocpp_core.services.transaction_queries import LiveSession
from webapp.api import ocpp_version_of
from webapp.auth import csrf_token, current_user
from webapp.keys import CENTRAL_SYSTEM, SERVICES
from webapp.presentation import path_url
from webapp.views.evses import Evse, evses_of

# The states the counters show even at zero: what an operator looks for first.
ALWAYS_COUNTED = frozenset({"Available", "Charging", "Faulted", "Unavailable", OFFLINE})


@dataclass(frozen=True)
class Message:
    text: str
    tone: str = "ok"  # "ok" | "error"


@dataclass(frozen=True)
class FleetRow:
    """A charge point as the portal shows it: stored state, connection, open sessions."""

    status: LiveChargePoint
    overall: str
    sessions: tuple[LiveSession, ...]
    version: str = "1.6"  # the OCPP version it speaks (or last spoke)

    @property
    def evses(self) -> list[Evse]:
        """A 2.0.1 station's connectors by EVSE (none for 1.6)."""
        return evses_of(self.status.charge_point.connectors)


async def _with_user(request: web.Request, context: dict[str, Any]) -> dict[str, Any]:
    """What every template may use: who is logged in, the session's CSRF token, and `url`,
    which stands in for aiohttp_jinja2's: it encodes a `/` in an id (path_url)."""
    return {
        "user": await current_user(request),
        "csrf": await csrf_token(request),
        "url": functools.partial(path_url, request.app.router),
        **context,
    }


async def render(
    request: web.Request, template: str, context: dict[str, Any], status: int = 200
) -> web.Response:
    context = await _with_user(request, context)
    return aiohttp_jinja2.render_template(template, request, context, status=status)


async def render_with_message(
    request: web.Request,
    template: str,
    context: dict[str, Any],
    message: Message | None = None,
    form: dict[str, Any] | None = None,
    status: int = 200,
) -> web.Response:
    """A management page with the outcome of the last form post and what was typed."""
    return await render(
        request, template, {**context, "message": message, "form": form or {}}, status
    )


async def render_partial(request: web.Request, template: str, context: dict[str, Any]) -> str:
    return aiohttp_jinja2.render_string(template, request, await _with_user(request, context))


def is_htmx(request: web.Request) -> bool:
    return request.headers.get("HX-Request") == "true"


def text_field(form: Any, name: str, max_length: int | None = None) -> str:
    value = form.get(name, "")
    value = value.strip() if isinstance(value, str) else ""
    return value[:max_length] if max_length else value


def submitted(form: Any) -> dict[str, str]:
    """A posted form's fields as the catalogue reads them: each one's text, stripped."""
    return {name: text_field(form, name) for name in form}


def redirect(request: web.Request, name: str, **parts: str) -> web.HTTPSeeOther:
    return web.HTTPSeeOther(path_url(request.app.router, name, query_=None, **parts))


def done(
    request: web.Request,
    name: str,
    outcome: str,
    told: Mapping[str, str] | None = None,
    fragment: str = "",
    **parts: str,
) -> web.HTTPSeeOther:
    """Post/Redirect/Get: a form post that succeeded answers 303 to the page of route
    `name`, the outcome in its address (`?done=added&id_tag=ABC`), which that page tells
    (`outcome_message`). Reloading it shows the outcome again and posts nothing."""
    url = path_url(request.app.router, name, query_={"done": outcome, **(told or {})}, **parts)
    return web.HTTPSeeOther(url.with_fragment(fragment or None))


def outcome_message(request: web.Request, outcomes: Mapping[str, str]) -> Message | None:
    """The message of the outcome a redirect after a form post names (`done`), in the
    page's own words: `outcomes` maps each outcome to its text, whose `{fields}` are
    the address's other query parameters. An outcome not known, or without its fields,
    says nothing: the address names what happened, never the text shown."""
    text = outcomes.get(request.query.get("done", ""))
    if text is None:
        return None
    try:
        return Message(text.format_map(request.query))
    except KeyError:
        return None


async def rows(app: web.Application, charge_point_id: str) -> list[FleetRow]:
    """One charge point's row, as a list of one (NotFound if unknown)."""
    status = await app[CENTRAL_SYSTEM].live_charge_point(charge_point_id)
    assert isinstance(status, LiveChargePoint)
    return await rows_of(app, [status])


async def rows_of(app: web.Application, statuses: Sequence[LiveChargePoint]) -> list[FleetRow]:
    """Rows of these charge points, with their open sessions (read for them alone)."""
    if not statuses:
        return []
    live = await app[SERVICES].transaction_queries.live([s.charge_point.id for s in statuses])
    by_cp: dict[str, list[LiveSession]] = {}
    for session in live:
        by_cp.setdefault(session.transaction.charge_point_id, []).append(session)
    return [_row(s, tuple(by_cp.get(s.charge_point.id, ()))) for s in statuses]


def _row(status: LiveChargePoint, sessions: tuple[LiveSession, ...]) -> FleetRow:
    # The one-word status is ocpp_core's rule (charge_point_state), as the API's.
    return FleetRow(status, status.status, sessions, status.ocpp_version)


async def version_spoken(request: web.Request, charge_point_id: str) -> str:
    """The version an operation for the charge point is sent in (api.ocpp_version_of);
    404 for one not registered."""
    try:
        return await ocpp_version_of(request, charge_point_id)
    except NotFound as error:
        raise web.HTTPNotFound(text=f"{error}\n") from None


def counters_context(index: FleetIndex, query: FleetQuery) -> dict[str, Any]:
    """The dashboard's counters, which are its status filters: every state's count (Offline
    is a state of its own: an offline charger counts there, whatever its connectors last
    said), the states a fleet always shows first, and the one the view filters on."""
    counts = index.counts()
    total = index.total()
    statuses = [s for s in STATUSES if s in ALWAYS_COUNTED or counts.get(s) or s == query.status]
    return {
        "counts": counts,
        "statuses": statuses,
        "total": total,
        "connected": total - counts.get(OFFLINE, 0),
        "active": query.status,
    }
