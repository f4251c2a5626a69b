"""What every portal view needs: rendering with the user's context, form parsing."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from ocpp_core.central_system import ChargePointStatus
from ocpp_core.services.transactions import LiveSession
from webapp.auth import csrf_token, current_user
from webapp.keys import CENTRAL_SYSTEM, SERVICES
from webapp.presentation import overall_status, path_url


@dataclass(frozen=True)
class Message:
    text: str
    tone: str = "ok"  # "ok" | "error"


@dataclass(frozen=True)
class Row:
    """A charge point as the portal shows it: stored state, connection, open sessions."""

    status: ChargePointStatus
    overall: str
    sessions: tuple[LiveSession, ...]


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


async def audit(request: web.Request, action: str, target: str, detail: str | None = None) -> None:
    """Record a change made by the current user in the audit log."""
    user = await current_user(request)
    await request.app[SERVICES].audit.record(
        user.username if user else None, action, target, detail
    )


def is_htmx(request: web.Request) -> bool:
    return request.headers.get("HX-Request") == "true"


def text_field(form: Any, name: str, max_length: int | None = None) -> str:
    value = form.get(name, "")
    value = value.strip() if isinstance(value, str) else ""
    return value[:max_length] if max_length else value


def redirect(request: web.Request, name: str, **parts: str) -> web.HTTPSeeOther:
    return web.HTTPSeeOther(path_url(request.app.router, name, **parts))


async def rows(app: web.Application, charge_point_id: str | None = None) -> list[Row]:
    """Dashboard rows: all charge points, or just one (NotFound if unknown)."""
    central = app[CENTRAL_SYSTEM]
    statuses = await central.get_charge_point_status(charge_point_id)
    if isinstance(statuses, ChargePointStatus):
        statuses = [statuses]
    live = await app[SERVICES].transactions.live(
        [charge_point_id] if charge_point_id is not None else None
    )
    by_cp: dict[str, list[LiveSession]] = {}
    for session in live:
        by_cp.setdefault(session.transaction.charge_point_id, []).append(session)
    return [Row(s, overall_status(s), tuple(by_cp.get(s.charge_point.id, ()))) for s in statuses]


def counters(all_rows: list[Row]) -> dict[str, int]:
    return {
        "connected": sum(r.status.connected for r in all_rows),
        "charging": sum(r.overall == "Charging" for r in all_rows),
        "faulted": sum(
            r.status.connected
            and any(c.status == "Faulted" for c in r.status.charge_point.connectors)
            for r in all_rows
        ),
        "total": len(all_rows),
    }
